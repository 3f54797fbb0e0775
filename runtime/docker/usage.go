package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"

	"github.com/docker/docker/api/types/container"

	"leci/pod"
)

// Usage reads the usage of a group's cgroup and of the cgroup of each of
// its running containers (CgroupParent/<Docker's container ID>, the
// cgroupfs driver's layout), keyed by container ID; the sandbox is left
// out, and so is a container that exits while it is read. A group whose
// cgroup is gone is an error wrapping fs.ErrNotExist.
func (b *Backend) Usage(ctx context.Context, groupID string) (pod.GroupUsage, error) {
	if err := checkID("group", groupID); err != nil {
		return pod.GroupUsage{}, err
	}
	groupCg := b.groupCgroup(groupID)
	group, err := b.cg.Usage(groupCg)
	if err != nil {
		return pod.GroupUsage{}, err
	}
	out := pod.GroupUsage{Group: group, Containers: map[string]pod.Usage{}}
	list, err := b.cli.ContainerList(ctx, container.ListOptions{Filters: b.ownFilter(groupID)})
	if err != nil {
		return pod.GroupUsage{}, fmt.Errorf("list containers: %w", err)
	}
	for _, c := range list {
		if c.Labels[pod.LabelKind] == pod.KindSandbox || c.State != container.StateRunning {
			continue
		}
		u, err := b.cg.Usage(path.Join(groupCg, c.ID))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return pod.GroupUsage{}, err
		}
		out.Containers[nameOf(c.Names)] = u
	}
	return out, nil
}
