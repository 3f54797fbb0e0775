//go:build integration

package containerd

import (
	"errors"
	"testing"

	"github.com/containerd/errdefs"
	"github.com/opencontainers/image-spec/identity"

	"leci/internal/testimage"
	"leci/pod"
)

// CreateContainer made again under the same name, as after a crash of leci
// in the middle of the first: the first's container and snapshot are the
// group's and give way. A snapshot of another group under the name does
// not: the create fails with ErrNameTaken and leaves it be.
func TestCreateContainerAgainTakesOnlyItsGroupsLeftovers(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	ctx := e.conn.WithNamespace(e.ctx)
	sn := e.conn.Client().SnapshotService(snapshotter)

	cfg := e.containerConfig("again", "echo second")
	if err := e.b.CreateContainer(e.ctx, sb, cfg); err != nil {
		t.Fatal(err)
	}
	if info, err := sn.Stat(ctx, cfg.ID); err != nil || info.Labels[pod.LabelGroupID] != e.group {
		t.Errorf("snapshot of %s: labels %v (%v), want the group's label", cfg.ID, info.Labels, err)
	}
	if exit, out := e.run(t, sb, cfg); exit.Code != 0 || out != "second\n" {
		t.Errorf("the create made again: exit %d, output %q", exit.Code, out)
	}

	img, err := e.conn.Image(ctx, testimage.DefaultRef)
	if err != nil {
		t.Fatal(err)
	}
	diffIDs, err := img.Handle.RootFS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	foreign := e.containerConfig("foreign", "true")
	// Under a lease, as another group's create holds its snapshot: an
	// unheld one is containerd's garbage collector's to take (it runs
	// after the removals above), and the create below would then find
	// nothing in its way.
	lctx, release, err := e.conn.Client().WithLease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer release(ctx)
	if _, err := sn.Prepare(lctx, foreign.ID, identity.ChainID(diffIDs).String(), snapshotOfGroup("eci-another")); err != nil {
		t.Fatal(err)
	}
	defer sn.Remove(ctx, foreign.ID)
	if err := e.b.CreateContainer(e.ctx, sb, foreign); !errors.Is(err, pod.ErrNameTaken) {
		t.Errorf("create over another group's snapshot: %v, want ErrNameTaken", err)
	}
	if _, err := sn.Stat(ctx, foreign.ID); errdefs.IsNotFound(err) {
		t.Error("another group's snapshot was removed")
	}
}
