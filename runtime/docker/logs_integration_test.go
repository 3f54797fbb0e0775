//go:build integration

package docker

import (
	"context"
	"fmt"
	"testing"

	"leci/pod"
)

// TestLogsOfInstantExits checks that what a container printed just before
// it exited is in its log once it is removed, stdout and stderr alike, as
// the containerd backend's test of the same name does: one container ends
// its stdout before it writes to stderr, the others write both streams
// and exit at once.
func TestLogsOfInstantExits(t *testing.T) {
	e := newEnv(t)
	sb := e.startSandbox(t, pod.Resources{})
	scripts := []string{"echo out; exec >/dev/null; sleep 0.1; echo err >&2; exit 3"}
	for range 5 {
		scripts = append(scripts, "echo out; echo err >&2; exit 3")
	}
	for i, script := range scripts {
		cfg := e.container(fmt.Sprintf("quick%d", i), "sh", "-c", script)
		ex := e.run(t, sb, cfg)
		if err := e.b.RemoveContainer(context.Background(), cfg.ID); err != nil {
			t.Fatal(err)
		}
		// The two streams are copied apart, so either may come first.
		if got := logText(t, cfg.LogPath); ex.Code != 3 || (got != "stdout out\nstderr err\n" && got != "stderr err\nstdout out\n") {
			t.Errorf("container %d (%s): exit %d, log:\n%s\nwant 3, and out on stdout and err on stderr", i, script, ex.Code, got)
		}
	}
}
