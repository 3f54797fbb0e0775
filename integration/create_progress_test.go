//go:build integration

package integration

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"leci/internal/testutil"
)

// TestCreateWaitPullProgress: `leci create --wait` through the daemon
// prints the group's id, then, off a terminal, the layers of the pull the
// daemon makes as plain lines (as `leci image pull` prints them), then the
// group's way to running.
func TestCreateWaitPullProgress(t *testing.T) {
	hr := newHarness(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{})
	ref := reg.Push(t, uniqueImage(t), "leci-it/create-wait:1")
	d := hr.startDaemon()
	request := fmt.Sprintf(`ContainerGroupName: create-wait-progress
RestartPolicy: Never
PlainHttpRegistry: %s
Container:
  - Name: app
    Image: %s
    Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.2; done"]
`, reg.Host, ref)
	cmd := hr.leci(request, "create", "-f", "-", "--wait", "running")
	cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	code, out, errOut := runCmd(t, cmd)
	id := strings.TrimSpace(out)
	if strings.HasPrefix(id, "eci-") {
		// Deleted by the daemon, before it stops and the harness checks.
		t.Cleanup(func() {
			if _, err := d.client("", "delete", "--wait", id); err != nil {
				t.Errorf("delete: %v", err)
			}
			waitNoLogWriter(t, hr.cfg.Root)
			runCmd(t, hr.leci("", "image", "rm", ref))
		})
	}
	if code != 0 || !strings.HasPrefix(id, "eci-") || strings.Contains(id, "\n") {
		t.Fatalf("create --wait: exit %d, stdout %q\n%s", code, out, errOut)
	}
	pulled := strings.Index(errOut, ": Pull complete\n")
	running := strings.Index(errOut, ": Running")
	if pulled < 0 || running < pulled {
		t.Errorf("create --wait showed no pull, or the pull after Running:\n%s", errOut)
	}
	checkPlainProgress(t, errOut)
}
