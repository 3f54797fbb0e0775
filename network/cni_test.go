package network

import (
	"net"
	"testing"

	types100 "github.com/containernetworking/cni/pkg/types/100"

	"leci/pod"
)

func TestPodNetwork(t *testing.T) {
	idx := func(i int) *int { return &i }
	ipnet := func(s string) net.IPNet {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return *n
	}
	// The bridge plugin's shape: bridge, host veth, then eth0 in the netns.
	res := &types100.Result{
		CNIVersion: "1.0.0",
		Interfaces: []*types100.Interface{
			{Name: "lt0"},
			{Name: "veth1234"},
			{Name: "eth0", Sandbox: "/run/leci/netns/g"},
		},
		IPs: []*types100.IPConfig{
			{Interface: idx(0), Address: ipnet("10.213.1.1/24")},
			{Interface: idx(2), Address: ipnet("10.213.1.5/24")},
			{Interface: idx(2), Address: ipnet("fd00:213::5/64")},
		},
	}
	got, err := podNetwork(res, "/run/leci/netns/g")
	if err != nil {
		t.Fatal(err)
	}
	want := pod.Network{NetNSPath: "/run/leci/netns/g", IPv4: "10.213.1.5", IPv6: "fd00:213::5", Interface: "eth0"}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}

	// Without interface indexes, the first address of each family.
	res.IPs = []*types100.IPConfig{{Address: ipnet("10.213.1.6/24")}}
	got, err = podNetwork(res, "p")
	if err != nil || got.IPv4 != "10.213.1.6" {
		t.Errorf("no interface index: got %+v, %v, want 10.213.1.6", got, err)
	}

	res.IPs = nil
	if _, err := podNetwork(res, "p"); err == nil {
		t.Error("result without addresses: no error")
	}
}
