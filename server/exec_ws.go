package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"leci/api"
	"leci/pod"
	"leci/runtime"
)

// Interactive exec. ExecContainerCommand without Sync=true creates a
// session and answers its WebSocketUri, ws://HOST/exec/TOKEN: HOST is the
// Host the request came with, so the URI points back where the client
// called. Over the unix socket that Host means nothing (the leci CLI sends
// "leci"): a client dials the socket it called, with the URI's path. HttpUrl
// (ECI's browser terminal) is empty: leci serves none.
//
// A session is bound to its group, container, command and the request's
// Stdin and TTY. Its token is its only credential, so GET /exec/TOKEN needs
// no signature, even over TCP; a token works once, and expires after
// ExecSessionTTL if unused. An unknown, used or expired token is answered
// 404 InvalidExecSession.NotFound.
//
// The WebSocket speaks Kubernetes' streaming channel protocol, as kubectl
// exec and the Kubernetes clients do: subprotocol v5.channel.k8s.io or
// v4.channel.k8s.io (v5 preferred; v4 framing without a subprotocol). Each
// binary (or text) message starts with its channel byte:
//
//	0 stdin   client → server, the command's input (dropped without Stdin)
//	1 stdout  server → client
//	2 stderr  server → client (none with TTY: a terminal merges it into stdout)
//	3 status  server → client, once, last: a Kubernetes metav1.Status in JSON
//	          ({"status":"Success"}, or "Failure" with reason
//	          NonZeroExitCode and the exit code in details.causes[0].message,
//	          or another reason and a message); then a normal close
//	4 resize  client → server, {"Width":W,"Height":H} with TTY
//	255 close client → server, v5 only: [255, 0] ends the command's stdin
//
// With TTY the first client message is awaited (for at most
// execInitialSizeWait) before the command starts: when it is a resize, it
// is the terminal's initial size. Closing the WebSocket before the status
// kills the command.

// ExecPathPrefix is the path under which the sessions' WebSockets are served.
const ExecPathPrefix = "/exec/"

// ExecSessionTTL is how long a session waits for its WebSocket.
const ExecSessionTTL = 60 * time.Second

// The WebSocket subprotocols of exec sessions, preferred first.
const (
	ExecProtocolV5 = "v5.channel.k8s.io"
	ExecProtocolV4 = "v4.channel.k8s.io"
)

// The channels of the exec protocol: the first byte of each message.
const (
	ExecChannelStdin  = 0
	ExecChannelStdout = 1
	ExecChannelStderr = 2
	ExecChannelStatus = 3
	ExecChannelResize = 4
	// ExecChannelClose (v5) closes the channel named by the next byte.
	ExecChannelClose = 255
)

// CodeExecSessionNotFound answers a WebSocket request whose token is
// unknown, already used or expired.
const CodeExecSessionNotFound = "InvalidExecSession.NotFound"

const (
	// maxExecSessions bounds the sessions waiting for their WebSocket.
	maxExecSessions = 1000
	// execInitialSizeWait bounds the wait for a TTY's first message: a
	// client that sends nothing before it reads must not hang.
	execInitialSizeWait = time.Second
)

// ExecStatus is the message of the status channel: the subset of
// Kubernetes' metav1.Status that exec streams carry.
type ExecStatus struct {
	Metadata struct{} `json:"metadata"`
	// Status is "Success" or "Failure".
	Status  string             `json:"status"`
	Message string             `json:"message,omitempty"`
	Reason  string             `json:"reason,omitempty"`
	Details *ExecStatusDetails `json:"details,omitempty"`
	// Code is an HTTP status for a failure other than an exit code.
	Code int `json:"code,omitempty"`
}

// ExecStatusDetails hold the causes of a failure.
type ExecStatusDetails struct {
	Causes []ExecStatusCause `json:"causes,omitempty"`
}

