//go:build integration

package integration

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leci/api"
	"leci/runtime"
)

func TestReadinessAfterInitialDelay(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: ready-delay
TerminationGracePeriodSeconds: 1
Container:
  - Name: web
    Image: ` + image + `
    Command: [sh, -c, "echo ok > /tmp/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp & wait"]
    ReadinessProbe: {HttpGet: {Port: 8080, Path: /index.html}, InitialDelaySeconds: 2, PeriodSeconds: 1}
  - Name: never
    Image: ` + image + `
    Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    ReadinessProbe: {Exec: {Command: ["false"]}, PeriodSeconds: 1}
`)
	running := hr.waitPhase(id, api.GroupRunning)
	if running.Containers[0].Ready {
		t.Error("web is Ready before its readiness probe's initial delay")
	}
	start := time.Now()
	st := hr.waitFor(id, 10*time.Second, "web ready", func(st runtime.GroupStatus) bool { return st.Containers[0].Ready })
	if took := time.Since(start); took < time.Second {
		t.Errorf("web became Ready after %s, before the 2 s initial delay", took)
	}
	time.Sleep(2 * time.Second)
	st, _ = hr.h.Engine.Get(id)
	if c := st.Containers[1]; c.Ready || c.RestartCount != 0 {
		t.Errorf("never: ready %v, %d restarts; a failing readiness probe must neither make it ready nor restart it", c.Ready, c.RestartCount)
	}
	unhealthy := false
	for _, e := range st.Events {
		unhealthy = unhealthy || (e.Reason == "Unhealthy" && e.Object == "never")
	}
	if !unhealthy {
		t.Error("no Unhealthy event for the failing readiness probe")
	}
	hr.delete(id)
}

func TestLivenessFailureRestarts(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: liveness
TerminationGracePeriodSeconds: 1
Container:
  - Name: exec
    Image: ` + image + `
    Command: [sh, -c, "touch /tmp/alive; (sleep 2; rm /tmp/alive) & trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    LivenessProbe: {Exec: {Command: [test, -f, /tmp/alive]}, PeriodSeconds: 1, FailureThreshold: 1}
  - Name: http
    Image: ` + image + `
    Command: [sh, -c, "echo ok > /tmp/ok; (sleep 2; rm /tmp/ok) & trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp & wait"]
    LivenessProbe: {HttpGet: {Port: 8080, Path: /ok}, PeriodSeconds: 1, FailureThreshold: 1}
  - Name: tcp
    Image: ` + image + `
    Command: [sh, -c, "echo ok > /tmp/ok; (sleep 2; rm /tmp/ok) & trap 'exit 0' TERM; httpd -f -p 8081 -h /tmp & wait"]
    LivenessProbe: {TcpSocket: {Port: 8081}, InitialDelaySeconds: 1, PeriodSeconds: 1, FailureThreshold: 1}
`)
	st := hr.waitFor(id, 30*time.Second, "exec and http restarted twice", func(st runtime.GroupStatus) bool {
		return st.Containers[0].RestartCount >= 2 && st.Containers[1].RestartCount >= 1
	})
	if c := st.Containers[2]; c.RestartCount != 0 {
		t.Errorf("tcp restarted %d times; its port stays open, so its liveness probe holds", c.RestartCount)
	}
	killing := 0
	for _, e := range st.Events {
		if e.Reason == "Killing" && e.Object == "exec" {
			killing = e.Count
		}
	}
	if killing < 2 {
		t.Errorf("Killing events for exec = %d, want one per restart", killing)
	}
	hr.delete(id)
}

func TestExecProbeTimeoutIsFailure(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: probe-timeout
TerminationGracePeriodSeconds: 1
Container:
  - Name: slow
    Image: ` + image + `
    Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    LivenessProbe: {Exec: {Command: [sleep, "10"]}, TimeoutSeconds: 1, PeriodSeconds: 1, FailureThreshold: 1}
`)
	hr.waitFor(id, 20*time.Second, "a restart", func(st runtime.GroupStatus) bool { return st.Containers[0].RestartCount >= 1 })
	hr.delete(id)
}

func TestPostStartHooks(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: poststart
RestartPolicy: OnFailure
TerminationGracePeriodSeconds: 1
Container:
  - Name: server
    Image: ` + image + `
    Command: [sh, -c, "mkdir -p /tmp/www; echo pong > /tmp/www/ping; trap 'exit 0' TERM; httpd -f -v -p 8080 -h /tmp/www & wait"]
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "for i in $(seq 50); do test -f /tmp/started && break; sleep 0.1; done; cat /tmp/started"]
    LifecyclePostStartHandlerExec: [sh, -c, "echo from-poststart > /tmp/started"]
  # Started with the server, its hook may come before the server listens:
  # then it is killed and, under OnFailure, started again.
  - Name: caller
    Image: ` + image + `
    Command: [sleep, "3"]
    LifecyclePostStartHandlerHttpGetPort: 8080
    LifecyclePostStartHandlerHttpGetPath: /ping
`)
	hr.waitFor(id, 30*time.Second, "app and caller done", func(st runtime.GroupStatus) bool {
		return st.Containers[1].Current.State == api.StateTerminated && st.Containers[2].Current.Reason == runtime.ReasonCompleted
	})
	if got := hr.logOf(id, "app", 1); got != "from-poststart\n" {
		t.Errorf("app saw %q, want the postStart hook's file", got)
	}
	if got := hr.logSoFar(id, "server", 1); !strings.Contains(got, "response:200") {
		t.Errorf("the server answered no request from the caller's hook:\n%s", got)
	}
	hr.delete(id)
}

