package network

import (
	"encoding/json"
	"fmt"
)

// cniVersion is the newest spec version that Debian 12's plugins (1.1.1)
// speak; libcni speaks it too.
const cniVersion = "1.0.0"

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
}

type ipamConf struct {
	Type    string      `json:"type"`
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

type portmapConf struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

// confListJSON renders the network of c (which has its defaults) as a CNI
// conflist: bridge with host-local addresses, then portmap. The loopback
// interface is not CNI's job here: Setup brings lo up itself.
func confListJSON(c Config) ([]byte, error) {
	subnet, err := parseSubnet(c.Subnet)
	if err != nil {
		return nil, err
	}
	ipam := ipamConf{
		Type:    "host-local",
		Ranges:  [][]ipRange{{{Subnet: subnet.String()}}},
		DataDir: c.IPAMDir,
	}
	if c.IPMasq {
		// A default route only where traffic to the world is masqueraded:
		// without it, such packets would leave with a pod address.
		dst := "0.0.0.0/0"
		if subnet.Addr().Is6() {
			dst = "::/0"
		}
		ipam.Routes = []routeConf{{Dst: dst}}
	}
	list := confList{
		CNIVersion: cniVersion,
		Name:       c.NetworkName,
		Plugins: []any{
			bridgeConf{
				Type:        "bridge",
				Bridge:      c.Bridge,
				IsGateway:   true,
				IPMasq:      c.IPMasq,
				HairpinMode: true,
				MTU:         c.MTU,
				IPAM:        ipam,
			},
			portmapConf{
				Type:         "portmap",
				Capabilities: map[string]bool{"portMappings": true},
			},
		},
	}
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal conflist: %w", err)
	}
	return append(b, '\n'), nil
}
