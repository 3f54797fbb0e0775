package network

import (
	"encoding/json"
	"fmt"
	"net/netip"
)

// cniVersion is the newest spec version that Debian 12's plugins (1.1.1)
// speak; libcni speaks it too.
const cniVersion = "1.0.0"

// Capabilities of the CNI conventions that leci fills from a group's
// request, as typed runtimeConfig values (see capabilities.go).
const (
	capPortMappings = "portMappings"
	capBandwidth    = "bandwidth"
)

// The conflist is built from these typed values and marshalled with
// encoding/json, so no configured value can change the document's shape.

type confList struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type bridgeConf struct {
	Type   string `json:"type"`
	Bridge string `json:"bridge"`
	// IsGateway gives the bridge the subnet's first address, so the host
	// reaches the groups (probes, port mappings) and, with masquerade, the
	// groups reach out through it.
	IsGateway bool `json:"isGateway"`
	IPMasq    bool `json:"ipMasq"`
	// HairpinMode lets a group reach itself through a mapped host port.
	HairpinMode bool     `json:"hairpinMode"`
	MTU         int      `json:"mtu,omitempty"`
	IPAM        ipamConf `json:"ipam"`
	// Capabilities: ips, which the bridge plugin hands to host-local, so
	// that a group may ask for its address.
	Capabilities map[string]bool `json:"capabilities,omitempty"`
}

type ipamConf struct {
	Type string `json:"type"`
	// Ranges has one range set per address family: a group gets one
	// address of each.
	Ranges  [][]ipRange `json:"ranges"`
	Routes  []routeConf `json:"routes,omitempty"`
	DataDir string      `json:"dataDir"`
}

type ipRange struct {
	Subnet string `json:"subnet"`
}

type routeConf struct {
	Dst string `json:"dst"`
}

// capPluginConf is a chained plugin configured by capabilities only:
// portmap and bandwidth.
type capPluginConf struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

type firewallConf struct {
	Type string `json:"type"`
	// Backend is iptables, so the plugin never talks to a firewalld that
	// happens to run.
	Backend string `json:"backend"`
}

// listVariant is what of leci's network a group needs: the IPv6 range,
// and the plugins that would do something for it. portmap without
// mappings and bandwidth without limits only pass the result on, but each
// costs a plugin run (some 10 ms) in every ADD; a group's journal and
// libcni's cache keep the very list it was added with, so DEL and CHECK
// see the same plugins.
type listVariant struct {
	dualStack, ports, bandwidth bool
}

// fullVariant has every plugin: what the conflist files show.
func fullVariant(dualStack bool) listVariant {
	return listVariant{dualStack: dualStack, ports: true, bandwidth: true}
}

// confListJSON renders leci's network of c (which has its defaults) as a
// CNI conflist: bridge with host-local addresses, firewall when asked,
// portmap, bandwidth, as v asks. With v.dualStack, host-local hands out an
// address of Subnet6 as well. The loopback interface is not CNI's job
// here: Setup brings lo up itself.
func confListJSON(c Config, v listVariant) ([]byte, error) {
	subnet, err := parseSubnet(c.Subnet)
	if err != nil {
		return nil, err
	}
	prefixes := []netip.Prefix{subnet}
	if v.dualStack {
		if c.Subnet6 == "" {
			return nil, ErrIPv6NotConfigured
		}
		subnet6, err := parseSubnet(c.Subnet6)
		if err != nil {
			return nil, err
		}
		prefixes = append(prefixes, subnet6)
	}
	ipam := ipamConf{Type: "host-local", DataDir: c.IPAMDir}
	for _, p := range prefixes {
		ipam.Ranges = append(ipam.Ranges, []ipRange{{Subnet: p.String()}})
		if c.IPMasq {
			// A default route only where traffic to the world is
			// masqueraded: without it, such packets would leave with a
			// group's address.
			dst := "0.0.0.0/0"
			if p.Addr().Is6() {
				dst = "::/0"
			}
			ipam.Routes = append(ipam.Routes, routeConf{Dst: dst})
		}
	}
	plugins := []any{
		bridgeConf{
			Type:         "bridge",
			Bridge:       c.Bridge,
			IsGateway:    true,
			IPMasq:       c.IPMasq,
			HairpinMode:  true,
			MTU:          c.MTU,
			IPAM:         ipam,
			Capabilities: map[string]bool{capIPs: true},
		},
	}
	if c.Firewall {
		plugins = append(plugins, firewallConf{Type: "firewall", Backend: "iptables"})
	}
	if v.ports {
		plugins = append(plugins, capPluginConf{Type: "portmap", Capabilities: map[string]bool{capPortMappings: true}})
	}
	if v.bandwidth {
		plugins = append(plugins, capPluginConf{Type: "bandwidth", Capabilities: map[string]bool{capBandwidth: true}})
	}
	list := confList{CNIVersion: cniVersion, Name: c.NetworkName, Plugins: plugins}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal conflist: %w", err)
	}
	return append(b, '\n'), nil
}