func TestFailedPostStartHookKills(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: poststart-fails
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "while true; do sleep 0.1; done"]
    LifecyclePostStartHandlerExec: [sh, -c, "exit 3"]
`)
	st := hr.waitPhase(id, api.GroupFailed)
	if c := st.Containers[0].Current; c.Reason != "FailedPostStartHook" {
		t.Errorf("app ended with reason %q, want FailedPostStartHook", c.Reason)
	}
	hr.delete(id)
}

func TestPreStopBeforeTermAndCutAtGrace(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: prestop
TerminationGracePeriodSeconds: 2
Container:
  - Name: polite
    Image: ` + image + `
    Command: [sh, -c, "trap 'echo term >> /shared/trace; exit 0' TERM; while true; do sleep 0.1; done"]
    LifecyclePreStopHandlerExec: [sh, -c, "echo prestop >> /shared/trace"]
    VolumeMount: [{Name: shared, MountPath: /shared}]
  - Name: stuck
    Image: ` + image + `
    Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    LifecyclePreStopHandlerExec: [sleep, "60"]
Volume:
  - {Name: shared, Type: EmptyDirVolume}
`)
	hr.waitPhase(id, api.GroupRunning)
	// Keep the trace: read it through the volume before the delete ends.
	st, _ := hr.h.Engine.Get(id)
	trace := st.Host.Volumes["shared"]
	start := time.Now()
	done := make(chan []byte, 1)
	go func() {
		// Poll the volume while the delete runs.
		var last []byte
		for time.Since(start) < 10*time.Second {
			if b, err := os.ReadFile(filepath.Join(trace, "trace")); err == nil {
				last = b
				if strings.Contains(string(b), "term") {
					break
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		done <- last
	}()
	hr.delete(id)
	took := time.Since(start)
	if got := string(<-done); got != "prestop\nterm\n" {
		t.Errorf("trace = %q, want the preStop hook before SIGTERM", got)
	}
	if took > 8*time.Second {
		t.Errorf("delete took %s: a preStop hook that never ends must be cut at the 2 s grace period", took)
	}
}

// A container that fails once, then succeeds: what each restart policy
// makes of it.
func TestRestartCountsPerPolicy(t *testing.T) {
	cases := []struct {
		policy   string
		restarts int
		phase    api.GroupStatus
	}{
		{api.RestartAlways, 1, api.GroupRunning},
		{api.RestartOnFailure, 1, api.GroupSucceeded},
		{api.RestartNever, 0, api.GroupFailed},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			hr := newHarness(t)
			// The second run succeeds; under Always it then keeps running.
			id := hr.create(`
ContainerGroupName: once
RestartPolicy: ` + tc.policy + `
TerminationGracePeriodSeconds: 1
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "if [ -f /d/ran ]; then if [ ` + tc.policy + ` = Always ]; then trap 'exit 0' TERM; while true; do sleep 0.1; done; fi; exit 0; fi; touch /d/ran; exit 1"]
    VolumeMount: [{Name: d, MountPath: /d}]
Volume:
  - {Name: d, Type: EmptyDirVolume}
`)
			st := hr.waitFor(id, 30*time.Second, string(tc.phase), func(st runtime.GroupStatus) bool {
				return st.Phase == tc.phase && st.Containers[0].RestartCount == tc.restarts &&
					(tc.phase != api.GroupRunning || st.Containers[0].Current.State == api.StateRunning)
			})
			if c := st.Containers[0]; tc.restarts > 0 && (c.Previous == nil || c.Previous.ExitCode != 1) {
				t.Errorf("previous state = %+v, want the failed first run", c.Previous)
			}
			hr.delete(id)
		})
	}
}
