//go:build integration

package integration

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	dockercontainer "github.com/docker/docker/api/types/container"
	"github.com/opencontainers/image-spec/identity"

	"leci/api"
	"leci/host"
	"leci/pod"
	"leci/runtime"
)

// A leci killed while it created a container leaves, under the name of
// that container's run, its snapshot alone, or the container with its
// snapshot and a created task, and perhaps a log. The leci after it
// creates the same run again: what it finds under the name is the group's
// and is cleared, so the run is created at the first try, not refused for
// ever as "already exists", and its log holds its own output only.
func TestLeftoversOfACutShortCreateAreCleared(t *testing.T) {
	hr := newHarness(t)
	// Both containers wait for this directory (their configurations fail
	// without it, so neither is created, ahead of its start or at it),
	// so that the group is set up and its containers not yet created
	// while the leftovers are made.
	gate := filepath.Join(t.TempDir(), "gate")
	id := hr.create(fmt.Sprintf(`
ContainerGroupName: leftovers
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
InitContainer:
  - Name: init
    Image: %[1]s
    Command: [sh, -c, "echo fetched > /work/input; echo init ran"]
    VolumeMount: [{Name: work, MountPath: /work}, {Name: gate, MountPath: /gate}]
Container:
  - Name: app
    Image: %[1]s
    Command: [sh, -c, "cat /work/input; trap 'exit 0' TERM; while true; do sleep 0.2; done"]
    VolumeMount: [{Name: work, MountPath: /work}, {Name: config, MountPath: /config}, {Name: gate, MountPath: /gate}]
Volume:
  - {Name: work, Type: EmptyDirVolume}
  - {Name: gate, Type: HostPathVolume, HostPathVolume: {Path: %[2]s, Type: Directory}}
  - {Name: config, Type: ConfigFileVolume, ConfigFileVolume: {ConfigFileToPath: [{Path: app.conf, Content: %[3]s}]}}
`, image, gate, "a2V5PXZhbHVl"))
	hr.waitFor(id, 30*time.Second, "the init container waiting for its host path", func(st runtime.GroupStatus) bool {
		return st.InitContainers[0].Current.Reason == runtime.ReasonCreateConfigError
	})

	// The runs the engine creates next: the first of each container.
	initRun, appRun := id+"-init-1", id+"-app-1"
	switch testRuntime {
	case host.RuntimeContainerd:
		leaveSnapshot(t, hr, initRun)
		leaveContainerWithTask(t, hr, id, "app", appRun)
	case host.RuntimeDocker:
		leaveDockerContainer(t, hr, id, "init", pod.KindInit, initRun)
		leaveDockerContainer(t, hr, id, "app", pod.KindApp, appRun)
	}
	leftLog := runtime.LogPath(hr.cfg.Root, id, "init", 1)
	if err := os.MkdirAll(filepath.Dir(leftLog), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(leftLog, []byte("2026-01-01T00:00:00.000000000Z stdout F left by a run cut short\n"), 0o640); err != nil {
		t.Fatal(err)
	}

	if err := os.Mkdir(gate, 0o755); err != nil {
		t.Fatal(err)
	}
	st := hr.waitPhase(id, api.GroupRunning)
	for _, e := range st.Events {
		if e.Reason == "Failed" && !strings.Contains(e.Message, gate) {
			t.Errorf("a create failed over what was left under its name: %s: %s", e.Object, e.Message)
		}
	}
	if c := st.InitContainers[0]; c.Current.Reason != runtime.ReasonCompleted || c.RestartCount != 0 || c.ID != initRun {
		t.Errorf("init container: %s, run %s with %d restarts; want Completed, run %s, no restart", describe(st), c.ID, c.RestartCount, initRun)
	}
	if c := st.Containers[0]; c.ID != appRun || c.RestartCount != 0 {
		t.Errorf("app container: run %s with %d restarts, want %s with none", c.ID, c.RestartCount, appRun)
	}
	if got := hr.logOf(id, "init", 1); got != "init ran\n" {
		t.Errorf("init container's log: %q, want only its own output %q", got, "init ran\n")
	}
	eventually(t, "the app container's output", func() bool { return hr.logSoFar(id, "app", 1) == "fetched\n" })
	hr.delete(id)
	hr.assertNoShims()
	// The harness checks, as the test ends, that nothing else is left.
}

// leaveSnapshot prepares the container's writable snapshot under a lease,
// as CreateContainer does first, and leaves it there as a leci killed right
// after would.
func leaveSnapshot(t *testing.T, hr *harness, name string) {
	t.Helper()
	ctx, cl := leftoverClient(t, hr)
	ctx, done, err := cl.WithLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lease would expire in a day; the test's own goes with it.
	t.Cleanup(func() { done(context.WithoutCancel(ctx)) })
	img, err := cl.GetImage(ctx, testImageRef)
	if err != nil {
		t.Fatal(err)
	}
	diffIDs, err := img.RootFS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SnapshotService("overlayfs").Prepare(ctx, name, identity.ChainID(diffIDs).String()); err != nil {
		t.Fatal(err)
	}
}

// leaveContainerWithTask makes a container of the group with its snapshot,
// and its task created but not started, as a leci killed between creating
// a task and starting it leaves them.
func leaveContainerWithTask(t *testing.T, hr *harness, groupID, name, run string) {
	t.Helper()
	ctx, cl := leftoverClient(t, hr)
	img, err := cl.GetImage(ctx, testImageRef)
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := cl.NewContainer(ctx, run,
		client.WithSnapshotter("overlayfs"),
		client.WithNewSnapshot(run, img),
		client.WithContainerLabels(map[string]string{
			pod.LabelGroupID: groupID, pod.LabelContainer: name, pod.LabelKind: pod.KindApp, pod.LabelAttempt: "1",
		}),
		client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sleep", "600"),
			oci.WithCgroup(path.Join(hr.cgroupRoot, run))),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ctr.NewTask(ctx, cio.NullIO); err != nil {
		t.Fatal(err)
	}
}

func leftoverClient(t *testing.T, hr *harness) (context.Context, *client.Client) {
	t.Helper()
	return hr.h.Conn.WithNamespace(context.Background()), hr.h.Conn.Client()
}

// leaveDockerContainer makes a container of the group under the run's name,
// created and not started, with the labels the Docker backend gives it.
func leaveDockerContainer(t *testing.T, hr *harness, groupID, name, kind, run string) {
	t.Helper()
	_, err := hr.h.Docker.Client().ContainerCreate(context.Background(), &dockercontainer.Config{
		Image: image,
		Cmd:   []string{"sleep", "600"},
		Labels: map[string]string{
			dockerOwnerLabel: hr.cfg.Root,
			pod.LabelGroupID: groupID, pod.LabelContainer: name, pod.LabelKind: kind, pod.LabelAttempt: "1",
		},
	}, &dockercontainer.HostConfig{NetworkMode: "none"}, nil, nil, run)
	if err != nil {
		t.Fatal(err)
	}
}
