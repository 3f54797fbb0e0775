package network

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"

	"leci/pod"
)

// Errors of Setup that callers may want to tell apart.
var (
	// ErrIPv6NotConfigured: a group asked for IPv6 and the network has no
	// IPv6 subnet (Config.Subnet6), or the user's network gave no IPv6
	// address.
	ErrIPv6NotConfigured = errors.New("IPv6 requested but no IPv6 subnet is configured")
	// ErrPortConflict: a group asked to publish a host port that another
	// group of this Manager already publishes.
	ErrPortConflict = errors.New("host port already published by another group")
	// ErrNotSupported: the user's network has no plugin for what a group
	// asked (port publishing, bandwidth limits).
	ErrNotSupported = errors.New("not supported by the network")
)

// Requests reach CNI only as these typed values, which libcni puts into
// the plugins' runtimeConfig: nothing of a request is ever written into
// the text of a conflist.

// portMapEntry is one entry of the portMappings capability (portmap).
type portMapEntry struct {
	HostPort      int    `json:"hostPort"`
	ContainerPort int    `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// bandwidthEntry is the bandwidth capability (bandwidth plugin): rates in
// bits per second, bursts in bits. Ingress is what the group receives,
// shaped by a tbf qdisc on the host side of its veth; egress is what it
// sends, redirected to an ifb device and shaped there.
type bandwidthEntry struct {
	IngressRate  uint64 `json:"ingressRate"`
	IngressBurst uint64 `json:"ingressBurst"`
	EgressRate   uint64 `json:"egressRate"`
	EgressBurst  uint64 `json:"egressBurst"`
}

// capabilityArgs are a group's runtime values for CNI, kept in its journal
// so that DEL sees what ADD saw.
type capabilityArgs struct {
	PortMappings []portMapEntry `json:"portMappings,omitempty"`
	// Bandwidth is always given, all zero for no limit: the bandwidth
	// plugin's CHECK (1.1.1) dereferences it without looking.
	Bandwidth *bandwidthEntry `json:"bandwidth,omitempty"`
	// IPs are the addresses the group asked for (PrivateIpAddress), which
	// host-local gives or refuses.
	IPs []string `json:"ips,omitempty"`
}

// asMap is the form libcni takes.
func (c capabilityArgs) asMap() map[string]any {
	m := map[string]any{}
	if len(c.PortMappings) > 0 {
		m[capPortMappings] = c.PortMappings
	}
	if c.Bandwidth != nil {
		m[capBandwidth] = c.Bandwidth
	}
	if len(c.IPs) > 0 {
		m[capIPs] = c.IPs
	}
	return m
}

// Bandwidth limits. The request gives a rate only; the bucket that tbf
// needs is sized from it.
const (
	// MinBandwidth is the lowest rate leci shapes to, in bits per second:
	// below it tbf's buffer time overflows.
	MinBandwidth = 8000
	// burstWindow: the bucket holds what the rate sends in 1/burstWindow
	// of a second (100 ms)...
	burstWindow = 10
	// ...and at least 32 KiB, so that a full-sized packet always fits...
	minBurstBits = 32 << 10 * 8
	// ...and at most what the plugin accepts (burst/8 < 2^32).
	maxBurstBits = 8 * (math.MaxUint32 - 1)
)

// bandwidthOf turns the request's rates (bits per second, 0 for none)
// into the plugin's entry.
func bandwidthOf(ingress, egress int64) (*bandwidthEntry, error) {
	in, inBurst, err := rateAndBurst("ingress", ingress)
	if err != nil {
		return nil, err
	}
	out, outBurst, err := rateAndBurst("egress", egress)
	if err != nil {
		return nil, err
	}
	return &bandwidthEntry{IngressRate: in, IngressBurst: inBurst, EgressRate: out, EgressBurst: outBurst}, nil
}

func rateAndBurst(what string, rate int64) (uint64, uint64, error) {
	switch {
	case rate == 0:
		return 0, 0, nil
	case rate < 0:
		return 0, 0, fmt.Errorf("%s bandwidth %d bit/s is negative", what, rate)
	case rate < MinBandwidth:
		return 0, 0, fmt.Errorf("%s bandwidth %d bit/s is below the %d bit/s leci can shape", what, rate, MinBandwidth)
	}
	burst := min(max(uint64(rate)/burstWindow, minBurstBits), maxBurstBits)
	return uint64(rate), burst, nil
}

// portKey is a published host port.
type portKey struct {
	addr  netip.Addr
	port  int
	proto string
}

// clashes tells whether two published ports would catch the same packets.
func (k portKey) clashes(o portKey) bool {
	return k.port == o.port && k.proto == o.proto &&
		(k.addr == o.addr || k.addr.IsUnspecified() || o.addr.IsUnspecified())
}

// portMappings turns a group's port declarations into portmap entries on
// the publish address: the host port is the container's unless given.
func portMappings(ports []pod.PortMapping, publishAddress string) ([]portMapEntry, error) {
	var out []portMapEntry
	var errs []error
	seen := map[portKey]bool{}
	for _, p := range ports {
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		host := p.HostPort
		if host == 0 {
			host = p.ContainerPort
		}
		hostIP := p.HostIP
		if hostIP == "" {
			hostIP = publishAddress
		}
		addr, err := netip.ParseAddr(hostIP)
		switch {
		case p.ContainerPort < 1 || p.ContainerPort > 65535:
			errs = append(errs, fmt.Errorf("container port %d out of range", p.ContainerPort))
			continue
		case host < 1 || host > 65535:
			errs = append(errs, fmt.Errorf("host port %d out of range", host))
			continue
		case proto != "tcp" && proto != "udp" && proto != "sctp":
			errs = append(errs, fmt.Errorf("port %d: protocol %q is not tcp, udp or sctp", p.ContainerPort, p.Protocol))
			continue
		case err != nil || addr.Zone() != "":
			errs = append(errs, fmt.Errorf("port %d: host address %q is not an IP address", p.ContainerPort, hostIP))
			continue
		}
		k := portKey{addr.Unmap(), host, proto}
		if seen[k] {
			// The same port declared twice (two containers, or TCP given
			// twice) is published once.
			continue
		}
		seen[k] = true
		out = append(out, portMapEntry{HostPort: host, ContainerPort: p.ContainerPort, Protocol: proto, HostIP: addr.Unmap().String()})
	}
	return out, errors.Join(errs...)
}

func keysOf(entries []portMapEntry) []portKey {
	var keys []portKey
	for _, e := range entries {
		if a, err := netip.ParseAddr(e.HostIP); err == nil {
			keys = append(keys, portKey{a.Unmap(), e.HostPort, e.Protocol})
		}
	}
	return keys
}
