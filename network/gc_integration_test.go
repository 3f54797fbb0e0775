//go:build integration

package network

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"leci/internal/netns"
	"leci/pod"
)

// These tests add port mappings, shaping and firewall rules through the
// real plugins, and check that Teardown and GC take every one of them
// away again. Traffic goes only between the tests' own namespaces, and
// from the host to 127.0.0.1 (mapped into a test's namespace).

// withIPv6 gives the test network an IPv6 ULA subnet beside its IPv4 one:
// fd00:213:N::/64 for 10.213.N.0/24.
func withIPv6(c *Config) {
	p := netip.MustParsePrefix(c.Subnet)
	c.Subnet6 = fmt.Sprintf("fd00:213:%d::/64", p.Addr().As4()[2])
}

func withPorts(c *Config) { c.PublishPorts = true }

// freePort is a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// iptablesLines is what iptables -S prints for the nat and filter tables,
// IPv4 and IPv6.
func iptablesLines(t testing.TB) []string {
	t.Helper()
	var lines []string
	for _, bin := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(bin); err != nil {
			continue
		}
		for _, tab := range []string{"nat", "filter"} {
			out, err := exec.Command(bin, "-w", "-t", tab, "-S").Output()
			if err != nil {
				t.Fatalf("%s -t %s -S: %v", bin, tab, err)
			}
			for _, l := range strings.Split(string(out), "\n") {
				lines = append(lines, bin+" "+tab+": "+l)
			}
		}
	}
	return lines
}

// assertNothingLeft checks that none of the groups left a namespace,
// journal, cache entry, address allocation, veth, ifb device, iptables
// chain or rule behind.
func (tn *testNet) assertNothingLeft(t testing.TB, ids ...string) {
	t.Helper()
	if f := tn.netnsFiles(t); len(f) != 0 {
		t.Errorf("netns files left: %v", f)
	}
	if a := tn.allocations(t); len(a) != 0 {
		t.Errorf("host-local allocations left: %v", a)
	}
	if c := tn.cachedResults(t); len(c) != 0 {
		t.Errorf("libcni cache left: %v", c)
	}
	if entries, _ := os.ReadDir(tn.cfg.JournalDir); len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("journal entries left: %v", names)
	}
	eventually(t, "no veth on the bridge", func() bool { return len(tn.hostVeths(t)) == 0 })
	net := tn.m.list.Name
	var marks []string
	for _, id := range ids {
		if _, err := netlink.LinkByName(ifbName(net, id)); err == nil {
			t.Errorf("ifb device %s of %s left", ifbName(net, id), id)
		}
		marks = append(marks, chainName("DN-", net, id), chainName("", net, id), fmt.Sprintf(`id: \"%s\"`, id))
	}
	// Addresses of the test's subnets, as the firewall and DNAT rules
	// write them.
	marks = append(marks, strings.TrimSuffix(tn.subnet.Addr().String(), "0"))
	if tn.cfg.Subnet6 != "" {
		marks = append(marks, strings.TrimSuffix(netip.MustParsePrefix(tn.cfg.Subnet6).Addr().String(), ":")) // fd00:213:N:
	}
	for _, l := range iptablesLines(t) {
		for _, m := range marks {
			if strings.Contains(l, m) {
				t.Errorf("iptables rule or chain left (%s): %s", m, l)
			}
		}
	}
}

// tbfRate is the rate, in bytes per second, of the tbf qdisc on a link; 0
// without one.
func tbfRate(t testing.TB, link netlink.Link) uint64 {
	t.Helper()
	qs, err := netlink.QdiscList(link)
	if err != nil {
		t.Fatalf("qdiscs of %s: %v", link.Attrs().Name, err)
	}
	for _, q := range qs {
		if tbf, ok := q.(*netlink.Tbf); ok {
			return tbf.Rate
		}
	}
	return 0
}

