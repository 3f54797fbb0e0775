package containerd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/pod"
)

// Usage reads the usage of a group's cgroup and of the cgroup of each of
// its running containers (its spec's cgroups path), keyed by container ID;
// the sandbox is left out. A container that exits while it is read is
// left out too. A group whose cgroup is gone is an error wrapping
// fs.ErrNotExist.
func (b *Backend) Usage(ctx context.Context, groupID string) (pod.GroupUsage, error) {
	if err := checkID("group", groupID); err != nil {
		return pod.GroupUsage{}, err
	}
	group, err := b.cg.Usage(b.groupCgroup(groupID))
	if err != nil {
		return pod.GroupUsage{}, err
	}
	out := pod.GroupUsage{Group: group, Containers: map[string]pod.Usage{}}

	ctx = b.conn.WithNamespace(ctx)
	cl := b.conn.Client()
	records, err := cl.ContainerService().List(ctx, groupFilter(groupID))
	if err != nil {
		return pod.GroupUsage{}, fmt.Errorf("list containers: %w", err)
	}
	for _, r := range records {
		if r.Labels[pod.LabelKind] == pod.KindSandbox || r.Spec == nil {
			continue
		}
		task, err := taskProcess(ctx, cl, r.ID)
		if err != nil {
			return pod.GroupUsage{}, err
		}
		if task.GetStatus() != tasktypes.Status_RUNNING {
			continue
		}
		var spec specs.Spec
		if err := json.Unmarshal(r.Spec.GetValue(), &spec); err != nil {
			return pod.GroupUsage{}, fmt.Errorf("spec of container %s: %w", r.ID, err)
		}
		if spec.Linux == nil || spec.Linux.CgroupsPath == "" {
			continue
		}
		u, err := b.cg.Usage(spec.Linux.CgroupsPath)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return pod.GroupUsage{}, fmt.Errorf("container %s: %w", r.ID, err)
		}
		out.Containers[r.ID] = u
	}
	return out, nil
}
