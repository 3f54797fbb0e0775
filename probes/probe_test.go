package probes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"leci/api"
	"leci/pod"
)

// fakeExec answers Exec with a scripted result and remembers the calls.
type fakeExec struct {
	mu    sync.Mutex
	calls [][]string
	ids   []string
	max   int
	// answer decides each call; nil means exit 0.
	answer func(ctx context.Context, cmd []string) (pod.ExecResult, error)
}

func (f *fakeExec) Exec(ctx context.Context, id string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	f.mu.Lock()
	f.calls = append(f.calls, cmd)
	f.ids = append(f.ids, id)
	f.max = maxOutput
	answer := f.answer
	f.mu.Unlock()
	if answer == nil {
		return pod.ExecResult{}, nil
	}
	return answer(ctx, cmd)
}

func (f *fakeExec) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeExec) set(answer func(ctx context.Context, cmd []string) (pod.ExecResult, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

func exitWith(code int, out string) func(context.Context, []string) (pod.ExecResult, error) {
	return func(context.Context, []string) (pod.ExecResult, error) {
		return pod.ExecResult{ExitCode: code, Output: []byte(out)}, nil
	}
}

// hang is an exec that runs until it is killed, as a backend reports it.
func hang(ctx context.Context, _ []string) (pod.ExecResult, error) {
	<-ctx.Done()
	return pod.ExecResult{Output: []byte("partial\n")}, ctx.Err()
}

func TestRunExec(t *testing.T) {
	tests := []struct {
		name    string
		answer  func(context.Context, []string) (pod.ExecResult, error)
		parent  func(context.CancelFunc)
		want    Result
		wantMsg string
	}{
		{name: "exit 0", answer: exitWith(0, "fine\n"), want: Success, wantMsg: "fine"},
		{name: "exit non-zero", answer: exitWith(3, "broken\n"), want: Failure, wantMsg: "command exited with code 3: broken"},
		{name: "exit non-zero silent", answer: exitWith(1, ""), want: Failure, wantMsg: "command exited with code 1"},
		{name: "invalid UTF-8 output", answer: exitWith(1, "a\xffb"), want: Failure, wantMsg: "command exited with code 1: a\uFFFDb"},
		{
			name: "exec error is unknown",
			answer: func(context.Context, []string) (pod.ExecResult, error) {
				return pod.ExecResult{}, errors.New("container not running")
			},
			want: Unknown, wantMsg: "exec probe could not run: container not running",
		},
		{name: "timeout is failure", answer: hang, want: Failure, wantMsg: "command timed out after 50ms: partial"},
		{name: "caller cancelled is unknown", answer: hang, parent: func(cancel context.CancelFunc) { cancel() }, want: Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &fakeExec{answer: tt.answer}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.parent != nil {
				tt.parent(cancel)
			}
			p := &api.Probe{Exec: &api.ExecAction{Command: []string{"check", "it"}}}
			start := time.Now()
			got, msg := run(ctx, ex, p, Target{ContainerID: "ctr-1"}, 50*time.Millisecond)
			if got != tt.want {
				t.Errorf("result: got %s (%q), want %s", got, msg, tt.want)
			}
			if tt.wantMsg != "" && msg != tt.wantMsg {
				t.Errorf("message: got %q, want %q", msg, tt.wantMsg)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("took %s, want the timeout to cut the exec", took)
			}
			if ex.count() != 1 || ex.ids[0] != "ctr-1" || strings.Join(ex.calls[0], " ") != "check it" {
				t.Errorf("exec calls: got %v in %v, want [check it] in ctr-1", ex.calls, ex.ids)
			}
			if ex.max != maxOutput {
				t.Errorf("exec output bound: got %d, want %d", ex.max, maxOutput)
			}
		})
	}
}

func TestRunExecTimeoutFromSeconds(t *testing.T) {
	var deadline time.Duration
	ex := &fakeExec{answer: func(ctx context.Context, _ []string) (pod.ExecResult, error) {
		d, _ := ctx.Deadline()
		deadline = time.Until(d)
		return pod.ExecResult{}, nil
	}}
	p := &api.Probe{Exec: &api.ExecAction{Command: []string{"true"}}, TimeoutSeconds: 7}
	if got, _ := Run(context.Background(), ex, p, Target{ContainerID: "c"}); got != Success {
		t.Fatalf("got %s, want Success", got)
	}
	if deadline <= 6*time.Second || deadline > 7*time.Second {
		t.Errorf("exec deadline: got %s from now, want TimeoutSeconds 7", deadline)
	}
}

func TestRunNoAction(t *testing.T) {
	if got, _ := Run(context.Background(), nil, &api.Probe{}, Target{}); got != Unknown {
		t.Errorf("empty probe: got %s, want Unknown", got)
	}
	if got, _ := Run(context.Background(), nil, nil, Target{}); got != Unknown {
		t.Errorf("nil probe: got %s, want Unknown", got)
	}
	p := &api.Probe{Exec: &api.ExecAction{Command: []string{"true"}}}
	if got, _ := Run(context.Background(), &fakeExec{}, p, Target{}); got != Unknown {
		t.Errorf("exec without container: got %s, want Unknown", got)
	}
}

// probeServer serves the paths the HTTP tests use.
func probeServer(t *testing.T, tls bool) (*httptest.Server, string, int) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		if ua := r.Header.Get("User-Agent"); ua != userAgent {
			http.Error(w, "user agent "+ua, http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "ok")
	})
	mux.HandleFunc("/query", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery != "x=1&y=2" {
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("/to-ok", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/ok", http.StatusFound)
	})
	mux.HandleFunc("/to-missing", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/missing", http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to-other-host", func(w http.ResponseWriter, r *http.Request) {
		// .invalid never resolves: following it would fail the probe.
		http.Redirect(w, r, "http://elsewhere.invalid/ok", http.StatusFound)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1<<10)
		for i := 0; i < 1<<10; i++ {
			if _, err := fmt.Fprint(w, chunk); err != nil {
				return
			}
		}
	})
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(mux)
	} else {
		srv = httptest.NewServer(mux)
	}
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	return srv, u.Hostname(), port
}

