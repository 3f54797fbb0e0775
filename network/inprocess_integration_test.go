//go:build integration

package network

import (
	"context"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/vishvananda/netlink"

	"leci/internal/netns"
	"leci/pod"
)

// groupLinks is what a user sees of a group's interface: in its namespace
// and on the host.
type groupLinks struct {
	eth0Up, eth0Veth  bool
	eth0MTU           int
	eth0Addrs         []string
	eth0Routes        []string
	arpNotify, noDAD  bool
	hostVeth          string
	hostUp, hairpin   bool
	hostMTU           int
	bridgeAddrs       []string
	bridgeUp, forward bool
}

func (tn *testNet) groupLinks(t *testing.T, n pod.Network) groupLinks {
	t.Helper()
	var g groupLinks
	err := netns.Run(n.NetNSPath, func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		_, g.eth0Veth = eth0.(*netlink.Veth)
		g.eth0Up = eth0.Attrs().Flags&net.FlagUp != 0
		g.eth0MTU = eth0.Attrs().MTU
		addrs, err := netlink.AddrList(eth0, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, a := range addrs {
			g.eth0Addrs = append(g.eth0Addrs, a.IPNet.String())
		}
		routes, err := netlink.RouteList(eth0, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		for _, r := range routes {
			g.eth0Routes = append(g.eth0Routes, r.Dst.String()+" via "+r.Gw.String())
		}
		b, _ := os.ReadFile("/proc/sys/net/ipv4/conf/eth0/arp_notify")
		g.arpNotify = strings.TrimSpace(string(b)) == "1"
		b, _ = os.ReadFile("/proc/sys/net/ipv6/conf/eth0/accept_dad")
		g.noDAD = strings.TrimSpace(string(b)) == "0"
		return nil
	})
	if err != nil {
		t.Fatalf("inspect %s: %v", n.NetNSPath, err)
	}
	veths := tn.hostVeths(t)
	if len(veths) != 1 {
		t.Fatalf("veths on the bridge: %v, want one", veths)
	}
	host, err := netlink.LinkByName(veths[0])
	if err != nil {
		t.Fatal(err)
	}
	g.hostVeth = veths[0][:4] // the name's random part differs
	g.hostUp = host.Attrs().OperState == netlink.OperUp
	pi, err := netlink.LinkGetProtinfo(host)
	if err != nil {
		t.Fatal(err)
	}
	g.hairpin = pi.Hairpin
	g.hostMTU = host.Attrs().MTU
	br, err := netlink.LinkByName(tn.cfg.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	g.bridgeUp = br.Attrs().Flags&net.FlagUp != 0
	addrs, err := netlink.AddrList(br, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		g.bridgeAddrs = append(g.bridgeAddrs, a.IPNet.String())
	}
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ip_forward")
	g.forward = strings.TrimSpace(string(b)) == "1"
	return g
}

// countingExec counts the plugin binaries' runs, by plugin and command.
type countingExec struct {
	invoke.Exec
	mu   sync.Mutex
	runs map[string]int
}

func (c *countingExec) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	c.mu.Lock()
	c.runs[filepath.Base(pluginPath)+" "+cniEnvOf(environ).command]++
	c.mu.Unlock()
	return c.Exec.ExecPlugin(ctx, pluginPath, stdin, environ)
}

// countBinaryRuns makes m count the runs of the plugin binaries.
func countBinaryRuns(m *Manager) *countingExec {
	c := &countingExec{Exec: pluginExec(), runs: map[string]int{}}
	m.cni = libcni.NewCNIConfigWithCacheDir(m.cfg.BinDirs, m.cfg.CacheDir, inProcessExec{c})
	return c
}

// withPluginBinaries makes m run every plugin call through the plugin
// binaries, as a leci without the in-process bridge would.
func withPluginBinaries(m *Manager) {
	m.cni = libcni.NewCNIConfigWithCacheDir(m.cfg.BinDirs, m.cfg.CacheDir, pluginExec())
}

// The bridge ADD and DEL that leci runs in-process make what the bridge
// and host-local binaries make, and each side undoes the other's: a group
// set up by an older leci is deleted by this one, and the other way round.
func TestInProcessBridgeMatchesThePlugin(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name              string
		addInProcess, del bool
	}{
		{"added in-process, deleted by the binaries", true, false},
		{"added by the binaries, deleted in-process", false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The same bridge, subnet and MTU for both, one after the other.
			tn := newTestNet(t, func(c *Config) { c.MTU = 1400 })
			runs := countBinaryRuns(tn.m)
			binaries, err := New(tn.cfg, testLogger(t))
			if err != nil {
				t.Fatal(err)
			}
			withPluginBinaries(binaries)
			adder, deleter := binaries, tn.m
			if tc.addInProcess {
				adder, deleter = tn.m, binaries
			}
			n, err := adder.Setup(ctx, "g1", pod.NetworkOptions{})
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			got := tn.groupLinks(t, n)
			// The plugin binaries' CHECK (which Check runs) finds the group
			// as it wants it.
			if err := tn.m.Check(ctx, "g1"); err != nil {
				t.Errorf("Check: %v", err)
			}
			if err := deleter.Teardown(ctx, "g1"); err != nil {
				t.Fatalf("Teardown: %v", err)
			}
			if v, a, c := tn.hostVeths(t), tn.allocations(t), tn.cachedResults(t); len(v)+len(a)+len(c) != 0 {
				t.Errorf("left after Teardown: veths %v, allocations %v, cache %v", v, a, c)
			}

			// The other way gives the group the same interface.
			n2, err := deleter.Setup(ctx, "g2", pod.NetworkOptions{})
			if err != nil {
				t.Fatalf("Setup the other way: %v", err)
			}
			want := tn.groupLinks(t, n2)
			if err := adder.Teardown(ctx, "g2"); err != nil {
				t.Fatalf("Teardown the other way: %v", err)
			}
			// Addresses go round-robin: compare the prefix lengths only.
			for _, g := range []*groupLinks{&got, &want} {
				for i, a := range g.eth0Addrs {
					g.eth0Addrs[i] = a[strings.IndexByte(a, '/'):]
				}
				for i, r := range g.eth0Routes {
					g.eth0Routes[i] = r[:strings.IndexByte(r, ' ')]
				}
			}
			// In-process, ADD and DEL run no plugin binary; CHECK runs
			// the binaries.
			if want := map[string]int{"bridge CHECK": 1}; !maps.Equal(runs.runs, want) {
				t.Errorf("plugin binaries run by the in-process side: %v, want %v", runs.runs, want)
			}
			if !equalLinks(got, want) {
				t.Errorf("in-process and binary bridges differ:\n first  %+v\n second %+v", got, want)
			}
			if !got.eth0Up || !got.eth0Veth || got.eth0MTU != 1400 || !got.hostUp || !got.hairpin || got.hostMTU != 1400 ||
				!got.arpNotify || !got.noDAD || !got.bridgeUp || !got.forward || len(got.bridgeAddrs) != 1 || len(got.eth0Addrs) != 1 {
				t.Errorf("group's interface: %+v", got)
			}
		})
	}
}