// ExecStatusCause is one cause; an exit code is {"reason":"ExitCode","message":"N"}.
type ExecStatusCause struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// Status values and reasons of ExecStatus.
const (
	ExecStatusSuccess       = "Success"
	ExecStatusFailure       = "Failure"
	ExecReasonNonZeroExit   = "NonZeroExitCode"
	ExecCauseReasonExitCode = "ExitCode"
)

// ExitCode is the command's exit code, and false when the command did not
// run to its end (the status then says why).
func (s ExecStatus) ExitCode() (int, bool) {
	if s.Status == ExecStatusSuccess {
		return 0, true
	}
	if s.Reason != ExecReasonNonZeroExit || s.Details == nil {
		return 0, false
	}
	for _, c := range s.Details.Causes {
		if c.Reason == ExecCauseReasonExitCode {
			if n, err := strconv.Atoi(c.Message); err == nil {
				return n, true
			}
		}
	}
	return 0, false
}

// execStatus is the status of a command that returned code and err.
func execStatus(cmd []string, code int, err error) ExecStatus {
	switch {
	case err == nil && code == 0:
		return ExecStatus{Status: ExecStatusSuccess}
	case err == nil:
		// Kubernetes' wording, which its clients show as it is.
		return ExecStatus{Status: ExecStatusFailure, Reason: ExecReasonNonZeroExit,
			Message: fmt.Sprintf("command terminated with non-zero exit code: error executing command %v, exit code %d", cmd, code),
			Details: &ExecStatusDetails{Causes: []ExecStatusCause{{Reason: ExecCauseReasonExitCode, Message: strconv.Itoa(code)}}}}
	}
	st := ExecStatus{Status: ExecStatusFailure, Reason: "InternalError", Code: http.StatusInternalServerError, Message: err.Error()}
	var ae *api.Error
	if errors.As(toAPI(err), &ae) {
		st.Code = ae.Status
		st.Message = ae.Code + ": " + ae.Text()
		switch ae.Status {
		case http.StatusBadRequest:
			st.Reason = "BadRequest"
		case http.StatusNotFound:
			st.Reason = "NotFound"
		case http.StatusGatewayTimeout:
			st.Reason = "Timeout"
		case http.StatusServiceUnavailable:
			st.Reason = "ServiceUnavailable"
		}
	}
	return st
}

// execSession is an exec waiting for its WebSocket.
type execSession struct {
	groupID, container string
	cmd                []string
	stdin, tty         bool
	// attach attaches to the container's process (AttachContainer)
	// instead of running cmd.
	attach bool
	// env, workingDir and user are leci's own settings (pod.ExecIO).
	env              []string
	workingDir, user string
	expires          time.Time
}

// execSessions are the sessions not yet attached, by token.
type execSessions struct {
	mu      sync.Mutex
	pending map[string]execSession
}

// add keeps a session and returns its token; expired sessions are dropped
// on the way, so that unused ones do not pile up.
func (ss *execSessions) add(now time.Time, sess execSession) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("exec session token: %w", err)
	}
	token := hex.EncodeToString(b[:])
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for t, s := range ss.pending {
		if now.After(s.expires) {
			delete(ss.pending, t)
		}
	}
	if len(ss.pending) >= maxExecSessions {
		return "", &api.Error{Code: "Throttling.User", Status: http.StatusBadRequest,
			Message: fmt.Sprintf("%d exec sessions are waiting for their WebSocket; try again later", len(ss.pending))}
	}
	if ss.pending == nil {
		ss.pending = map[string]execSession{}
	}
	ss.pending[token] = sess
	return token, nil
}

// claim takes a session out: a token works once.
func (ss *execSessions) claim(now time.Time, token string) (execSession, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess, ok := ss.pending[token]
	delete(ss.pending, token)
	if !ok || now.After(sess.expires) {
		return execSession{}, false
	}
	return sess, true
}