func TestCheck(t *testing.T) {
	tn := newTestNet(t, withPorts, withIPv6)
	ctx := context.Background()
	_, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{
		IngressBandwidth: 1024000, EgressBandwidth: 2048000,
		Ports: []pod.PortMapping{{ContainerPort: 80, HostPort: freePort(t)}},
	})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	tn.setup(t, "g2")
	// Dual stack with ports: portmap makes the group's chain in both
	// families, with DNAT rules where the publish address's family is.
	_, err = tn.m.Setup(ctx, "g3", pod.NetworkOptions{IPv6: true, Ports: []pod.PortMapping{{ContainerPort: 80, HostPort: freePort(t)}}})
	if err != nil {
		t.Fatalf("Setup g3: %v", err)
	}
	defer tn.m.Teardown(ctx, "g3")
	// A second Manager, as after a restart of leci, checks what the first
	// set up.
	m2, err := New(tn.cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	// As if another process had set g2 up: Check claims it.
	j, err := tn.m.readJournal("g2")
	if err != nil || j == nil {
		t.Fatal(j, err)
	}
	j.Owner = owner{PID: 1, Start: 1}
	b, _ := json.Marshal(j)
	if err := os.WriteFile(tn.m.journalPath("g2"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"g1", "g2", "g3"} {
		if err := m2.Check(ctx, id); err != nil {
			t.Errorf("Check %s: %v", id, err)
		}
	}
	if j, _ := tn.m.readJournal("g2"); j == nil || j.Owner != self() || j.Op != opAdd || len(j.Conflist) == 0 {
		t.Errorf("journal after Check: %+v, want this process as owner and the rest kept", j)
	}

	// g1's port mapping vanishes: Check notices.
	if out, err := exec.Command("iptables", "-w", "-t", "nat", "-F", chainName("DN-", tn.m.list.Name, "g1")).CombinedOutput(); err != nil {
		t.Fatalf("flush g1's chain: %v\n%s", err, out)
	}
	if err := m2.Check(ctx, "g1"); err == nil || !strings.Contains(err.Error(), "DNAT") {
		t.Errorf("Check after the DNAT rule was flushed: got %v, want an error about it", err)
	}

	// The host side of g1's veth vanishes: CHECK notices.
	veths := tn.hostVeths(t)
	var g1veth netlink.Link
	err = netns.Run(tn.m.NetNSPath("g1"), func() error {
		l, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		peer := l.Attrs().ParentIndex
		return RunInHost(func() error {
			g1veth, err = netlink.LinkByIndex(peer)
			return err
		})
	})
	if err != nil || g1veth == nil {
		t.Fatalf("find g1's veth among %v: %v", veths, err)
	}
	if err := netlink.LinkDel(g1veth); err != nil {
		t.Fatal(err)
	}
	if err := m2.Check(ctx, "g1"); err == nil {
		t.Error("Check after the veth was removed: no error")
	} else {
		t.Logf("Check failed as it should: %v", err)
	}
	if err := m2.Check(ctx, "g2"); err != nil {
		t.Errorf("Check g2: %v", err)
	}

	if err := m2.Teardown(ctx, "g1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if err := m2.Check(ctx, "g1"); err == nil {
		t.Error("Check after Teardown: no error")
	}
	if err := m2.Check(ctx, "never"); err == nil {
		t.Error("Check of a group never set up: no error")
	}
}

// RunInHost runs fn on a fresh goroutine, which is in the host's namespace
// even when the caller's thread was switched.
func RunInHost(fn func() error) error {
	errc := make(chan error, 1)
	go func() { errc <- fn() }()
	return <-errc
}

func TestBandwidthShaping(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()
	const ingress, egress = 1024000, 2048000 // bits per second
	_, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{IngressBandwidth: ingress, EgressBandwidth: egress})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	veths := tn.hostVeths(t)
	if len(veths) != 1 {
		t.Fatalf("veths: %v", veths)
	}
	veth, err := netlink.LinkByName(veths[0])
	if err != nil {
		t.Fatal(err)
	}
	// Ingress (to the group) is shaped on the host side of its veth; the
	// plugin gives tbf the rate in bytes.
	if got := tbfRate(t, veth); got != ingress/8 {
		t.Errorf("tbf rate on %s: got %d B/s, want %d", veths[0], got, ingress/8)
	}
	if tc, err := exec.LookPath("tc"); err == nil {
		out, err := exec.Command(tc, "qdisc", "show", "dev", veths[0]).CombinedOutput()
		if err != nil {
			t.Fatalf("tc: %v\n%s", err, out)
		}
		t.Logf("tc qdisc show dev %s:\n%s", veths[0], out)
		if !strings.Contains(string(out), "tbf") || !strings.Contains(string(out), "rate 1024Kbit") {
			t.Errorf("tc does not show tbf at 1024Kbit on %s", veths[0])
		}
	}
	// Egress (from the group) is redirected to an ifb device, shaped there.
	ifb, err := netlink.LinkByName(ifbName(tn.m.list.Name, "g1"))
	if err != nil {
		t.Fatalf("ifb device: %v", err)
	}
	if got := tbfRate(t, ifb); got != egress/8 {
		t.Errorf("tbf rate on %s: got %d B/s, want %d", ifb.Attrs().Name, got, egress/8)
	}
	if err := tn.m.Check(ctx, "g1"); err != nil {
		t.Errorf("Check: %v", err)
	}
	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	tn.assertNothingLeft(t, "g1")
}

