//go:build integration

package containerd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"leci/logs"
)

// TestBackendLogsOfInstantExits checks that what a container printed just
// before it exited is in its log once it is removed, stdout and stderr
// alike: what leci logs shows right after such an exit. One container
// ends its stdout before it writes to stderr, which containerd's own file
// logger (cio.LogFile) always loses; the others write
// both streams and exit at once, which it loses now and then.
func TestBackendLogsOfInstantExits(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	scripts := []string{"echo out; exec >/dev/null; sleep 0.1; echo err >&2; exit 3"}
	for range 15 {
		scripts = append(scripts, "echo out; echo err >&2; exit 3")
	}
	for i, script := range scripts {
		cfg := e.containerConfig(fmt.Sprintf("quick%d", i), script)
		exit, _ := e.run(t, sb, cfg)
		lines, err := logs.Read(cfg.LogPath, logs.ReadOptions{})
		if err != nil {
			t.Errorf("container %d: read log: %v", i, err)
			continue
		}
		var got []string
		for _, l := range lines {
			got = append(got, l.Stream+":"+l.Text)
		}
		slices.Sort(got)
		if exit.Code != 3 || strings.Join(got, "|") != "stderr:err|stdout:out" {
			t.Errorf("container %d (%s): exit %d, log lines %q; want 3, and out on stdout and err on stderr", i, script, exit.Code, got)
		}
	}
}
