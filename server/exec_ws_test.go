package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"leci/api"
	"leci/pod"
	"leci/runtime"
)

// execEnv is a test server reachable over TCP, for the WebSockets (which
// need a real connection), with a clock the test moves.
type execEnv struct {
	*testEnv
	ts  *httptest.Server
	id  string
	mu  sync.Mutex
	now time.Time
}

func newExecEnv(t *testing.T) *execEnv {
	t.Helper()
	x := &execEnv{now: time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC)}
	x.testEnv = newTestEnv(t, func(o *Options) {
		o.Now = func() time.Time { x.mu.Lock(); defer x.mu.Unlock(); return x.now }
	})
	x.ts = httptest.NewServer(x.srv)
	t.Cleanup(x.ts.Close)
	x.id = x.create(t, webRequest("exec"))
	return x
}

func (x *execEnv) advance(d time.Duration) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.now = x.now.Add(d)
}

// session asks for an interactive session (through the unix socket, as
// the CLI does) and returns the answer.
func (x *execEnv) session(t *testing.T, kv ...string) api.ExecContainerCommandResponse {
	t.Helper()
	var resp api.ExecContainerCommandResponse
	x.call(t, action("ExecContainerCommand", append([]string{"ContainerGroupId", x.id, "Command", `["cat"]`}, kv...)...), &resp)
	return resp
}

// dial connects to a session's WebSocket on the test server.
func (x *execEnv) dial(ctx context.Context, wsURI string, protocols ...string) (*websocket.Conn, *http.Response, error) {
	u, err := url.Parse(wsURI)
	if err != nil {
		return nil, nil, err
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(x.ts.URL, "http")+u.Path, &websocket.DialOptions{Subprotocols: protocols})
}