// serveOnce listens in a namespace and answers one connection with msg.
func serveOnce(t *testing.T, netnsPath, addr, msg string) net.Addr {
	t.Helper()
	var ln net.Listener
	err := netns.Run(netnsPath, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", netnsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, msg)
			c.Close()
		}
	}()
	return ln.Addr()
}

func readFrom(network, addr string) (string, error) {
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return line, err
}

func TestPublishPorts(t *testing.T) {
	tn := newTestNet(t, withPorts)
	ctx := context.Background()
	port := freePort(t)
	n, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 8080, HostPort: port, Protocol: "TCP"}}})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	serveOnce(t, n.NetNSPath, ":8080", "hello through the port\n")

	// From the host, on loopback: DNAT into the group.
	got, err := readFrom("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil || got != "hello through the port\n" {
		t.Errorf("127.0.0.1:%d: got %q, %v", port, got, err)
	}
	// portmap's chain has the name GC looks for.
	found := false
	for _, l := range iptablesLines(t) {
		if strings.Contains(l, "-N "+chainName("DN-", tn.m.list.Name, "g1")) {
			found = true
		}
	}
	if !found {
		t.Errorf("no chain %s in the nat table", chainName("DN-", tn.m.list.Name, "g1"))
	}

	// Another group may not publish the same port, and its refusal leaves
	// nothing.
	_, err = tn.m.Setup(ctx, "g2", pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 9090, HostPort: port}}})
	if !errors.Is(err, ErrPortConflict) {
		t.Errorf("second group on port %d: got %v, want ErrPortConflict", port, err)
	}
	if f := tn.netnsFiles(t); !slices.Equal(f, []string{"g1"}) {
		t.Errorf("netns files: %v", f)
	}

	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatal(err)
	}
	tn.assertNothingLeft(t, "g1", "g2")
	if _, err := readFrom("tcp4", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Errorf("127.0.0.1:%d still answers after Teardown", port)
	}
	// The port is free for another group again.
	n3, err := tn.m.Setup(ctx, "g3", pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 8080, HostPort: port}}})
	if err != nil {
		t.Fatalf("Setup g3 on the freed port: %v", err)
	}
	_ = n3
	if err := tn.m.Teardown(ctx, "g3"); err != nil {
		t.Fatal(err)
	}
	tn.assertNothingLeft(t, "g3")
}

