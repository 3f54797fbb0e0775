package network

import (
	"context"
	"errors"

	"leci/pod"
)

// Usage reads the traffic counters of a group's interfaces inside its
// network namespace.
func (m *Manager) Usage(ctx context.Context, groupID string) ([]pod.InterfaceUsage, error) {
	return nil, errors.ErrUnsupported
}