func (x *execEnv) mustDial(t *testing.T, ctx context.Context, wsURI string, protocols ...string) *websocket.Conn {
	t.Helper()
	conn, _, err := x.dial(ctx, wsURI, protocols...)
	if err != nil {
		t.Fatalf("dial %s: %v", wsURI, err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return conn
}

// wantDialError checks that a WebSocket request is refused with an ECI
// error answer.
func (x *execEnv) wantDialError(t *testing.T, ctx context.Context, wsURI string, status int, code string) {
	t.Helper()
	conn, res, err := x.dial(ctx, wsURI, ExecProtocolV5)
	if err == nil {
		conn.CloseNow()
		t.Fatalf("dial %s succeeded, want %d %s", wsURI, status, code)
	}
	if res == nil {
		t.Fatalf("dial %s: %v, without an answer", wsURI, err)
	}
	body, _ := io.ReadAll(res.Body)
	checkError(t, res.StatusCode, body, status, code)
}

func sendOn(t *testing.T, ctx context.Context, conn *websocket.Conn, channel byte, payload string) {
	t.Helper()
	if err := conn.Write(ctx, websocket.MessageBinary, append([]byte{channel}, payload...)); err != nil {
		t.Fatalf("send on channel %d: %v", channel, err)
	}
}

// recv reads one message and returns its channel and payload.
func recv(t *testing.T, ctx context.Context, conn *websocket.Conn) (byte, string) {
	t.Helper()
	_, data, err := conn.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(data) == 0 {
		t.Fatal("an empty message")
	}
	return data[0], string(data[1:])
}

// readAll reads messages until the status, which must be the last one.
func readAll(t *testing.T, ctx context.Context, conn *websocket.Conn) (stdout, stderr string, st ExecStatus) {
	t.Helper()
	for {
		ch, payload := recv(t, ctx, conn)
		switch ch {
		case ExecChannelStdout:
			stdout += payload
		case ExecChannelStderr:
			stderr += payload
		case ExecChannelStatus:
			if err := json.Unmarshal([]byte(payload), &st); err != nil {
				t.Fatalf("status %q: %v", payload, err)
			}
			if _, _, err := conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
				t.Errorf("after the status: %v, want a normal close", err)
			}
			return stdout, stderr, st
		default:
			t.Fatalf("a message on channel %d: %q", ch, payload)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// A session runs its command once: stdin in (ended by v5's close), stdout
// and stderr apart, the exit code in the status; the token is then spent.
func TestExecSessionStreams(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.groups.attach = func(ctx context.Context, eio pod.ExecIO) (int, error) {
		if eio.TTY || eio.Resize != nil || eio.Stdin == nil || eio.Stderr == nil {
			return 0, fmt.Errorf("streams %+v, want stdin, stdout and stderr without a TTY", eio)
		}
		in, err := io.ReadAll(eio.Stdin)
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(eio.Stdout, "out:%s", in)
		fmt.Fprint(eio.Stderr, "err")
		return 7, nil
	}
	resp := x.session(t, "ContainerName", "side", "Command", `["sh","-c","cat; exit 7"]`, "TTY", "false", "Stdin", "true")
	if !strings.HasPrefix(resp.WebSocketURI, "ws://example.com"+ExecPathPrefix) || resp.HTTPURL != "" || resp.SyncResponse != "" || resp.RequestID == "" {
		t.Errorf("answer %+v, want a ws://HOST/exec/TOKEN URI only", resp)
	}
	if len(x.groups.attaches) != 0 {
		t.Fatal("the command ran before its WebSocket came")
	}

	conn := x.mustDial(t, ctx, resp.WebSocketURI, ExecProtocolV5, ExecProtocolV4)
	if conn.Subprotocol() != ExecProtocolV5 {
		t.Errorf("subprotocol %q, want %s", conn.Subprotocol(), ExecProtocolV5)
	}
	sendOn(t, ctx, conn, ExecChannelStdin, "hello")
	sendOn(t, ctx, conn, ExecChannelStdin, " world")
	sendOn(t, ctx, conn, ExecChannelClose, string([]byte{ExecChannelStdin}))
	stdout, stderr, st := readAll(t, ctx, conn)
	if stdout != "out:hello world" || stderr != "err" {
		t.Errorf("stdout %q, stderr %q; want out:hello world, err", stdout, stderr)
	}
	if code, ok := st.ExitCode(); !ok || code != 7 || st.Status != ExecStatusFailure || st.Reason != ExecReasonNonZeroExit {
		t.Errorf("status %+v (exit code %d, %v), want NonZeroExitCode 7", st, code, ok)
	}
	if got := x.groups.attaches; len(got) != 1 || got[0].id != x.id || got[0].container != "side" || strings.Join(got[0].cmd, " ") != "sh -c cat; exit 7" {
		t.Errorf("attaches %+v", got)
	}

	// A token works once.
	x.wantDialError(t, ctx, resp.WebSocketURI, http.StatusNotFound, CodeExecSessionNotFound)
	if len(x.groups.attaches) != 1 {
		t.Errorf("%d commands run, want 1", len(x.groups.attaches))
	}
}

// A session waits ExecSessionTTL for its WebSocket, not longer.
func TestExecSessionExpiry(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	late := x.session(t)
	x.advance(ExecSessionTTL - time.Second)
	inTime := x.session(t)
	x.advance(2 * time.Second)
	x.wantDialError(t, ctx, late.WebSocketURI, http.StatusNotFound, CodeExecSessionNotFound)
	_, _, st := readAll(t, ctx, x.mustDial(t, ctx, inTime.WebSocketURI, ExecProtocolV5))
	if st.Status != ExecStatusSuccess {
		t.Errorf("status %+v, want Success", st)
	}
	if len(x.srv.execs.pending) != 0 {
		t.Errorf("%d sessions left", len(x.srv.execs.pending))
	}
}

// Unknown tokens are 404; a request that is no WebSocket does not spend a
// token; other methods are refused.
func TestExecSessionRefusals(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.wantDialError(t, ctx, "ws://example.com"+ExecPathPrefix+"0123", http.StatusNotFound, CodeExecSessionNotFound)
	x.wantDialError(t, ctx, "ws://example.com"+ExecPathPrefix, http.StatusNotFound, CodeExecSessionNotFound)

	resp := x.session(t)
	path := strings.TrimPrefix(resp.WebSocketURI, "ws://example.com")
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		req, _ := http.NewRequestWithContext(ctx, method, x.ts.URL+path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		want, code := http.StatusBadRequest, api.CodeInvalidParameter
		if method == http.MethodPost {
			want, code = http.StatusMethodNotAllowed, "UnsupportedHTTPMethod"
		}
		checkError(t, res.StatusCode, body, want, code)
	}
	if _, _, st := readAll(t, ctx, x.mustDial(t, ctx, resp.WebSocketURI, ExecProtocolV5)); st.Status != ExecStatusSuccess {
		t.Errorf("status %+v after plain requests, want Success", st)
	}

	// The container must exist and run when the session is asked for.
	x.wantError(t, action("ExecContainerCommand", "ContainerGroupId", x.id, "ContainerName", "nope", "Command", `["ls"]`), http.StatusNotFound, CodeContainerNotFound)
	x.wantError(t, action("ExecContainerCommand", "ContainerGroupId", "eci-nothere", "Command", `["ls"]`), http.StatusNotFound, CodeGroupNotFound)
	x.groups.mutate(x.id, func(st *runtime.GroupStatus) { st.Containers[0].Current.State = api.StateTerminated })
	x.wantError(t, action("ExecContainerCommand", "ContainerGroupId", x.id, "Command", `["ls"]`), http.StatusBadRequest, "IncorrectStatus")
}

// With a TTY the first resize is the initial size and later ones follow;
// there is no stderr.
func TestExecSessionTTY(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.groups.attach = func(ctx context.Context, eio pod.ExecIO) (int, error) {
		if !eio.TTY || eio.Stderr != nil || eio.Resize == nil {
			return 0, fmt.Errorf("streams %+v, want a TTY without stderr", eio)
		}
		for range 2 {
			select {
			case size := <-eio.Resize:
				fmt.Fprintf(eio.Stdout, "%dx%d;", size.Width, size.Height)
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
		return 0, nil
	}
	resp := x.session(t, "TTY", "true", "Stdin", "true")
	conn := x.mustDial(t, ctx, resp.WebSocketURI, ExecProtocolV5)
	sendOn(t, ctx, conn, ExecChannelResize, `{"Width":80,"Height":24}`)
	if ch, out := recv(t, ctx, conn); ch != ExecChannelStdout || out != "80x24;" {
		t.Fatalf("channel %d %q, want the initial size 80x24 on stdout", ch, out)
	}
	sendOn(t, ctx, conn, ExecChannelResize, `{"Width":100,"Height":30}`)
	stdout, _, st := readAll(t, ctx, conn)
	if stdout != "100x30;" || st.Status != ExecStatusSuccess {
		t.Errorf("stdout %q, status %+v; want 100x30 and Success", stdout, st)
	}
}

// A TTY whose client types before it sizes starts without a size.
func TestExecSessionTTYInputFirst(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.groups.attach = func(ctx context.Context, eio pod.ExecIO) (int, error) {
		size := <-eio.Resize
		line := make([]byte, 3)
		if _, err := io.ReadFull(eio.Stdin, line); err != nil {
			return 0, err
		}
		fmt.Fprintf(eio.Stdout, "%dx%d %s", size.Width, size.Height, line)
		return 0, nil
	}
	conn := x.mustDial(t, ctx, x.session(t, "TTY", "true").WebSocketURI, ExecProtocolV5)
	sendOn(t, ctx, conn, ExecChannelStdin, "ls\n")
	if stdout, _, st := readAll(t, ctx, conn); stdout != "0x0 ls\n" || st.Status != ExecStatusSuccess {
		t.Errorf("stdout %q, status %+v; want a zero size, then the input", stdout, st)
	}
}

// Without Stdin the command reads nothing, and input is dropped; v4 and
// no subprotocol use the same framing.
func TestExecSessionNoStdinAndV4(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.groups.attach = func(ctx context.Context, eio pod.ExecIO) (int, error) {
		if eio.Stdin != nil {
			return 0, errors.New("a stdin without Stdin")
		}
		fmt.Fprint(eio.Stdout, "done")
		return 0, nil
	}
	for _, protocols := range [][]string{{ExecProtocolV4}, nil} {
		conn := x.mustDial(t, ctx, x.session(t, "Stdin", "false").WebSocketURI, protocols...)
		if want := strings.Join(protocols, ""); conn.Subprotocol() != want {
			t.Errorf("subprotocol %q, want %q", conn.Subprotocol(), want)
		}
		sendOn(t, ctx, conn, ExecChannelStdin, "ignored")
		if stdout, _, st := readAll(t, ctx, conn); stdout != "done" || st.Status != ExecStatusSuccess {
			t.Errorf("%v: stdout %q, status %+v", protocols, stdout, st)
		}
	}
}

// Errors of the engine end the session with a Failure status that names
// the ECI code.
func TestExecSessionEngineError(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	x.groups.attach = func(context.Context, pod.ExecIO) (int, error) {
		return 0, fmt.Errorf("%s/web: %w", x.id, runtime.ErrNotRunning)
	}
	_, _, st := readAll(t, ctx, x.mustDial(t, ctx, x.session(t).WebSocketURI, ExecProtocolV5))
	if _, ok := st.ExitCode(); ok || st.Status != ExecStatusFailure || st.Code != http.StatusBadRequest || !strings.HasPrefix(st.Message, "IncorrectStatus: ") {
		t.Errorf("status %+v, want a Failure with IncorrectStatus", st)
	}
}

// Closing the WebSocket before the command ends kills the command.
func TestExecSessionClientGone(t *testing.T) {
	x := newExecEnv(t)
	ctx := testCtx(t)
	started, ended := make(chan struct{}), make(chan error, 1)
	x.groups.attach = func(cctx context.Context, eio pod.ExecIO) (int, error) {
		close(started)
		select {
		case <-cctx.Done():
			ended <- cctx.Err()
		case <-ctx.Done():
			ended <- errors.New("the command was not stopped")
		}
		return 0, cctx.Err()
	}
	conn := x.mustDial(t, ctx, x.session(t).WebSocketURI, ExecProtocolV5)
	<-started
	conn.CloseNow()
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the command ended with %v, want context.Canceled", err)
	}
}

func TestExecStatusExitCode(t *testing.T) {
	for _, tc := range []struct {
		code   int
		err    error
		want   int
		wantOK bool
	}{
		{0, nil, 0, true},
		{3, nil, 3, true},
		{137, nil, 137, true},
		{0, errors.New("boom"), 0, false},
	} {
		st := execStatus([]string{"sh"}, tc.code, tc.err)
		// Through JSON, as a client sees it.
		data, _ := json.Marshal(st)
		var back ExecStatus
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatal(err)
		}
		if got, ok := back.ExitCode(); got != tc.want || ok != tc.wantOK {
			t.Errorf("code %d err %v: ExitCode() = %d, %v; want %d, %v (%s)", tc.code, tc.err, got, ok, tc.want, tc.wantOK, data)
		}
	}
	if data, _ := json.Marshal(execStatus(nil, 0, nil)); string(data) != `{"metadata":{},"status":"Success"}` {
		t.Errorf("success is %s, want Kubernetes' {\"metadata\":{},\"status\":\"Success\"}", data)
	}
}
