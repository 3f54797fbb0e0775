//go:build integration

package integration

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"leci/api"
	"leci/pod"
	"leci/probes"
	"leci/runtime"
)

// engineExecer runs probes' execs through the engine, which knows
// containers by name: it maps the backend ID a Target carries back to the
// container's name.
type engineExecer struct {
	e     *runtime.Engine
	group string
}

func (x engineExecer) Exec(ctx context.Context, containerID string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	st, err := x.e.Get(x.group)
	if err != nil {
		return pod.ExecResult{}, err
	}
	for _, c := range st.Containers {
		if c.ID == containerID {
			return x.e.Exec(ctx, x.group, c.Name, cmd, maxOutput)
		}
	}
	return pod.ExecResult{}, fmt.Errorf("no container %s in %s", containerID, x.group)
}

// probeGroup is a running group and where its probes act.
type probeGroup struct {
	id string
	ex probes.Execer
	// targets by container name.
	targets map[string]probes.Target
}

func (hr *harness) startProbeGroup(yaml string) probeGroup {
	hr.t.Helper()
	id := hr.create(yaml)
	st := hr.waitPhase(id, api.GroupRunning)
	pg := probeGroup{id: id, ex: engineExecer{hr.h.Engine, id}, targets: map[string]probes.Target{}}
	for _, c := range st.Containers {
		pg.targets[c.Name] = probes.Target{ContainerID: c.ID, NetNSPath: hr.h.Network.NetNSPath(id), IP: st.IPv4}
	}
	if st.IPv4 == "" {
		hr.t.Fatal("the group has no IPv4 address")
	}
	return pg
}

// eventually retries fn until it returns true or 20 s pass.
func eventually(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestProbeHTTPAndTCPInGroupNetNS(t *testing.T) {
	hr := newHarness(t)
	pg := hr.startProbeGroup(`
ContainerGroupName: probes-net
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
Container:
  - {Name: web, Image: ` + image + `, Command: [sh, -c, "mkdir -p /tmp/www && echo up > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]}
  - {Name: lo, Image: ` + image + `, Command: [sh, -c, "mkdir -p /tmp/www && echo lo > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8081 -h /tmp/www"]}
`)
	ctx := context.Background()
	web := pg.targets["web"]
	run := func(p *api.Probe) (probes.Result, string) {
		p.TimeoutSeconds = 1
		return probes.Run(ctx, pg.ex, p, web)
	}
	eventually(t, "httpd listening on the group's address", func() bool {
		r, _ := run(&api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: 8080}})
		return r == probes.Success
	})

	tests := []struct {
		name  string
		probe api.Probe
		want  probes.Result
	}{
		{name: "HTTP 200", probe: api.Probe{HTTPGet: &api.ProbeHTTPGet{Path: "/", Port: 8080, Scheme: "HTTP"}}, want: probes.Success},
		{name: "HTTP 404", probe: api.Probe{HTTPGet: &api.ProbeHTTPGet{Path: "/missing", Port: 8080, Scheme: "HTTP"}}, want: probes.Failure},
		{name: "TCP open", probe: api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: 8080}}, want: probes.Success},
		{name: "TCP closed", probe: api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: 8099}}, want: probes.Failure},
		// Bound to the group's loopback only: not on the group's address.
		{name: "TCP loopback-only server via the group address", probe: api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: 8081}}, want: probes.Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.probe
			if got, msg := run(&p); got != tt.want {
				t.Errorf("got %s (%q), want %s", got, msg, tt.want)
			}
		})
	}

	t.Run("127.0.0.1 in a hook is the group's loopback", func(t *testing.T) {
		// The body tells the group's loopback server from anything the
		// host might have on that port.
		eventually(t, "httpd listening on the group's loopback", func() bool {
			out, _ := probes.RunHandler(ctx, nil, &api.Handler{HTTPGet: &api.HTTPGetAction{Host: "127.0.0.1", Port: 8081}}, web, 1024)
			return out == "200 OK\nlo"
		})
		for _, host := range []string{"127.0.0.1", "localhost"} {
			out, err := probes.RunHandler(ctx, nil, &api.Handler{HTTPGet: &api.HTTPGetAction{Host: host, Port: 8081, Path: "/"}}, web, 1024)
			if err != nil || out != "200 OK\nlo" {
				t.Errorf("HTTP hook to %s:8081: got %q %v, want the group's loopback server", host, out, err)
			}
			if _, err := probes.RunHandler(ctx, nil, &api.Handler{TCPSocket: &api.TCPSocketAction{Host: host, Port: 8081}}, web, 1024); err != nil {
				t.Errorf("TCP hook to %s:8081: %v", host, err)
			}
		}
	})

	t.Run("the host's loopback is out of reach", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		var accepted atomic.Int32
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				accepted.Add(1)
				c.Close()
			}
		}()
		port := l.Addr().(*net.TCPAddr).Port
		hook := &api.Handler{TCPSocket: &api.TCPSocketAction{Host: "127.0.0.1", Port: port}}
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := probes.RunHandler(hctx, nil, hook, web, 1024); err == nil {
			t.Errorf("TCP hook to 127.0.0.1:%d from the group reached the host's listener", port)
		}
		loopback := web
		loopback.IP = "127.0.0.1"
		if got, msg := probes.Run(ctx, nil, &api.Probe{TCPSocket: &api.ProbeTCPSocket{Port: port}, TimeoutSeconds: 1}, loopback); got != probes.Failure {
			t.Errorf("TCP probe to 127.0.0.1:%d from the group: got %s (%q), want Failure", port, got, msg)
		}
		if n := accepted.Load(); n != 0 {
			t.Errorf("the host's listener accepted %d connections from the group", n)
		}
		// The same hook from the test's own namespace does connect: the
		// failure above is the namespace, not the listener.
		here := web
		here.NetNSPath = ""
		if _, err := probes.RunHandler(hctx, nil, hook, here, 1024); err != nil {
			t.Errorf("TCP hook from the host's namespace: %v", err)
		}
	})
	hr.delete(pg.id)
}

