package network

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"

	"leci/internal/netns"
	"leci/pod"
)

// Usage reads the traffic counters of a group's interfaces inside its
// network namespace, sorted by name; loopback is left out, since traffic
// within the group is not the group's network use. A group whose
// namespace is gone is an error wrapping fs.ErrNotExist.
func (m *Manager) Usage(ctx context.Context, groupID string) ([]pod.InterfaceUsage, error) {
	if err := validateGroupID(groupID); err != nil {
		return nil, err
	}
	var out []pod.InterfaceUsage
	err := netns.Run(m.NetNSPath(groupID), func() error {
		links, err := netlink.LinkList()
		if err != nil {
			return fmt.Errorf("list interfaces: %w", err)
		}
		for _, l := range links {
			a := l.Attrs()
			if a.Flags&net.FlagLoopback != 0 || a.Statistics == nil {
				continue
			}
			s := a.Statistics
			out = append(out, pod.InterfaceUsage{
				Name:    a.Name,
				RxBytes: s.RxBytes, TxBytes: s.TxBytes, RxPackets: s.RxPackets, TxPackets: s.TxPackets,
				RxErrors: s.RxErrors, TxErrors: s.TxErrors, RxDropped: s.RxDropped, TxDropped: s.TxDropped,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("network usage of %s: %w", groupID, err)
	}
	slices.SortFunc(out, func(a, b pod.InterfaceUsage) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
