package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"leci/api"
	"leci/pod"
)

func TestRunHandlerExec(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(context.Context, []string) (pod.ExecResult, error)
		wantOut string
		wantErr string
	}{
		{name: "success", answer: exitWith(0, "hooked\n"), wantOut: "hooked"},
		{name: "non-zero exit", answer: exitWith(2, "no luck\n"), wantOut: "no luck", wantErr: "exec hook exited with code 2"},
		{
			name: "exec error",
			answer: func(context.Context, []string) (pod.ExecResult, error) {
				return pod.ExecResult{}, errors.New("container not running")
			},
			wantErr: "exec hook: container not running",
		},
		{name: "cut by context", answer: hang, wantOut: "partial", wantErr: "exec hook: context deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &fakeExec{answer: tt.answer}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			out, err := RunHandler(ctx, ex, &api.Handler{Exec: []string{"sh", "-c", "hook"}}, Target{ContainerID: "ctr-1"}, 123)
			if out != tt.wantOut {
				t.Errorf("output: got %q, want %q", out, tt.wantOut)
			}
			if gotErr := fmt.Sprint(err); (tt.wantErr == "" && err != nil) || (tt.wantErr != "" && gotErr != tt.wantErr) {
				t.Errorf("error: got %v, want %q", err, tt.wantErr)
			}
			if ex.max != 123 || ex.ids[0] != "ctr-1" {
				t.Errorf("exec: got bound %d in %s, want 123 in ctr-1", ex.max, ex.ids[0])
			}
		})
	}
}

// hookServer records the requests it gets.
type hookServer struct {
	srv  *httptest.Server
	host string
	port int
	reqs chan *http.Request
}

func newHookServer(t *testing.T, h http.HandlerFunc) *hookServer {
	t.Helper()
	hs := &hookServer{reqs: make(chan *http.Request, 10)}
	hs.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs.reqs <- r
		h(w, r)
	}))
	t.Cleanup(hs.srv.Close)
	u, _ := url.Parse(hs.srv.URL)
	hs.host = u.Hostname()
	hs.port, _ = strconv.Atoi(u.Port())
	return hs
}

func TestRunHandlerHTTP(t *testing.T) {
	hs := newHookServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("b", 100))
	})
	h := &api.Handler{HTTPGet: &api.HTTPGetAction{
		Path: "/hook?x=1", Port: hs.port, Scheme: "HTTP",
		HTTPHeader: []api.HTTPHeader{{Name: "X-Token", Value: "t0k"}, {Name: "Host", Value: "app.example"}, {Name: "User-Agent", Value: "mine"}},
	}}
	out, err := RunHandler(context.Background(), nil, h, Target{IP: hs.host}, 20)
	if err != nil {
		t.Fatal(err)
	}
	if want := "200 OK\nbbbbbbbbbbbbb"; out != want {
		t.Errorf("output: got %q, want %q (bounded to 20 bytes)", out, want)
	}
	r := <-hs.reqs
	if r.URL.Path != "/hook" || r.URL.RawQuery != "x=1" || r.Header.Get("X-Token") != "t0k" ||
		r.Host != "app.example" || r.UserAgent() != "mine" || r.Method != http.MethodGet {
		t.Errorf("request: got %s %s?%s host %s headers %v", r.Method, r.URL.Path, r.URL.RawQuery, r.Host, r.Header)
	}
}

func TestRunHandlerHTTPHostAndStatus(t *testing.T) {
	hs := newHookServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusServiceUnavailable)
	})
	// The hook's Host wins over the group's address, and a status the
	// server chose is its answer, not a failure of the hook.
	h := &api.Handler{HTTPGet: &api.HTTPGetAction{Host: hs.host, Port: hs.port}}
	out, err := RunHandler(context.Background(), nil, h, Target{IP: "192.0.2.1"}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if want := "503 Service Unavailable\nnope"; out != want {
		t.Errorf("output: got %q, want %q", out, want)
	}
	if r := <-hs.reqs; r.URL.Path != "/" || r.UserAgent() != userAgent {
		t.Errorf("request: got path %q agent %q, want / and %s", r.URL.Path, r.UserAgent(), userAgent)
	}
}

func TestRunHandlerHTTPFailures(t *testing.T) {
	slow := newHookServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := RunHandler(ctx, nil, &api.Handler{HTTPGet: &api.HTTPGetAction{Port: slow.port}}, Target{IP: slow.host}, 1024); err == nil {
		t.Error("a hook past its context: got no error")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %s, want the context to cut the hook", took)
	}
	if _, err := RunHandler(context.Background(), nil, &api.Handler{HTTPGet: &api.HTTPGetAction{Port: closedPort(t)}}, Target{IP: "127.0.0.1"}, 1024); err == nil {
		t.Error("refused connection: got no error")
	}
	if _, err := RunHandler(context.Background(), nil, &api.Handler{HTTPGet: &api.HTTPGetAction{Port: 80}}, Target{}, 1024); err == nil {
		t.Error("no host and no group address: got no error")
	}
}

func TestRunHandlerTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name    string
		action  api.TCPSocketAction
		target  Target
		wantErr bool
	}{
		{name: "group address", action: api.TCPSocketAction{Port: port}, target: Target{IP: "127.0.0.1"}},
		{name: "host given", action: api.TCPSocketAction{Host: "127.0.0.1", Port: port}, target: Target{IP: "192.0.2.1"}},
		{name: "host name", action: api.TCPSocketAction{Host: "localhost", Port: port}},
		{name: "refused", action: api.TCPSocketAction{Port: closedPort(t)}, target: Target{IP: "127.0.0.1"}, wantErr: true},
		{name: "no address", action: api.TCPSocketAction{Port: port}, wantErr: true},
		{name: "namespace gone", action: api.TCPSocketAction{Port: port}, target: Target{IP: "127.0.0.1", NetNSPath: "/nonexistent/netns"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.action
			_, err := RunHandler(context.Background(), nil, &api.Handler{TCPSocket: &a}, tt.target, 1024)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error: got %v, want error %v", err, tt.wantErr)
			}
			if !tt.wantErr {
				select {
				case <-accepted:
				case <-time.After(5 * time.Second):
					t.Error("the listener saw no connection")
				}
			}
		})
	}
}

func TestRunHandlerNil(t *testing.T) {
	if out, err := RunHandler(context.Background(), nil, nil, Target{}, 10); out != "" || err != nil {
		t.Errorf("nil handler: got %q %v, want nothing", out, err)
	}
}
