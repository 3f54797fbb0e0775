package containerd

import (
	"context"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/oci"
)

// askedSnapshotter counts the mounts asked of it, as containerd's would.
type askedSnapshotter struct {
	snapshots.Snapshotter
	asked []string
}

func (a *askedSnapshotter) Mounts(_ context.Context, key string) ([]mount.Mount, error) {
	a.asked = append(a.asked, key)
	return []mount.Mount{{Type: "bind", Source: "/elsewhere/" + key}}, nil
}

type askedClient struct{ s *askedSnapshotter }

func (c askedClient) SnapshotService(string) snapshots.Snapshotter { return c.s }

// The options see the prepared snapshot's mounts without asking
// containerd, a copy each that they may change; any other snapshot's
// mounts are still asked for.
func TestWithRootfsMountsAnswersThePreparedSnapshot(t *testing.T) {
	prepared := []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=/l", "upperdir=/u", "workdir=/w"}}}
	asked := &askedSnapshotter{}
	var got [][]mount.Mount
	var firstOptions []string // the first option of each answer, as its reader found it
	read := func(key string) oci.SpecOpts {
		return func(ctx context.Context, cl oci.Client, _ *containers.Container, _ *oci.Spec) error {
			m, err := cl.SnapshotService("overlayfs").Mounts(ctx, key)
			got = append(got, m)
			if len(m) > 0 && len(m[0].Options) > 0 {
				firstOptions = append(firstOptions, m[0].Options[0])
				m[0].Options[0] = "changed by the reader"
			}
			return err
		}
	}
	opts := withRootfsMounts("c-1", prepared, []oci.SpecOpts{read("c-1"), read("c-1"), read("other")})
	for _, o := range opts {
		if err := o(context.Background(), askedClient{asked}, &containers.Container{}, &oci.Spec{}); err != nil {
			t.Fatal(err)
		}
	}
	if len(asked.asked) != 1 || asked.asked[0] != "other" {
		t.Errorf("asked containerd for the mounts of %v, want only [other]", asked.asked)
	}
	if len(firstOptions) != 2 || firstOptions[1] != "lowerdir=/l" || prepared[0].Options[0] != "lowerdir=/l" {
		t.Errorf("a reader's change reached the next reader (%v) or the prepared mounts (%v)", firstOptions, prepared[0].Options)
	}
	if got[2][0].Source != "/elsewhere/other" {
		t.Errorf("mounts of another snapshot: %v", got[2])
	}
}