func equalLinks(a, b groupLinks) bool {
	return a.eth0Up == b.eth0Up && a.eth0Veth == b.eth0Veth && a.eth0MTU == b.eth0MTU &&
		slices.Equal(a.eth0Addrs, b.eth0Addrs) && slices.Equal(a.eth0Routes, b.eth0Routes) &&
		a.arpNotify == b.arpNotify && a.noDAD == b.noDAD && a.hostVeth == b.hostVeth &&
		a.hostUp == b.hostUp && a.hairpin == b.hairpin && a.hostMTU == b.hostMTU &&
		slices.Equal(a.bridgeAddrs, b.bridgeAddrs) && a.bridgeUp == b.bridgeUp && a.forward == b.forward
}

// A group that asks for its address gets it from the in-process bridge,
// and one that another group holds is refused there as host-local refuses
// it.
func TestInProcessBridgeRequestedAddress(t *testing.T) {
	ctx := context.Background()
	tn := newTestNet(t)
	want := tn.subnet.Addr().Next().Next().Next().Next().String() // .4
	n, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{IPv4: want})
	if err != nil {
		t.Fatalf("Setup asking for %s: %v", want, err)
	}
	t.Cleanup(func() { _ = tn.m.Teardown(ctx, "g1") })
	if n.IPv4 != want {
		t.Errorf("address: got %s, want %s", n.IPv4, want)
	}
	_, err = tn.m.Setup(ctx, "g2", pod.NetworkOptions{IPv4: want})
	if err == nil || !strings.Contains(err.Error(), "not available") {
		t.Errorf("second group asking for %s: %v, want host-local's not available", want, err)
	}
	if v, a := tn.hostVeths(t), tn.allocations(t); len(v) != 1 || !slices.Equal(a, []string{want}) {
		t.Errorf("after the refused Setup: veths %v, allocations %v; want g1's only", v, a)
	}
}

