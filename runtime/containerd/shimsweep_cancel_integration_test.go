//go:build integration

package containerd

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Task creates cancelled at moments spread over their length, twice, as
// a group's delete under way or a stopping daemon cancels them, leave no
// shim once the group is removed: a create is seen through, and a task
// made after the cancel is deleted. (Cut short instead, a create leaves a
// shim about every other run of 16, where the cancel meets the shim's
// start.)
func TestBackendCancelledTaskCreatesLeaveNoShim(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	cancelled := 0
	for i := range 32 {
		cfg := e.containerConfig(fmt.Sprintf("c%d", i), "sleep 600")
		if err := e.b.CreateContainer(e.ctx, sb, cfg); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(e.ctx)
		timer := time.AfterFunc(time.Duration(i%16)*10*time.Millisecond, cancel)
		if _, err := e.b.StartContainer(ctx, cfg.ID); err != nil {
			cancelled++
		}
		timer.Stop()
		cancel()
		if err := e.b.RemoveContainer(e.ctx, cfg.ID); err != nil {
			t.Fatalf("remove %s: %v", cfg.Name, err)
		}
	}
	t.Logf("%d of 32 starts cancelled", cancelled)
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.removed = true
	ns := e.conn.Namespace()
	for deadline := time.Now().Add(10 * time.Second); len(shimPIDs(t, ns)) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("shims %v left after the group was removed", shimPIDs(t, ns))
		}
	}
	e.assertGroupGone(t)
}
