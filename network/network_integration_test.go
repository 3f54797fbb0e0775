//go:build integration

package network

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"leci/internal/netns"
	"leci/internal/testutil"
	"leci/pod"
)

// These tests make real namespaces, bridges and veths. Each test has its own
// state, cache and conf dirs, its own bridge and its own /24 in
// 10.213.0.0/16, and sends traffic only between namespaces it made.

// forwardingSettings are the host's IPv4 and IPv6 forwarding settings,
// which the bridge plugin turns on when it gives a bridge its gateway
// addresses.
var forwardingSettings = []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding"}

// TestMain puts the host's forwarding settings back.
func TestMain(m *testing.M) {
	before := map[string][]byte{}
	for _, p := range forwardingSettings {
		if b, err := os.ReadFile(p); err == nil {
			before[p] = b
		}
	}
	code := m.Run()
	for p, b := range before {
		if after, _ := os.ReadFile(p); string(after) != string(b) {
			_ = os.WriteFile(p, b, 0o644)
		}
	}
	os.Exit(code)
}

type testNet struct {
	m      *Manager
	cfg    Config
	subnet netip.Prefix
}

// newTestNet gives a test a Manager on its own bridge and subnet, and
// deletes the bridge when the test ends.
func newTestNet(t testing.TB, mutate ...func(*Config)) *testNet {
	t.Helper()
	testutil.RequireRoot(t)
	for _, p := range []string{"bridge", "host-local", "portmap", "bandwidth"} {
		testutil.RequireBinary(t, findPlugin(p))
	}
	root := testutil.TempDir(t, "lnet")
	subnet := freeSubnet(t)
	cfg := Config{
		StateDir:    filepath.Join(root, "netns"),
		CacheDir:    filepath.Join(root, "cni", "cache"),
		ConfDir:     filepath.Join(root, "cni", "net.d"),
		NetworkName: "lecitest",
		Bridge:      "lt" + randomHex(t, 4),
		Subnet:      subnet.String(),
	}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		unguardLoopback(t, cfg.Bridge)
		if br, err := netlink.LinkByName(cfg.Bridge); err == nil {
			if err := netlink.LinkDel(br); err != nil {
				t.Errorf("delete bridge %s: %v", cfg.Bridge, err)
			}
		}
	})
	return &testNet{m: m, cfg: m.cfg, subnet: subnet}
}

// setup sets a group up and tears it down when the test ends.
func (tn *testNet) setup(t testing.TB, groupID string) pod.Network {
	t.Helper()
	n, err := tn.m.Setup(context.Background(), groupID, pod.NetworkOptions{})
	if err != nil {
		t.Fatalf("Setup %s: %v", groupID, err)
	}
	t.Cleanup(func() {
		if err := tn.m.Teardown(context.Background(), groupID); err != nil {
			t.Errorf("Teardown %s: %v", groupID, err)
		}
	})
	return n
}

