//go:build integration

package integration

import (
	"context"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// foregroundRun is a leci run in the background, up to its group's id.
type foregroundRun struct {
	cmd    *exec.Cmd
	stderr *lockedBuffer
	id     string
}

var createdLine = regexp.MustCompile(`group \S+ \((eci-[a-z0-9]+)\) created`)

// startRun starts `leci run` for req and waits until its group runs.
func (hr *harness) startRun(req string) *foregroundRun {
	hr.t.Helper()
	cmd := hr.leci(req, "run", "-f", "-")
	r := &foregroundRun{cmd: cmd, stderr: &lockedBuffer{}}
	cmd.Stderr = r.stderr
	if err := cmd.Start(); err != nil {
		hr.t.Fatal(err)
	}
	hr.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out := r.stderr.String()
		if m := createdLine.FindStringSubmatch(out); m != nil && strings.Contains(out, "group Running") {
			r.id = m[1]
			return r
		}
		if time.Now().After(deadline) {
			hr.t.Fatalf("leci run: no running group after a minute:\n%s", out)
		}
	}
}

// backendHolds reports whether the runtime holds containers of the group.
func (hr *harness) backendHolds(id string) bool {
	hr.t.Helper()
	groups, err := hr.h.Engine.BackendGroups(context.Background())
	if err != nil {
		hr.t.Fatal(err)
	}
	return groups[id]
}

// A leci run killed with SIGKILL (as a CI job's timeout kills it) leaves
// its group running. leci gc deletes it, whole, and leaves alone the group
// of a leci run that still runs; so does the next leci run on the root.
func TestKilledRunsGroupIsCollected(t *testing.T) {
	hr := newHarness(t)
	forever := func(name string) string {
		return "ContainerGroupName: " + name + "\nTerminationGracePeriodSeconds: 1\nVolume:\n  - {Name: v, Type: EmptyDirVolume}\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, 'trap \"exit 0\" TERM; while true; do sleep 0.1; done'], VolumeMount: [{Name: v, MountPath: /v}]}\n"
	}
	alive := hr.startRun(forever("alive"))
	killed := hr.startRun(forever("killed"))
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.cmd.Wait()
	if !hr.backendHolds(killed.id) {
		t.Fatalf("the killed run's group %s is not running: nothing to collect", killed.id)
	}

	code, out, errOut := runCmd(t, hr.leci("", "gc"))
	if code != 0 || out != killed.id+"\n" {
		t.Fatalf("leci gc: exit %d, printed %q; want 0 and %s\n%s", code, out, killed.id, errOut)
	}
	if hr.backendHolds(killed.id) {
		t.Errorf("the killed run's group %s still has containers after leci gc", killed.id)
	}
	if !hr.backendHolds(alive.id) {
		t.Errorf("leci gc removed %s, the group of a leci run that still runs", alive.id)
	}
	if code, out, _ := runCmd(t, hr.leci("", "gc")); code != 0 || out != "" {
		t.Errorf("second leci gc: exit %d, printed %q; want nothing to do", code, out)
	}

	// The next leci run deletes what a killed one left, beside its own.
	killed = hr.startRun(forever("killed-again"))
	killed.cmd.Process.Signal(syscall.SIGKILL)
	killed.cmd.Wait()
	job := "ContainerGroupName: job\nRestartPolicy: Never\nContainer:\n  - {Name: app, Image: " + image + ", Command: [echo, done]}\n"
	if code, out, errOut := runCmd(t, hr.leci(job, "run", "-f", "-")); code != 0 || out != "app| done\n" {
		t.Fatalf("leci run after a killed one: exit %d, stdout %q\n%s", code, out, errOut)
	}
	if hr.backendHolds(killed.id) {
		t.Errorf("the next leci run left %s, the group of the killed run", killed.id)
	}
	if !hr.backendHolds(alive.id) {
		t.Errorf("the next leci run removed %s, the group of a leci run that still runs", alive.id)
	}

	alive.cmd.Process.Signal(syscall.SIGTERM)
	alive.cmd.Wait()
	if hr.backendHolds(alive.id) {
		t.Errorf("the live run's group %s is left after its run ended", alive.id)
	}
	// The harness checks, as it ends, that nothing of any group is left.
}
