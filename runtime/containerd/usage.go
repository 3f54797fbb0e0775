package containerd

import (
	"context"
	"errors"

	"leci/pod"
)

// Usage reads the usage of a group's cgroup and its containers' cgroups.
func (b *Backend) Usage(ctx context.Context, groupID string) (pod.GroupUsage, error) {
	return pod.GroupUsage{}, errors.ErrUnsupported
}
