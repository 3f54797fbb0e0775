package containerd

import (
	"context"
	"slices"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
)

// withPreparedSnapshot is client.WithSnapshot (in leci's snapshotter) for
// the snapshot the create just prepared, which it need not ask containerd
// for (its mounts) to know it is there.
func withPreparedSnapshot(key string) client.NewContainerOpts {
	return func(_ context.Context, _ *client.Client, c *containers.Container) error {
		c.Snapshotter, c.SnapshotKey = snapshotter, key
		return nil
	}
}

// withRootfsMounts gives opts a client whose snapshotter answers the
// mounts of snapshot key with mounts, which its Prepare returned: the spec
// options that read the image's /etc/passwd and /etc/group ask containerd
// for them otherwise, each once (round trips on the path of every create).
func withRootfsMounts(key string, mounts []mount.Mount, opts []oci.SpecOpts) []oci.SpecOpts {
	out := make([]oci.SpecOpts, len(opts))
	for i, opt := range opts {
		out[i] = func(ctx context.Context, cl oci.Client, c *containers.Container, s *oci.Spec) error {
			return opt(ctx, knownMountsClient{Client: cl, key: key, mounts: mounts}, c, s)
		}
	}
	return out
}

type knownMountsClient struct {
	oci.Client
	key    string
	mounts []mount.Mount
}

func (k knownMountsClient) SnapshotService(name string) snapshots.Snapshotter {
	return knownMountsSnapshotter{Snapshotter: k.Client.SnapshotService(name), key: k.key, mounts: k.mounts}
}

type knownMountsSnapshotter struct {
	snapshots.Snapshotter
	key    string
	mounts []mount.Mount
}

// Mounts answers for the known snapshot with a copy its caller may change
// (the readers make the mounts read-only in place).
func (s knownMountsSnapshotter) Mounts(ctx context.Context, key string) ([]mount.Mount, error) {
	if key != s.key {
		return s.Snapshotter.Mounts(ctx, key)
	}
	out := slices.Clone(s.mounts)
	for i := range out {
		out[i].Options = slices.Clone(out[i].Options)
	}
	return out, nil
}
