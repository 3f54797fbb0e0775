package network

import (
	"encoding/json"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

// bridgeStdin is the bridge plugin's configuration of a leci network
// variant as libcni hands it to the plugin, with a requested address.
func bridgeStdin(t *testing.T, c Config, v listVariant) []byte {
	t.Helper()
	b, err := confListJSON(c, v)
	if err != nil {
		t.Fatal(err)
	}
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	var conf map[string]any
	if err := json.Unmarshal(list.Plugins[0].Bytes, &conf); err != nil {
		t.Fatal(err)
	}
	conf["name"], conf["cniVersion"] = list.Name, list.CNIVersion
	conf["runtimeConfig"] = map[string]any{"ips": []string{"10.1.2.9"}}
	out, err := json.Marshal(conf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Only what leci itself writes, and can do in-process as the plugin
// would, is taken from the plugin binary.
func TestOwnBridgeConf(t *testing.T) {
	base := Config{NetworkName: "leci", Bridge: "leci0", Subnet: "10.1.2.0/24", Subnet6: "fd00:1::/64", IPAMDir: "/var/lib/leci/cni/ipam", MTU: 1400}
	masq := base
	masq.IPMasq = true
	firewall := base
	firewall.Firewall = true
	for _, tc := range []struct {
		name string
		cfg  Config
		v    listVariant
		want bool
	}{
		{"IPv4", base, listVariant{}, true},
		{"IPv4 with ports and bandwidth after it", base, fullVariant(false), true},
		{"IPv4 with the firewall plugin after it", firewall, listVariant{}, true},
		{"dual stack", base, listVariant{dualStack: true}, false},
		{"masquerade (the plugin's iptables rules)", masq, listVariant{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf, ok := ownBridgeConf(bridgeStdin(t, tc.cfg, tc.v))
			if ok != tc.want {
				t.Fatalf("in-process: %v, want %v", ok, tc.want)
			}
			if ok && (conf.Bridge != "leci0" || conf.MTU != 1400 || !conf.HairpinMode || conf.RuntimeConfig.IPs[0] != "10.1.2.9") {
				t.Errorf("read %+v", conf)
			}
		})
	}

	// A field leci does not write (here the plugin's VLAN) leaves the
	// call to the plugin.
	var conf map[string]any
	if err := json.Unmarshal(bridgeStdin(t, base, listVariant{}), &conf); err != nil {
		t.Fatal(err)
	}
	conf["vlan"] = 7
	b, _ := json.Marshal(conf)
	if _, ok := ownBridgeConf(b); ok {
		t.Error("a configuration with a vlan is taken in-process")
	}
	delete(conf, "vlan")
	conf["ipam"].(map[string]any)["type"] = "dhcp"
	b, _ = json.Marshal(conf)
	if _, ok := ownBridgeConf(b); ok {
		t.Error("a configuration with dhcp addresses is taken in-process")
	}
	if _, ok := ownBridgeConf([]byte("not json")); ok {
		t.Error("unreadable stdin is taken in-process")
	}
}

func TestCNIEnvOf(t *testing.T) {
	e := cniEnvOf([]string{"PATH=/bin", "CNI_COMMAND=ADD", "CNI_CONTAINERID=g1", "CNI_NETNS=/run/x=y", "CNI_IFNAME=eth0", "CNI_ARGS=IP=10.0.0.2"})
	if e != (cniEnv{command: "ADD", containerID: "g1", netns: "/run/x=y", ifName: "eth0", args: "IP=10.0.0.2"}) {
		t.Errorf("got %+v", e)
	}
}