func TestProbeExecInContainer(t *testing.T) {
	hr := newHarness(t)
	pg := hr.startProbeGroup(`
ContainerGroupName: probes-exec
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; echo alive > /tmp/state; while true; do sleep 0.1; done"]}
`)
	ctx := context.Background()
	app := pg.targets["app"]
	exec := func(cmd ...string) *api.Probe {
		return &api.Probe{Exec: &api.ExecAction{Command: cmd}, TimeoutSeconds: 1}
	}
	tests := []struct {
		name    string
		probe   *api.Probe
		target  probes.Target
		want    probes.Result
		wantMsg string
	}{
		{name: "true", probe: exec("true"), target: app, want: probes.Success},
		{name: "reads the container's files", probe: exec("cat", "/tmp/state"), target: app, want: probes.Success, wantMsg: "alive"},
		{name: "false", probe: exec("false"), target: app, want: probes.Failure, wantMsg: "command exited with code 1"},
		{name: "output in message", probe: exec("sh", "-c", "echo sick; exit 3"), target: app, want: probes.Failure, wantMsg: "command exited with code 3: sick"},
		{name: "timeout", probe: exec("sleep", "5"), target: app, want: probes.Failure, wantMsg: "command timed out after 1s"},
		{name: "no such container", probe: exec("true"), target: probes.Target{ContainerID: "gone"}, want: probes.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			got, msg := probes.Run(ctx, pg.ex, tt.probe, tt.target)
			if got != tt.want || (tt.wantMsg != "" && msg != tt.wantMsg) {
				t.Errorf("got %s %q, want %s %q", got, msg, tt.want, tt.wantMsg)
			}
			if took := time.Since(start); took > 4*time.Second {
				t.Errorf("took %s, want the 1 s timeout to cut it", took)
			}
		})
	}

	out, err := probes.RunHandler(ctx, pg.ex, &api.Handler{Exec: []string{"sh", "-c", "echo hooked > /tmp/hook; cat /tmp/hook"}}, app, 1024)
	if err != nil || out != "hooked" {
		t.Errorf("exec hook: got %q %v, want hooked", out, err)
	}
	if _, err := probes.RunHandler(ctx, pg.ex, &api.Handler{Exec: []string{"sh", "-c", "exit 4"}}, app, 1024); err == nil {
		t.Error("exec hook exiting 4: got no error")
	}
	hr.delete(pg.id)
}