// newExecSession answers ExecContainerCommand without Sync: a session for
// the command sess describes, and where to attach to it.
func (s *Server) newExecSession(c *call, groupID string, ctr runtime.ContainerStatus, sess execSession) (any, error) {
	if ctr.Current.State != api.StateRunning {
		return nil, fmt.Errorf("%s/%s: %w", groupID, ctr.Name, runtime.ErrNotRunning)
	}
	sess.groupID, sess.container = groupID, ctr.Name
	sess.expires = s.opts.Now().Add(ExecSessionTTL)
	token, err := s.execs.add(s.opts.Now(), sess)
	if err != nil {
		return nil, err
	}
	scheme, host := "ws", c.host
	if c.tls {
		scheme = "wss"
	}
	if host == "" {
		host = "localhost"
	}
	return api.ExecContainerCommandResponse{RequestID: c.requestID, WebSocketURI: scheme + "://" + host + ExecPathPrefix + token}, nil
}

// serveExec attaches a WebSocket to its session and runs the command.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-acs-request-id", reqID)
	fail := func(err error) {
		status := s.writeError(w, r, reqID, err)
		s.log.Debug("exec session refused", "request", reqID, "status", status, "err", err)
	}
	if r.Method != http.MethodGet {
		fail(&api.Error{Code: "UnsupportedHTTPMethod", Status: http.StatusMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not supported; an exec session is a WebSocket (GET)", r.Method)})
		return
	}
	// Checked before the token is spent: a plain GET must not use it up.
	if !headerHasToken(r.Header, "Connection", "upgrade") || !headerHasToken(r.Header, "Upgrade", "websocket") {
		fail(&api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest,
			Message: "an exec session is a WebSocket: send an upgrade request with the subprotocol " + ExecProtocolV5 + " or " + ExecProtocolV4})
		return
	}
	sess, ok := s.execs.claim(s.opts.Now(), strings.TrimPrefix(r.URL.Path, ExecPathPrefix))
	if !ok {
		fail(&api.Error{Code: CodeExecSessionNotFound, Status: http.StatusNotFound,
			Message: "no exec session has this token: it is unknown, was used, or expired (a session waits " + ExecSessionTTL.String() + ")"})
		return
	}
	// The HTTP server's read and write deadlines would cut the session.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{ExecProtocolV5, ExecProtocolV4}})
	if err != nil {
		s.log.Warn("exec session: WebSocket handshake", "request", reqID, "group", sess.groupID, "err", err)
		return
	}
	log := s.log.With("request", reqID, "group", sess.groupID, "container", sess.container)
	log.Info("exec session attached", "tty", sess.tty, "stdin", sess.stdin, "protocol", conn.Subprotocol())
	start := time.Now()
	code, err := s.attachExec(r.Context(), conn, sess)
	attrs := []any{"code", code, "duration", time.Since(start)}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	log.Info("exec session ended", attrs...)
}

// headerHasToken reports whether a comma-separated header holds token.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// attachExec runs a session's command on conn until it ends, writes its
// status and closes conn. It returns how the command ended.
func (s *Server) attachExec(ctx context.Context, conn *websocket.Conn, sess execSession) (int, error) {
	defer conn.CloseNow()
	// execCtx ends the command: when the client goes away or the server closes.
	execCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.delCtx, cancel)()

	eio := pod.ExecIO{Cmd: sess.cmd, TTY: sess.tty, Stdout: &channelWriter{ctx: ctx, conn: conn, channel: ExecChannelStdout},
		Env: sess.env, WorkingDir: sess.workingDir, User: sess.user}
	if !sess.tty {
		eio.Stderr = &channelWriter{ctx: ctx, conn: conn, channel: ExecChannelStderr}
	}
	in := &execInput{v5: conn.Subprotocol() == ExecProtocolV5, cancel: cancel}
	var stdinR *io.PipeReader
	if sess.stdin {
		stdinR, in.stdin = io.Pipe()
		eio.Stdin = stdinR
	}
	if sess.tty {
		resize := make(chan pod.TermSize, 1)
		in.resize, in.first, in.initialSent = resize, make(chan *pod.TermSize, 1), make(chan struct{})
		eio.Resize = resize
	}
	inputDone := make(chan struct{})
	go func() {
		defer close(inputDone)
		in.run(ctx, conn)
	}()

	code, err := s.startExec(execCtx, sess, eio, in)
	if stdinR != nil {
		// Ends a write of the input loop the command never read.
		stdinR.CloseWithError(errors.New("the exec session ended"))
	}
	if data, jerr := json.Marshal(execStatus(sess.cmd, code, err)); jerr == nil {
		_ = conn.Write(ctx, websocket.MessageBinary, append([]byte{ExecChannelStatus}, data...))
	}
	_ = conn.Close(websocket.StatusNormalClosure, "")
	<-inputDone
	return code, err
}

