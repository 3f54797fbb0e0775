package containerd

import (
	"context"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"

	"leci/internal/seethrough"
)

// What a create makes in containerd (a snapshot, a container record, a
// task) is made even when the create's caller goes away meanwhile, and
// the caller, told its context ended, would leave it behind: a failed
// create must have made nothing. Each is seen through, and removed again
// if the caller has gone (seethrough).

// createTimeout bounds the create of a snapshot, a container record or a
// task, which ctx's end does not cut short; on a busy host it takes
// seconds.
const createTimeout = 2 * time.Minute

// seeCreateThrough creates a task with create, and sees the create through
// even when ctx ends meanwhile (seethrough): containerd 1.6, told that a
// create was cancelled while its shim makes the task, asks the shim to
// delete the task before the shim holds it, and the shim then keeps it,
// and runs for ever (see RemoveOrphanShims).
func seeCreateThrough(ctx context.Context, create func(context.Context) (client.Task, error)) (client.Task, error) {
	return seethrough.Create(ctx, createTimeout, create, func(ctx context.Context, task client.Task) error {
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", task.ID(), err)
		}
		return nil
	})
}

// newContainerSeenThrough makes a container record as cl.NewContainer
// does, seen through (seethrough) as a task's create is: containerd
// commits a record whose caller went away, and it would stay, holding its
// snapshot's name.
func newContainerSeenThrough(ctx context.Context, cl *client.Client, id string, opts ...client.NewContainerOpts) (client.Container, error) {
	return seethrough.Create(ctx, createTimeout, func(ctx context.Context) (client.Container, error) {
		return cl.NewContainer(ctx, id, opts...)
	}, func(ctx context.Context, ctr client.Container) error {
		if err := ctr.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete container %s: %w", id, err)
		}
		return nil
	})
}

// prepareSeenThrough prepares snapshot key on parent as sn.Prepare does,
// seen through: containerd commits a snapshot whose caller went away, and
// the container's create, failing, would not remove what it did not know
// it had made.
func prepareSeenThrough(ctx context.Context, sn snapshots.Snapshotter, key, parent string, opts ...snapshots.Opt) ([]mount.Mount, error) {
	return seethrough.Create(ctx, createTimeout, func(ctx context.Context) ([]mount.Mount, error) {
		return sn.Prepare(ctx, key, parent, opts...)
	}, func(ctx context.Context, _ []mount.Mount) error {
		if err := sn.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove snapshot %s: %w", key, err)
		}
		return nil
	})
}
