//go:build integration

package containerd

import (
	"testing"
	"time"

	"leci/pod"
)

// Usage reads the cgroups of the group and of its running containers: not
// the sandbox's, nor that of a container whose task has exited and is not
// deleted yet.
func TestUsageOfRunningContainersOnly(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	running := e.containerConfig("runs", "exec sleep 600")
	e.start(t, sb, running)
	ended := e.containerConfig("ended", "true")
	ended.Kind = pod.KindInit
	if exit := awaitExit(t, e.start(t, sb, ended), 30*time.Second); exit.Code != 0 {
		t.Fatalf("exit %d, want 0", exit.Code)
	}
	defer func() {
		for _, id := range []string{running.ID, ended.ID} {
			if err := e.b.RemoveContainer(e.ctx, id); err != nil {
				t.Errorf("remove %s: %v", id, err)
			}
		}
	}()

	u, err := e.b.Usage(e.ctx, e.group)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Containers) != 1 {
		t.Errorf("usage of containers %v, want the running one's alone", u.Containers)
	}
	if cu, ok := u.Containers[running.ID]; !ok || cu.MemoryUsage == 0 || cu.CPUNanos == 0 {
		t.Errorf("usage of the running container: %+v (found %v), want its memory and CPU", cu, ok)
	}
	if u.Group.MemoryUsage < u.Containers[running.ID].MemoryUsage {
		t.Errorf("group memory %d below its container's %d", u.Group.MemoryUsage, u.Containers[running.ID].MemoryUsage)
	}
}