// closedPort is a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestRunHTTP(t *testing.T) {
	_, ip, port := probeServer(t, false)
	_, tlsIP, tlsPort := probeServer(t, true)
	tests := []struct {
		name    string
		get     api.ProbeHTTPGet
		target  *Target // nil: the test server
		want    Result
		wantMsg string
		// timeout is the probe's (300 ms when 0). A TLS handshake under
		// the race detector on a busy machine may take most of 300 ms.
		timeout time.Duration
	}{
		{name: "200", get: api.ProbeHTTPGet{Path: "/ok", Port: port, Scheme: "HTTP"}, want: Success},
		{name: "empty scheme is HTTP", get: api.ProbeHTTPGet{Path: "/ok", Port: port}, want: Success},
		{name: "query kept", get: api.ProbeHTTPGet{Path: "/query?x=1&y=2", Port: port}, want: Success},
		{name: "404", get: api.ProbeHTTPGet{Path: "/missing", Port: port}, want: Failure, wantMsg: "HTTP probe failed with status code 404"},
		{name: "500", get: api.ProbeHTTPGet{Path: "/error", Port: port}, want: Failure, wantMsg: "HTTP probe failed with status code 500"},
		{name: "same-host redirect followed", get: api.ProbeHTTPGet{Path: "/to-ok", Port: port}, want: Success},
		{name: "same-host redirect to 404 followed", get: api.ProbeHTTPGet{Path: "/to-missing", Port: port}, want: Failure, wantMsg: "HTTP probe failed with status code 404"},
		{
			name: "other-host redirect not followed", get: api.ProbeHTTPGet{Path: "/to-other-host", Port: port}, want: Success,
			wantMsg: "HTTP probe got status code 302; redirect to http://elsewhere.invalid/ok not followed",
		},
		{name: "redirect loop", get: api.ProbeHTTPGet{Path: "/loop", Port: port}, want: Failure},
		{name: "big body", get: api.ProbeHTTPGet{Path: "/big", Port: port}, want: Success},
		{name: "timeout", get: api.ProbeHTTPGet{Path: "/slow", Port: port}, want: Failure},
		{name: "refused", get: api.ProbeHTTPGet{Path: "/", Port: closedPort(t)}, want: Failure},
		{name: "HTTPS without verification", get: api.ProbeHTTPGet{Path: "/ok", Port: tlsPort, Scheme: "HTTPS"}, target: &Target{IP: tlsIP}, want: Success, timeout: 5 * time.Second},
		{name: "HTTPS to HTTP server", get: api.ProbeHTTPGet{Path: "/ok", Port: port, Scheme: "HTTPS"}, want: Failure},
		{name: "bad scheme", get: api.ProbeHTTPGet{Path: "/ok", Port: port, Scheme: "FTP"}, want: Unknown},
		{name: "no address", get: api.ProbeHTTPGet{Path: "/ok", Port: port}, target: &Target{}, want: Unknown},
		{name: "namespace gone", get: api.ProbeHTTPGet{Path: "/ok", Port: port}, target: &Target{IP: ip, NetNSPath: "/nonexistent/netns"}, want: Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := Target{IP: ip}
			if tt.target != nil {
				target = *tt.target
			}
			get := tt.get
			start := time.Now()
			timeout := cmp.Or(tt.timeout, 300*time.Millisecond)
			got, msg := run(context.Background(), nil, &api.Probe{HTTPGet: &get}, target, timeout)
			if got != tt.want {
				t.Errorf("result: got %s (%q), want %s", got, msg, tt.want)
			}
			if tt.wantMsg != "" && msg != tt.wantMsg {
				t.Errorf("message: got %q, want %q", msg, tt.wantMsg)
			}
			if took := time.Since(start); took > max(2*time.Second, timeout) {
				t.Errorf("took %s, want at most the timeout", took)
			}
		})
	}
}