// A bridge left by an ADD cut short (leci killed after its port came and
// before the bridge's address was set) has lost its last port and with it
// its MAC address: the kernel gives it all zeros. The next group's ADD
// gives it an address of its own again, which it then keeps.
func TestInProcessBridgeAfterAddCutShort(t *testing.T) {
	ctx := context.Background()
	tn := newTestNet(t)
	attrs := netlink.NewLinkAttrs()
	attrs.Name = tn.cfg.Bridge
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil {
		t.Fatal(err)
	}
	br, err := netlink.LinkByName(tn.cfg.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	port := netlink.NewLinkAttrs()
	port.Name, port.MasterIndex = "ltp"+randomHex(t, 4), br.Attrs().Index
	veth := netlink.NewVeth(port)
	veth.PeerName = port.Name + "p"
	if err := netlink.LinkAdd(veth); err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkDel(veth); err != nil {
		t.Fatal(err)
	}
	if br, err = netlink.LinkByName(tn.cfg.Bridge); err != nil || len(br.Attrs().HardwareAddr) != 0 {
		t.Fatalf("bridge without ports: MAC %q, %v; want all zeros (none)", br.Attrs().HardwareAddr, err)
	}

	tn.setup(t, "g1")
	if err := tn.m.Check(ctx, "g1"); err != nil {
		t.Errorf("Check: %v", err)
	}
	br, err = netlink.LinkByName(tn.cfg.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	mac := br.Attrs().HardwareAddr
	b, _ := os.ReadFile(filepath.Join("/sys/class/net", tn.cfg.Bridge, "addr_assign_type"))
	if len(mac) != 6 || strings.TrimSpace(string(b)) != addrAssignedBySet {
		t.Errorf("bridge after an ADD: MAC %q, assigned %q; want one of its own (%s)", mac, b, addrAssignedBySet)
	}
	// Kept as groups come and go.
	tn.setup(t, "g2")
	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	if br, err = netlink.LinkByName(tn.cfg.Bridge); err != nil || br.Attrs().HardwareAddr.String() != mac.String() {
		t.Errorf("bridge MAC after groups came and went: %q, %v; want %s", br.Attrs().HardwareAddr, err, mac)
	}
}

// Groups set up at once on a bridge that does not exist yet all record
// the bridge's MAC address as it stays: the plugin binaries' CHECK
// compares it, and a group recovered by a restarted daemon is checked.
func TestInProcessBridgeConcurrentAddsOnNewBridge(t *testing.T) {
	ctx := context.Background()
	for round := range 3 {
		tn := newTestNet(t)
		ids := []string{"g1", "g2", "g3", "g4", "g5", "g6"}
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := tn.m.Setup(ctx, id, pod.NetworkOptions{}); err != nil {
					t.Errorf("round %d: Setup %s: %v", round, id, err)
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if err := tn.m.Check(ctx, id); err != nil {
				t.Errorf("round %d: Check %s: %v", round, id, err)
			}
			if err := tn.m.Teardown(ctx, id); err != nil {
				t.Errorf("round %d: Teardown %s: %v", round, id, err)
			}
		}
	}
}