// findPlugin returns the path of a CNI plugin in the default dirs, or its
// bare name (which RequireBinary then reports as missing).
func findPlugin(name string) string {
	for _, dir := range DefaultBinDirs() {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return name
}

func randomHex(t testing.TB, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// freeSubnet picks a random 10.213.N.0/24 that no host address or route
// overlaps, so that tests running side by side do not collide.
func freeSubnet(t testing.TB) netip.Prefix {
	t.Helper()
	for range 64 {
		n, err := rand.Int(rand.Reader, big.NewInt(254))
		if err != nil {
			t.Fatal(err)
		}
		p := netip.MustParsePrefix(fmt.Sprintf("10.213.%d.0/24", n.Int64()+1))
		if !hostUses(t, p) {
			return p
		}
	}
	t.Fatal("no free /24 in 10.213.0.0/16")
	return netip.Prefix{}
}

func hostUses(t testing.TB, p netip.Prefix) bool {
	t.Helper()
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		if q, ok := netipPrefix(*r.Dst); ok && q.Bits() > 0 && q.Overlaps(p) {
			return true
		}
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatalf("list addresses: %v", err)
	}
	for _, a := range addrs {
		if q, ok := netipPrefix(*a.IPNet); ok && q.Overlaps(p) {
			return true
		}
	}
	return false
}

func netipPrefix(n net.IPNet) (netip.Prefix, bool) {
	addr, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(addr.Unmap(), ones).Masked(), true
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	if _, ok := t.(*testing.B); ok {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// hostVeths lists the veths attached to the test's bridge.
func (tn *testNet) hostVeths(t testing.TB) []string {
	t.Helper()
	br, err := netlink.LinkByName(tn.cfg.Bridge)
	var notFound netlink.LinkNotFoundError
	if errors.As(err, &notFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("find bridge: %v", err)
	}
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatalf("list links: %v", err)
	}
	var names []string
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index && l.Type() == "veth" {
			names = append(names, l.Attrs().Name)
		}
	}
	return names
}

// allocations lists the addresses host-local holds for the test's network.
func (tn *testNet) allocations(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(tn.cfg.IPAMDir, tn.cfg.NetworkName))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var ips []string
	for _, e := range entries {
		if _, err := netip.ParseAddr(e.Name()); err == nil {
			ips = append(ips, e.Name())
		}
	}
	return ips
}