func TestDualStack(t *testing.T) {
	tn := newTestNet(t, withIPv6)
	ctx := context.Background()
	p6 := netip.MustParsePrefix(tn.cfg.Subnet6)
	a, err := tn.m.Setup(ctx, "ga", pod.NetworkOptions{IPv6: true})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	b, err := tn.m.Setup(ctx, "gb", pod.NetworkOptions{IPv6: true})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	v4only := tn.setup(t, "gc")
	for _, n := range []pod.Network{a, b} {
		ip6, err := netip.ParseAddr(n.IPv6)
		if err != nil || !p6.Contains(ip6) || !tn.subnet.Contains(netip.MustParseAddr(n.IPv4)) {
			t.Errorf("addresses %s, %s: want one in %s and one in %s", n.IPv4, n.IPv6, tn.subnet, p6)
		}
		// The address is on eth0 inside the namespace.
		err = netns.Run(n.NetNSPath, func() error {
			eth0, err := netlink.LinkByName("eth0")
			if err != nil {
				return err
			}
			addrs, err := netlink.AddrList(eth0, netlink.FAMILY_V6)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.String() == n.IPv6 }) {
				return fmt.Errorf("eth0 has %v, not %s", addrs, n.IPv6)
			}
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	if v4only.IPv6 != "" {
		t.Errorf("group that did not ask has IPv6 %s", v4only.IPv6)
	}
	// A reaches B over IPv6.
	addr := serveOnce(t, b.NetNSPath, net.JoinHostPort(b.IPv6, "0"), "hello over IPv6\n")
	var got string
	err = netns.Run(a.NetNSPath, func() error {
		var err error
		got, err = readFrom("tcp6", addr.String())
		return err
	})
	if err != nil || got != "hello over IPv6\n" {
		t.Errorf("A to B over IPv6: got %q, %v", got, err)
	}
	for _, id := range []string{"ga", "gb"} {
		if err := tn.m.Check(ctx, id); err != nil {
			t.Errorf("Check %s: %v", id, err)
		}
		if err := tn.m.Teardown(ctx, id); err != nil {
			t.Errorf("Teardown %s: %v", id, err)
		}
	}
}

func TestIPv6NotConfigured(t *testing.T) {
	tn := newTestNet(t)
	_, err := tn.m.Setup(context.Background(), "g1", pod.NetworkOptions{IPv6: true})
	if !errors.Is(err, ErrIPv6NotConfigured) {
		t.Fatalf("Setup with IPv6 and no Subnet6: got %v, want ErrIPv6NotConfigured", err)
	}
	t.Logf("refused as it should: %v", err)
	tn.assertNothingLeft(t, "g1")
}

// crashAfterSetup sets groups up with port mappings and shaping on a
// Manager that is then dropped without Teardown, as a SIGKILL would.
func crashAfterSetup(t *testing.T, tn *testNet, ids ...string) {
	t.Helper()
	m, err := New(tn.cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	before := len(tn.hostVeths(t))
	for _, id := range ids {
		_, err := m.Setup(context.Background(), id, pod.NetworkOptions{
			IngressBandwidth: 1024000, EgressBandwidth: 1024000,
			Ports: []pod.PortMapping{{ContainerPort: 80, HostPort: freePort(t)}},
		})
		if err != nil {
			t.Fatalf("Setup %s: %v", id, err)
		}
		if _, err := netlink.LinkByName(ifbName(tn.m.list.Name, id)); err != nil {
			t.Fatalf("no ifb for %s after Setup: %v", id, err)
		}
	}
	if v := tn.hostVeths(t); len(v) != before+len(ids) {
		t.Fatalf("veths after Setup: %v", v)
	}
}

func TestGCAfterCrash(t *testing.T) {
	tn := newTestNet(t, withPorts, withIPv6, func(c *Config) { c.Firewall = true })
	crashAfterSetup(t, tn, "g1", "g2")
	// The firewall plugin accepts the groups' addresses.
	n := 0
	for _, l := range iptablesLines(t) {
		if strings.Contains(l, "CNI-FORWARD") && strings.Contains(l, strings.TrimSuffix(tn.subnet.Addr().String(), "0")) {
			n++
		}
	}
	if n == 0 {
		t.Error("no firewall rule for the groups' addresses")
	}

	m2, err := New(tn.cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.GC(context.Background(), func(string) bool { return false }); err != nil {
		t.Fatalf("GC: %v", err)
	}
	tn.assertNothingLeft(t, "g1", "g2")
	// A second GC finds nothing to do.
	if err := m2.GC(context.Background(), nil); err != nil {
		t.Errorf("second GC: %v", err)
	}
}

func TestGCKeepsLiveGroups(t *testing.T) {
	tn := newTestNet(t, withPorts)
	crashAfterSetup(t, tn, "live", "dead")
	m2, err := New(tn.cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m2.GC(ctx, func(id string) bool { return id == "live" }); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if f := tn.netnsFiles(t); !slices.Equal(f, []string{"live"}) {
		t.Errorf("netns files: got %v, want [live]", f)
	}
	if a := tn.allocations(t); len(a) != 1 {
		t.Errorf("allocations: got %v, want live's", a)
	}
	eventually(t, "one veth", func() bool { return len(tn.hostVeths(t)) == 1 })
	if err := m2.Check(ctx, "live"); err != nil {
		t.Errorf("Check live after GC: %v", err)
	}
	if _, err := netlink.LinkByName(ifbName(tn.m.list.Name, "dead")); err == nil {
		t.Error("dead group's ifb left")
	}
	// live still publishes its port: a new group may not take it.
	j, err := m2.readJournal("live")
	if err != nil || j == nil {
		t.Fatalf("live's journal: %v, %v", j, err)
	}
	port := j.Capabilities.PortMappings[0].HostPort
	_, err = m2.Setup(ctx, "new", pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 80, HostPort: port}}})
	if !errors.Is(err, ErrPortConflict) {
		t.Errorf("new group on live's port: got %v, want ErrPortConflict", err)
	}
	if err := m2.Teardown(ctx, "live"); err != nil {
		t.Fatal(err)
	}
	tn.assertNothingLeft(t, "live", "dead", "new")
}

func TestGCKeepsGroupsOfRunningProcesses(t *testing.T) {
	tn := newTestNet(t)
	n := tn.setup(t, "other")
	// The journal says another process, still running (pid 1), owns it.
	j, err := tn.m.readJournal("other")
	if err != nil || j == nil {
		t.Fatal(j, err)
	}
	start, err := processStart(1)
	if err != nil {
		t.Fatal(err)
	}
	j.Owner = owner{PID: 1, Start: start}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tn.m.journalPath("other"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := tn.m.GC(context.Background(), nil); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if !isNetNS(n.NetNSPath) || len(tn.allocations(t)) != 1 || len(tn.hostVeths(t)) != 1 {
		t.Errorf("GC took another process's group: netns %v, allocations %v, veths %v", isNetNS(n.NetNSPath), tn.allocations(t), tn.hostVeths(t))
	}
}

func TestGCWithoutCache(t *testing.T) {
	// A crash after the plugins ran but before libcni wrote its cache: the
	// journal alone tells DEL the port mappings and shaping to remove.
	tn := newTestNet(t, withPorts)
	crashAfterSetup(t, tn, "g1")
	if err := os.RemoveAll(filepath.Join(tn.cfg.CacheDir, "results")); err != nil {
		t.Fatal(err)
	}
	m2, err := New(tn.cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.GC(context.Background(), nil); err != nil {
		t.Fatalf("GC: %v", err)
	}
	tn.assertNothingLeft(t, "g1")
}

func TestGCWithoutJournalOrCache(t *testing.T) {
	// Neither journal nor cache (lost, or written by something else): the
	// sweep still finds the allocation, the namespace, the veth, the ifb
	// and the chains by their names and addresses.
	tn := newTestNet(t, withPorts)
	crashAfterSetup(t, tn, "g1", "g2")
	for _, dir := range []string{filepath.Join(tn.cfg.CacheDir, "results"), tn.cfg.JournalDir} {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	// g2's namespace file is gone too: only its allocation names it.
	if err := removeNetNS(tn.m.NetNSPath("g2")); err != nil {
		t.Fatal(err)
	}
	m2, err := New(tn.cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.GC(context.Background(), nil); err != nil {
		t.Fatalf("GC: %v", err)
	}
	tn.assertNothingLeft(t, "g1", "g2")
}

func TestGCSweepsStrayVeth(t *testing.T) {
	// A veth on leci's bridge whose namespace some stray process still
	// holds, while leci's files know nothing of it.
	tn := newTestNet(t)
	tn.setup(t, "keep")
	crashAfterSetup(t, tn, "stray")
	// Hold stray's namespace open, as a leftover process would, and forget
	// everything about it.
	f, err := os.Open(tn.m.NetNSPath("stray"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range []string{tn.m.journalPath("stray"), filepath.Join(tn.cfg.CacheDir, "results", tn.m.list.Name+"-stray-eth0")} {
		os.Remove(p)
	}
	for _, a := range tn.allocations(t) {
		b, _ := os.ReadFile(filepath.Join(tn.cfg.IPAMDir, tn.cfg.NetworkName, a))
		if strings.HasPrefix(string(b), "stray") {
			os.Remove(filepath.Join(tn.cfg.IPAMDir, tn.cfg.NetworkName, a))
		}
	}
	if err := removeNetNS(tn.m.NetNSPath("stray")); err != nil {
		t.Fatal(err)
	}
	if v := tn.hostVeths(t); len(v) != 2 {
		t.Fatalf("veths before GC: %v, want keep's and stray's", v)
	}
	if err := tn.m.GC(context.Background(), func(id string) bool { return id == "keep" }); err != nil {
		t.Fatalf("GC: %v", err)
	}
	if v := tn.hostVeths(t); len(v) != 1 {
		t.Errorf("veths after GC: %v, want keep's only", v)
	}
	if err := tn.m.Check(context.Background(), "keep"); err != nil {
		t.Errorf("Check keep: %v", err)
	}
	if err := tn.m.Teardown(context.Background(), "keep"); err != nil {
		t.Fatal(err)
	}
	tn.assertNothingLeft(t, "keep", "stray")
}