// startExec gives a TTY its initial size, then runs the command.
func (s *Server) startExec(ctx context.Context, sess execSession, eio pod.ExecIO, in *execInput) (int, error) {
	if sess.tty {
		var size pod.TermSize
		wait := time.NewTimer(execInitialSizeWait)
		select {
		case first := <-in.first:
			if first != nil {
				size = *first
			}
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
		// A zero size leaves the terminal's size to the runtime.
		in.resize <- size
		close(in.initialSent)
	}
	if sess.attach {
		return s.opts.Groups.(attacher).Attach(ctx, sess.groupID, sess.container, eio)
	}
	return s.opts.Groups.ExecAttach(ctx, sess.groupID, sess.container, eio)
}

// execInput reads the client's messages: stdin, resizes, v5's close.
type execInput struct {
	v5     bool
	cancel context.CancelFunc // kills the command when the client goes away
	stdin  *io.PipeWriter     // nil without Stdin, or once closed
	// With TTY: resize feeds eio.Resize; first gets the first message's
	// size (nil when it is not a resize), and later resizes wait for
	// initialSent so that the initial size goes first.
	resize      chan pod.TermSize
	first       chan *pod.TermSize
	initialSent chan struct{}
}

func (in *execInput) run(ctx context.Context, conn *websocket.Conn) {
	firstSeen := false
	markFirst := func(size *pod.TermSize) {
		if !firstSeen && in.first != nil {
			in.first <- size
		}
		firstSeen = true
	}
	defer func() {
		markFirst(nil)
		if in.stdin != nil {
			in.stdin.Close()
		}
	}()
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			// A closed WebSocket: the command has no one to talk to.
			in.cancel()
			return
		}
		if len(data) == 0 {
			continue
		}
		switch payload := data[1:]; data[0] {
		case ExecChannelStdin:
			markFirst(nil)
			if in.stdin != nil && len(payload) > 0 {
				if _, err := in.stdin.Write(payload); err != nil {
					in.stdin = nil
				}
			}
		case ExecChannelResize:
			var size pod.TermSize
			if in.resize == nil || json.Unmarshal(payload, &size) != nil {
				continue
			}
			if !firstSeen {
				markFirst(&size)
				continue
			}
			<-in.initialSent
			// The newest size wins over one not yet applied.
			select {
			case <-in.resize:
			default:
			}
			in.resize <- size
		case ExecChannelClose:
			if in.v5 && len(payload) > 0 && payload[0] == ExecChannelStdin && in.stdin != nil {
				in.stdin.Close()
				in.stdin = nil
			}
		}
	}
}

// channelWriter writes each chunk as one message on a channel.
type channelWriter struct {
	ctx     context.Context
	conn    *websocket.Conn
	channel byte
}

func (w *channelWriter) Write(p []byte) (int, error) {
	msg := make([]byte, 1+len(p))
	msg[0] = w.channel
	copy(msg[1:], p)
	if err := w.conn.Write(w.ctx, websocket.MessageBinary, msg); err != nil {
		return 0, err
	}
	return len(p), nil
}