func TestProbeHookHTTPHeaderReachesServer(t *testing.T) {
	hr := newHarness(t)
	// nc answers one request with a script that prints the request,
	// headers included, to the log, and only then answers: an answer sent
	// before the request is read could end the connection first.
	pg := hr.startProbeGroup(`
ContainerGroupName: probes-hook
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
Container:
  - Name: srv
    Image: ` + image + `
    Command:
      - sh
      - -c
      - |
        cat > /tmp/answer <<'EOF'
        #!/bin/sh
        while read -r l; do echo "$l"; [ "$l" = "$(printf '\r')" ] && break; done >&2
        printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'
        EOF
        chmod +x /tmp/answer
        exec nc -l -p 8080 -e /tmp/answer
`)
	hook := &api.Handler{HTTPGet: &api.HTTPGetAction{
		Port: 8080, Path: "/hook", Scheme: "HTTP",
		HTTPHeader: []api.HTTPHeader{{Name: "X-Leci-Test", Value: "hello"}},
	}}
	var out string
	eventually(t, "the hook answered", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var err error
		out, err = probes.RunHandler(ctx, nil, hook, pg.targets["srv"], 1024)
		return err == nil
	})
	if out != "200 OK\nok" {
		t.Errorf("hook output: got %q, want the status line and body", out)
	}
	hr.waitFor(pg.id, 30*time.Second, "nc done", func(st runtime.GroupStatus) bool {
		return st.Containers[0].Current.State == api.StateTerminated
	})
	got := hr.logOf(pg.id, "srv", 1)
	for _, want := range []string{"GET /hook HTTP/1.1", "X-Leci-Test: hello", "User-Agent: leci-probe/1.0"} {
		if !strings.Contains(got, want) {
			t.Errorf("the server's log lacks %q:\n%s", want, got)
		}
	}
	hr.delete(pg.id)
}

func TestProbeManagerWorkersOnARealGroup(t *testing.T) {
	hr := newHarness(t)
	pg := hr.startProbeGroup(`
ContainerGroupName: probes-workers
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
Container:
  - {Name: web, Image: ` + image + `, Command: [sh, -c, "touch /tmp/alive; mkdir -p /tmp/www && echo up > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := probes.NewManager(pg.ex, slog.New(slog.NewTextHandler(testWriter{t}, nil)), probes.Options{})
	ready := probes.Key{GroupID: pg.id, Container: "web", Attempt: 1, Kind: probes.Readiness}
	alive := probes.Key{GroupID: pg.id, Container: "web", Attempt: 1, Kind: probes.Liveness}
	start := time.Now()
	m.Start(ctx, ready, &api.Probe{
		HTTPGet:             &api.ProbeHTTPGet{Path: "/", Port: 8080, Scheme: "HTTP"},
		InitialDelaySeconds: 1, PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3,
	}, pg.targets["web"])
	m.Start(ctx, alive, &api.Probe{
		Exec:          &api.ExecAction{Command: []string{"test", "-f", "/tmp/alive"}},
		PeriodSeconds: 1, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 2,
	}, pg.targets["web"])
	defer m.StopAll(pg.id)

	next := func() probes.Update {
		t.Helper()
		select {
		case u := <-m.Updates():
			return u
		case <-time.After(20 * time.Second):
			t.Fatal("no update within 20 s")
		}
		return probes.Update{}
	}
	if u := next(); u.Key != ready || u.Result != probes.Success {
		t.Fatalf("first update: got %+v, want web ready", u)
	}
	if took := time.Since(start); took < time.Second {
		t.Errorf("ready after %s, before the 1 s initial delay", took)
	}
	if r, _ := m.Get(alive); r != probes.Success {
		t.Errorf("liveness: got %s, want Success", r)
	}

	if _, err := hr.h.Engine.Exec(ctx, pg.id, "web", []string{"rm", "/tmp/alive"}, 1024); err != nil {
		t.Fatal(err)
	}
	failedAt := time.Now()
	u := next()
	if u.Key != alive || u.Result != probes.Failure || u.Message != "command exited with code 1" {
		t.Fatalf("update: got %+v, want liveness Failure", u)
	}
	// Two failures a second apart: not before the second probe.
	if took := time.Since(failedAt); took > 5*time.Second {
		t.Errorf("liveness failed %s after the file went, want about 2 s", took)
	}
	if r, _ := m.Get(ready); r != probes.Success {
		t.Errorf("readiness: got %s, want still Success", r)
	}
	hr.delete(pg.id)
}