func TestHTTPGetBoundsBody(t *testing.T) {
	_, ip, port := probeServer(t, false)
	resp, err := httpGet(context.Background(), "", getRequest{Host: ip, Port: port, Path: "/big"}, 10<<10)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != 10<<10 {
		t.Errorf("body: got %d bytes, want the 10 KiB bound", len(resp.Body))
	}
}

func TestHTTPRedirectLimit(t *testing.T) {
	var hops int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hops++
		mu.Unlock()
		http.Redirect(w, r, "/again", http.StatusFound)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	port, _ := strconv.Atoi(u.Port())
	got, msg := run(context.Background(), nil, &api.Probe{HTTPGet: &api.ProbeHTTPGet{Path: "/", Port: port}}, Target{IP: u.Hostname()}, time.Second)
	if got != Failure || !strings.Contains(msg, "stopped after 5 redirects") {
		t.Errorf("got %s %q, want Failure after 5 redirects", got, msg)
	}
	mu.Lock()
	defer mu.Unlock()
	if hops != 1+maxRedirects {
		t.Errorf("requests: got %d, want the first and %d redirects", hops, maxRedirects)
	}
}

func TestRunTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open := l.Addr().(*net.TCPAddr).Port
	tests := []struct {
		name   string
		port   int
		target Target
		want   Result
	}{
		{name: "open", port: open, target: Target{IP: "127.0.0.1"}, want: Success},
		{name: "closed", port: closedPort(t), target: Target{IP: "127.0.0.1"}, want: Failure},
		{name: "no address", port: open, target: Target{}, want: Unknown},
		{name: "namespace gone", port: open, target: Target{IP: "127.0.0.1", NetNSPath: "/nonexistent/netns"}, want: Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg := run(context.Background(), nil, &api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: tt.port}}, tt.target, time.Second)
			if got != tt.want {
				t.Errorf("got %s (%q), want %s", got, msg, tt.want)
			}
		})
	}
}

func TestRunTCPCallerCancelled(t *testing.T) {
	// A connect that hangs needs an address that drops SYNs, which
	// loopback never does; the HTTP timeout case covers the deadline. Here
	// a caller that gave up makes the probe Unknown, not a failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if got, _ := run(ctx, nil, &api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: closedPort(t)}}, Target{IP: "127.0.0.1"}, time.Second); got != Unknown {
		t.Errorf("cancelled caller: got %s, want Unknown", got)
	}
}