// netnsFiles lists the files in the state dir.
func (tn *testNet) netnsFiles(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(tn.cfg.StateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// journalFiles lists the journal's files.
func (tn *testNet) journalFiles(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(tn.cfg.JournalDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// cachedResults lists libcni's cached ADD results.
func (tn *testNet) cachedResults(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(tn.cfg.CacheDir, "results"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// mountFSType returns the file system type mounted at path, "" if none.
func mountFSType(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fstype := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// ID parent major:minor root mountpoint options [optional...] - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if len(fields) > 4 && sep > 0 && sep+1 < len(fields) && fields[4] == path {
			fstype = fields[sep+1]
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fstype
}

// eventually polls cond for a few seconds: a namespace whose last reference
// is gone is cleaned up by the kernel asynchronously.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Errorf("still not so after 5s: %s", what)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSetup(t *testing.T) {
	tn := newTestNet(t)
	n := tn.setup(t, "g1")

	ip, err := netip.ParseAddr(n.IPv4)
	if err != nil {
		t.Fatalf("IPv4 %q: %v", n.IPv4, err)
	}
	if !tn.subnet.Contains(ip) {
		t.Errorf("IPv4 %s is not in %s", ip, tn.subnet)
	}
	if n.NetNSPath != tn.m.NetNSPath("g1") || n.Interface != "eth0" || n.IPv6 != "" {
		t.Errorf("Setup: got %+v, want netns %s, eth0, no IPv6", n, tn.m.NetNSPath("g1"))
	}
	if !isNetNS(n.NetNSPath) {
		t.Errorf("%s is not a namespace file", n.NetNSPath)
	}
	if got := mountFSType(t, n.NetNSPath); got != "nsfs" {
		t.Errorf("mounted on %s: got %q, want nsfs", n.NetNSPath, got)
	}

	err = netns.Run(n.NetNSPath, func() error {
		lo, err := netlink.LinkByName("lo")
		if err != nil {
			return err
		}
		if lo.Attrs().Flags&net.FlagUp == 0 {
			t.Errorf("lo is down in the group's namespace")
		}
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		addrs, err := netlink.AddrList(eth0, netlink.FAMILY_V4)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(addrs, func(a netlink.Addr) bool { return a.IP.String() == n.IPv4 }) {
			t.Errorf("eth0 addresses %v do not include %s", addrs, n.IPv4)
		}
		// The host's links are not visible here.
		if _, err := netlink.LinkByName(tn.cfg.Bridge); err == nil {
			t.Errorf("bridge %s is visible inside the group's namespace", tn.cfg.Bridge)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("inspect namespace: %v", err)
	}
	if veths := tn.hostVeths(t); len(veths) != 1 {
		t.Errorf("veths on %s: got %v, want one", tn.cfg.Bridge, veths)
	}
	if allocs := tn.allocations(t); !slices.Equal(allocs, []string{n.IPv4}) {
		t.Errorf("host-local allocations: got %v, want [%s]", allocs, n.IPv4)
	}

	// A second Setup of the same group is refused and leaves the first alone.
	_, err = tn.m.Setup(context.Background(), "g1", pod.NetworkOptions{})
	if !errors.Is(err, ErrNetNSExists) {
		t.Errorf("second Setup: got %v, want ErrNetNSExists", err)
	}
	if !isNetNS(n.NetNSPath) || len(tn.hostVeths(t)) != 1 || len(tn.allocations(t)) != 1 {
		t.Errorf("second Setup disturbed the first: netns %v, veths %v, allocations %v",
			isNetNS(n.NetNSPath), tn.hostVeths(t), tn.allocations(t))
	}
}

func TestGroupsReachEachOther(t *testing.T) {
	tn := newTestNet(t)
	a := tn.setup(t, "ga")
	b := tn.setup(t, "gb")
	if a.IPv4 == b.IPv4 {
		t.Fatalf("both groups got %s", a.IPv4)
	}

	// Listen inside B's namespace, on B's address.
	var ln net.Listener
	err := netns.Run(b.NetNSPath, func() error {
		var err error
		ln, err = net.Listen("tcp4", net.JoinHostPort(b.IPv4, "0"))
		return err
	})
	if err != nil {
		t.Fatalf("listen in B: %v", err)
	}
	defer ln.Close()
	peer := make(chan string, 1)
	go func() {
		// The socket belongs to B's namespace; accepting needs no switch.
		c, err := ln.Accept()
		if err != nil {
			peer <- "accept: " + err.Error()
			return
		}
		defer c.Close()
		peer <- c.RemoteAddr().(*net.TCPAddr).IP.String()
		_, _ = c.Write([]byte("hello from B\n"))
	}()

	// Dial from A's namespace.
	var reply string
	err = netns.Run(a.NetNSPath, func() error {
		c, err := net.DialTimeout("tcp4", ln.Addr().String(), 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		reply = line
		return err
	})
	if err != nil {
		t.Fatalf("dial B from A: %v", err)
	}
	if reply != "hello from B\n" {
		t.Errorf("reply: got %q", reply)
	}
	if got := <-peer; got != a.IPv4 {
		t.Errorf("B saw the connection come from %s, want A's %s", got, a.IPv4)
	}
}

func TestTeardown(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()

	n, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	veths := tn.hostVeths(t)
	if len(veths) != 1 || len(tn.allocations(t)) != 1 || len(tn.cachedResults(t)) != 1 {
		t.Fatalf("after Setup: veths %v, allocations %v, cached results %v, want one of each",
			veths, tn.allocations(t), tn.cachedResults(t))
	}

	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Lstat(n.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file %s: got %v, want it gone", n.NetNSPath, err)
	}
	if got := mountFSType(t, n.NetNSPath); got != "" {
		t.Errorf("%s still mounted (%s)", n.NetNSPath, got)
	}
	if _, err := netlink.LinkByName(veths[0]); err == nil {
		t.Errorf("veth %s still exists", veths[0])
	}
	if a := tn.allocations(t); len(a) != 0 {
		t.Errorf("host-local allocations left: %v", a)
	}
	if c := tn.cachedResults(t); len(c) != 0 {
		t.Errorf("libcni cache left: %v", c)
	}
	if j := tn.journalFiles(t); len(j) != 0 {
		t.Errorf("journal left: %v", j)
	}

	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if err := tn.m.Teardown(ctx, "never-set-up"); err != nil {
		t.Errorf("Teardown of a group never set up: %v", err)
	}
	if err := tn.m.Teardown(ctx, "../escape"); err == nil {
		t.Error("Teardown with a bad group id: no error")
	}
}

func TestTeardownAfterNetNSRemoved(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()
	n, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	veths := tn.hostVeths(t)

	// Someone else unpins and removes the namespace file.
	if err := unix.Unmount(n.NetNSPath, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(n.NetNSPath); err != nil {
		t.Fatal(err)
	}

	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if a := tn.allocations(t); len(a) != 0 {
		t.Errorf("host-local allocations left: %v", a)
	}
	if c := tn.cachedResults(t); len(c) != 0 {
		t.Errorf("libcni cache left: %v", c)
	}
	// The veth went with its namespace.
	eventually(t, "veth "+strings.Join(veths, ",")+" gone", func() bool { return len(tn.hostVeths(t)) == 0 })
}

func TestTeardownAfterNetNSUnmounted(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()
	n, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	// Only unmounted, as after a reboot cleared the mounts but not the file:
	// the file is plain and CNI must not be handed it as a namespace.
	if err := unix.Unmount(n.NetNSPath, unix.MNT_DETACH); err != nil {
		t.Fatal(err)
	}
	if err := tn.m.Teardown(ctx, "g1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Lstat(n.NetNSPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("netns file %s: got %v, want it gone", n.NetNSPath, err)
	}
	if a := tn.allocations(t); len(a) != 0 {
		t.Errorf("host-local allocations left: %v", a)
	}
}

func TestSetupOverStaleFile(t *testing.T) {
	tn := newTestNet(t)
	// A crash between creating the file and mounting the namespace on it
	// leaves a plain file, which pins nothing and must not block the group.
	path := tn.m.NetNSPath("g1")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	n := tn.setup(t, "g1")
	if !isNetNS(n.NetNSPath) {
		t.Errorf("%s is not a namespace file", n.NetNSPath)
	}
}

func TestTeardownWithChangedConfig(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()
	if _, err := tn.m.Setup(ctx, "g1", pod.NetworkOptions{}); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	// leci restarts with its IPAM dir moved: DEL must still reach the
	// allocation that ADD made, through the config libcni cached.
	cfg := tn.cfg
	cfg.IPAMDir = filepath.Join(filepath.Dir(cfg.IPAMDir), "ipam-moved")
	m2, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := m2.Teardown(ctx, "g1"); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if a := tn.allocations(t); len(a) != 0 {
		t.Errorf("host-local allocations left in the first IPAM dir: %v", a)
	}
}

func TestConcurrentGroups(t *testing.T) {
	tn := newTestNet(t)
	ctx := context.Background()
	const n = 8
	ips := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nw, err := tn.m.Setup(ctx, fmt.Sprintf("c%d", i), pod.NetworkOptions{})
			ips[i], errs[i] = nw.IPv4, err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Setup: %v", err)
	}
	if uniq := slices.Compact(slices.Sorted(slices.Values(ips))); len(uniq) != n {
		t.Errorf("addresses: got %v, want %d different ones", ips, n)
	}
	if v := tn.hostVeths(t); len(v) != n {
		t.Errorf("veths on the bridge: got %d, want %d", len(v), n)
	}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = tn.m.Teardown(ctx, fmt.Sprintf("c%d", i))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent Teardown: %v", err)
	}
	if v, a, f := tn.hostVeths(t), tn.allocations(t), tn.netnsFiles(t); len(v)+len(a)+len(f) != 0 {
		t.Errorf("left after Teardown: veths %v, allocations %v, netns files %v", v, a, f)
	}
}

func TestSetupFailureLeavesNothing(t *testing.T) {
	t.Run("no plugins", func(t *testing.T) {
		empty := t.TempDir()
		tn := newTestNet(t, func(c *Config) { c.BinDirs = []string{empty} })
		_, err := tn.m.Setup(context.Background(), "g1", pod.NetworkOptions{})
		if err == nil {
			t.Fatal("Setup without plugins: no error")
		}
		t.Logf("Setup failed as it should: %v", err)
		if f := tn.netnsFiles(t); len(f) != 0 {
			t.Errorf("netns files left: %v", f)
		}
		if a := tn.allocations(t); len(a) != 0 {
			t.Errorf("host-local allocations left: %v", a)
		}
		// The undo's DEL could not run either: the journal keeps it for a
		// GC to retry, which succeeds once the plugins are there.
		if j, err := tn.m.readJournal("g1"); err != nil || j == nil || j.Op != opDel {
			t.Fatalf("journal: got %+v, %v, want g1's unfinished del", j, err)
		}
		cfg := tn.cfg
		cfg.BinDirs = nil
		m2, err := New(cfg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.GC(context.Background(), nil); err != nil {
			t.Fatalf("GC: %v", err)
		}
		if j := tn.journalFiles(t); len(j) != 0 {
			t.Errorf("journal left after GC: %v", j)
		}
	})

	t.Run("subnet exhausted", func(t *testing.T) {
		// A /30 has one address for groups beside the gateway: the second
		// ADD fails in IPAM, after the bridge plugin made its veth.
		tn := newTestNet(t, func(c *Config) {
			p := netip.MustParsePrefix(c.Subnet)
			c.Subnet = netip.PrefixFrom(p.Addr(), 30).String()
		})
		first := tn.setup(t, "g1")
		_, err := tn.m.Setup(context.Background(), "g2", pod.NetworkOptions{})
		if err == nil {
			t.Fatal("Setup in a full subnet: no error")
		}
		t.Logf("Setup failed as it should: %v", err)
		if f := tn.netnsFiles(t); !slices.Equal(f, []string{"g1"}) {
			t.Errorf("netns files: got %v, want [g1]", f)
		}
		if a := tn.allocations(t); !slices.Equal(a, []string{first.IPv4}) {
			t.Errorf("host-local allocations: got %v, want [%s]", a, first.IPv4)
		}
		eventually(t, "one veth on the bridge", func() bool { return len(tn.hostVeths(t)) == 1 })
		if c := tn.cachedResults(t); len(c) != 1 {
			t.Errorf("libcni cache: got %v, want g1's only", c)
		}
	})
}

func TestSetupTeardownCycles(t *testing.T) {
	tn := newTestNet(t)
	setups, teardowns := tn.cycles(t, 20)
	t.Logf("20 cycles: Setup median %v (min %v, max %v); Teardown median %v (min %v, max %v)",
		median(setups), slices.Min(setups), slices.Max(setups),
		median(teardowns), slices.Min(teardowns), slices.Max(teardowns))
	if v := tn.hostVeths(t); len(v) != 0 {
		t.Errorf("veths left on the bridge: %v", v)
	}
	if a := tn.allocations(t); len(a) != 0 {
		t.Errorf("host-local allocations left: %v", a)
	}
	if f := tn.netnsFiles(t); len(f) != 0 {
		t.Errorf("netns files left: %v", f)
	}
	if c := tn.cachedResults(t); len(c) != 0 {
		t.Errorf("libcni cache left: %v", c)
	}
	if j := tn.journalFiles(t); len(j) != 0 {
		t.Errorf("journal left: %v", j)
	}
}

// cycles sets up and tears down n groups one after the other and returns
// how long each Setup and each Teardown took.
func (tn *testNet) cycles(t testing.TB, n int) (setups, teardowns []time.Duration) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		id := fmt.Sprintf("cycle-%d", i)
		start := time.Now()
		if _, err := tn.m.Setup(ctx, id, pod.NetworkOptions{}); err != nil {
			t.Fatalf("Setup %s: %v", id, err)
		}
		mid := time.Now()
		if err := tn.m.Teardown(ctx, id); err != nil {
			t.Fatalf("Teardown %s: %v", id, err)
		}
		setups = append(setups, mid.Sub(start))
		teardowns = append(teardowns, time.Since(mid))
	}
	return setups, teardowns
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkSetupTeardown reports the median Setup and Teardown times; run
// it with -benchtime=20x for the 20 cycles.
func BenchmarkSetupTeardown(b *testing.B) {
	tn := newTestNet(b)
	b.ResetTimer()
	setups, teardowns := tn.cycles(b, b.N)
	b.StopTimer()
	b.ReportMetric(float64(median(setups).Microseconds())/1000, "setup-ms")
	b.ReportMetric(float64(median(teardowns).Microseconds())/1000, "teardown-ms")
}
