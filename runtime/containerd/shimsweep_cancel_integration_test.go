//go:build integration

package containerd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/containerd/errdefs"
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

// Container creates cancelled at moments spread over their length (the
// image check, the snapshot, the record) leave nothing when they fail: a
// record that containerd committed after its caller went away is deleted
// again, and so is the snapshot. (The engine removes a container whose
// create failed, but the client's cancel returns at once: its removal can
// come before containerd commits the record, which would then stay.)
func TestBackendCancelledContainerCreatesLeaveNothing(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	ctx := e.conn.WithNamespace(e.ctx)
	// How long one create takes here: the cancels are spread over it.
	cfg := e.containerConfig("timed", "sleep 600")
	began := time.Now()
	if err := e.b.CreateContainer(e.ctx, sb, cfg); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if err := e.b.RemoveContainer(e.ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
	cancelled := 0
	for i := range 40 {
		cfg := e.containerConfig(fmt.Sprintf("c%d", i), "sleep 600")
		cctx, cancel := context.WithCancel(e.ctx)
		timer := time.AfterFunc(took*time.Duration(i)/40, cancel)
		err := e.b.CreateContainer(cctx, sb, cfg)
		timer.Stop()
		cancel()
		if err == nil {
			if err := e.b.RemoveContainer(e.ctx, cfg.ID); err != nil {
				t.Fatalf("remove %s: %v", cfg.Name, err)
			}
			continue
		}
		cancelled++
		if _, lerr := e.conn.Client().LoadContainer(ctx, cfg.ID); !errdefs.IsNotFound(lerr) {
			t.Errorf("create of %s failed (%v), and its container record is there (%v)", cfg.Name, err, lerr)
		}
		if _, serr := e.conn.Client().SnapshotService(snapshotter).Stat(ctx, cfg.ID); !errdefs.IsNotFound(serr) {
			t.Errorf("create of %s failed (%v), and its snapshot is there (%v)", cfg.Name, err, serr)
		}
	}
	t.Logf("%d of 40 creates cancelled (one takes %v)", cancelled, took)
	if cancelled == 0 || cancelled == 40 {
		t.Errorf("%d of 40 creates cancelled: the cancels missed the creates", cancelled)
	}
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.removed = true
	e.assertGroupGone(t)
}
