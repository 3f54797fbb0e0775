//go:build integration

package containerd

import (
	"fmt"
	"os"
	"testing"
	"time"

	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"leci/pod"
)

// A task's delete cut short as a killed leci leaves it: the shim has
// dropped the task, containerd still holds its record (its state answers
// NotFound), and the shim serves nothing, never told to shut down. Removing
// the container then stops that shim and removes the task's bundle.
func TestRemoveContainerEndsATaskDeleteCutShort(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	// An init container: its task is the first of a shim of its own.
	cfg := e.containerConfig("cut", "true")
	cfg.Kind = pod.KindInit
	if exit := awaitExit(t, e.start(t, sb, cfg), 30*time.Second); exit.Code != 0 {
		t.Fatalf("exit %d, want 0", exit.Code)
	}
	shims, err := shimsOf(e.conn.Address(), e.conn.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	var shim shimProc
	for _, s := range shims {
		if s.id == cfg.ID {
			shim = s
		}
	}
	if shim.pid == 0 {
		t.Fatalf("no shim started for %s among %+v", cfg.ID, shims)
	}
	bundle, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", shim.pid))
	if err != nil {
		t.Fatal(err)
	}
	listening, err := listeningSockets()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := dialShim(e.ctx, socketOf(shim.pid, listening))
	if err != nil {
		t.Fatal(err)
	}
	// What the shim has done when containerd's delete is cut short.
	if _, err := sc.task.Delete(namespaces.WithNamespace(e.ctx, e.conn.Namespace()), &taskv2.DeleteRequest{ID: cfg.ID}); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	ctx := e.conn.WithNamespace(e.ctx)
	_, err = e.conn.Client().TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: cfg.ID})
	if err = errgrpc.ToNative(err); !errdefs.IsNotFound(err) {
		t.Fatalf("task state once the shim dropped it: %v, want NotFound", err)
	}

	if err := e.b.RemoveContainer(e.ctx, cfg.ID); err != nil {
		t.Fatalf("remove: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); !isZombie(shim.pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the shim (%d) still runs after the container was removed", shim.pid)
		}
	}
	if _, err := os.Stat(bundle); !os.IsNotExist(err) {
		t.Errorf("the task's bundle %s: %v, want it removed", bundle, err)
	}
}
