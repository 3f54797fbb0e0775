package containerd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/leases"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"

	"leci/pod"
)

// labelCreating marks the lease CreateContainer holds while it creates a
// container, with the container's ID: a lease left by a leci killed in the
// middle can then be found and released.
const labelCreating = "leci.creating"

// creationLease is the lease of CreateContainer for container id: what
// client.WithLease makes by default (a day before it expires), labelled.
func creationLease(id string) []leases.Opt {
	return []leases.Opt{leases.WithRandomID(), leases.WithExpiration(24 * time.Hour), leases.WithLabel(labelCreating, id)}
}

// snapshotOfGroup labels a container's snapshot with its group, which
// tells removeLeftover whose it is.
func snapshotOfGroup(groupID string) snapshots.Opt {
	return snapshots.WithLabels(map[string]string{pod.LabelGroupID: groupID})
}

// removeLeftover removes what a create of the same container, cut short by
// a crash of leci, left under its name, so that the create can be made
// again: the container with its task and snapshot, or the snapshot alone,
// and the lease that held them. The container must carry the group's label;
// a bare snapshot must be a writable one with no other group's label (those
// made before snapshots were labelled have none). Anything else under the
// name is not leci's to remove: the error wraps pod.ErrNameTaken.
func (b *Backend) removeLeftover(ctx context.Context, cfg pod.ContainerConfig) error {
	cl := b.conn.Client()
	log := b.log.With("group", cfg.GroupID, "container", cfg.ID)
	ctr, err := cl.LoadContainer(ctx, cfg.ID)
	switch {
	case err == nil:
		labels, err := ctr.Labels(ctx)
		if err != nil {
			return fmt.Errorf("container %s: %w", cfg.ID, err)
		}
		if owner := labels[pod.LabelGroupID]; owner != cfg.GroupID {
			return fmt.Errorf("container %s: %w: a container of group %q", cfg.ID, pod.ErrNameTaken, owner)
		}
		log.Warn("removing the container a create cut short left")
		if err := b.removeContainer(ctx, ctr); err != nil {
			return err
		}
	case !errdefs.IsNotFound(err):
		return fmt.Errorf("load container %s: %w", cfg.ID, err)
	default:
		sn := cl.SnapshotService(snapshotter)
		info, err := sn.Stat(ctx, cfg.ID)
		if errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", cfg.ID, err)
		}
		if owner, ok := info.Labels[pod.LabelGroupID]; info.Kind != snapshots.KindActive || ok && owner != cfg.GroupID {
			return fmt.Errorf("container %s: %w: a %s snapshot of group %q", cfg.ID, pod.ErrNameTaken, info.Kind, owner)
		}
		log.Warn("removing the snapshot a create cut short left")
		if err := sn.Remove(ctx, cfg.ID); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove snapshot %s: %w", cfg.ID, err)
		}
	}
	return b.releaseCreationLeases(ctx, cl, cfg.ID)
}

// leaseReleased tells whether this process made the container and has
// released the lease of its create (waiting for that release if it is
// under way), and forgets it: the container's removal need not then look
// for leases to release.
func (b *Backend) leaseReleased(ctx context.Context, id string) bool {
	v, ok := b.leaseReleases.LoadAndDelete(id)
	if !ok {
		return false
	}
	r := v.(*leaseRelease)
	select {
	case <-r.done:
		return r.ok
	case <-ctx.Done():
		return false
	}
}

// releaseCreationLeases deletes the leases of creates of container id that
// never finished.
func (b *Backend) releaseCreationLeases(ctx context.Context, cl *client.Client, id string) error {
	ls := cl.LeasesService()
	list, err := ls.List(ctx, fmt.Sprintf("labels.%q==%q", labelCreating, id))
	if err != nil {
		return fmt.Errorf("leases of container %s: %w", id, err)
	}
	var errs []error
	for _, l := range list {
		if err := ls.Delete(ctx, l); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("release lease %s of container %s: %w", l.ID, id, err))
		}
	}
	return errors.Join(errs...)
}
