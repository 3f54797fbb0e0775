//go:build integration

package integration

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"leci/api"
	"leci/internal/netns"
	"leci/internal/testutil"
	"leci/network"
	"leci/pod"
	"leci/runtime"
)

// Networking of whole groups (addresses, ports, /etc files, netShaping), and
// of the network Manager on its own (cycles, crash and GC, IPv6). Traffic
// goes only between the tests' own namespaces, on their own subnets, and
// from the test process to a group's address.

// netWaitHTTP fetches url until it answers, for up to 10 s.
func netWaitHTTP(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode == http.StatusOK {
				return string(b)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: no answer in 10s (last error %v)", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const netWebGroup = `
ContainerGroupName: web
TerminationGracePeriodSeconds: 1
Container:
  - Name: web
    Image: ` + image + `
    Command: [sh, -c, "echo hello-from-web > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"]
    Port: [{Port: 8080, Protocol: TCP}]
`

func TestNetworkGroupsReachEachOtherByIP(t *testing.T) {
	hr := newHarness(t)
	web := hr.create(netWebGroup)
	st := hr.waitPhase(web, api.GroupRunning)
	if st.IPv4 == "" {
		t.Fatal("web has no IPv4")
	}
	got, err := hr.h.Engine.Get(web)
	if err != nil || got.IPv4 != st.IPv4 {
		t.Fatalf("Get: %s, %v", got.IPv4, err)
	}
	ip, err := netip.ParseAddr(got.IPv4)
	if err != nil || !netip.MustParsePrefix(hr.cfg.Subnet).Contains(ip) {
		t.Fatalf("web's address %q is not in %s", got.IPv4, hr.cfg.Subnet)
	}
	// The host reaches the group's port on the group's address...
	if page := netWaitHTTP(t, "http://"+net.JoinHostPort(got.IPv4, "8080")+"/index.html"); page != "hello-from-web\n" {
		t.Errorf("host got %q from web", page)
	}
	// ...and another group reaches it by IP.
	client := hr.create(`
ContainerGroupName: client
RestartPolicy: Never
Container:
  - Name: client
    Image: ` + image + `
    Command: [sh, -c, "for i in $(seq 50); do wget -q -O- http://` + got.IPv4 + `:8080/index.html && exit 0; sleep 0.1; done; exit 1"]
`)
	cst := hr.waitPhase(client, api.GroupSucceeded)
	if out := hr.logOf(client, "client", 1); out != "hello-from-web\n" {
		t.Errorf("client got %q, want web's page", out)
	}
	if cst.IPv4 == "" || cst.IPv4 == got.IPv4 {
		t.Errorf("client's address %q (web's %s)", cst.IPv4, got.IPv4)
	}
	hr.delete(client)
	hr.delete(web)
}

func TestNetworkHostReachesGroupPort(t *testing.T) {
	hr := newHarness(t)
	web := hr.create(netWebGroup)
	st := hr.waitPhase(web, api.GroupRunning)
	// A plain TCP dial from the test process, then HTTP over it.
	addr := net.JoinHostPort(st.IPv4, "8080")
	var conn net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		conn, err = net.DialTimeout("tcp4", addr, 2*time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(conn, "GET /index.html HTTP/1.0\r\nHost: web\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "hello-from-web\n" {
		t.Errorf("got %d %q", resp.StatusCode, body)
	}
	hr.delete(web)
}

// netEtcOutput runs a group that prints its /etc files and returns them.
func netEtcOutput(t *testing.T, hr *harness, yaml string) (resolv, hosts, hostname string, st runtime.GroupStatus) {
	t.Helper()
	id := hr.create(yaml)
	st = hr.waitPhase(id, api.GroupSucceeded)
	parts := strings.Split(hr.logOf(id, "app", 1), "---\n")
	if len(parts) != 4 {
		t.Fatalf("output: %q", parts)
	}
	if got := strings.TrimSpace(parts[3]); got != strings.TrimSpace(parts[2]) {
		t.Errorf("hostname command %q, /etc/hostname %q", got, parts[2])
	}
	hr.delete(id)
	return parts[0], parts[1], parts[2], st
}

const netPrintEtc = `[sh, -c, "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname; echo ---; hostname"]`

func TestNetworkEtcFilesDNSPolicyNone(t *testing.T) {
	hr := newHarness(t)
	resolv, hosts, hostname, st := netEtcOutput(t, hr, `
ContainerGroupName: dns-none
RestartPolicy: Never
DnsPolicy: None
DnsConfig:
  NameServer: [192.0.2.53, 192.0.2.54]
  Search: [svc.example, example]
  Option: [{Name: ndots, Value: "2"}, {Name: edns0}]
HostAliase:
  - {Ip: 192.0.2.10, Hostname: [db, db.local]}
  - {Ip: 192.0.2.11, Hostname: [cache]}
Container:
  - {Name: app, Image: `+image+`, Command: `+netPrintEtc+`}
`)
	if want := "nameserver 192.0.2.53\nnameserver 192.0.2.54\nsearch svc.example example\noptions ndots:2 edns0\n"; resolv != want {
		t.Errorf("resolv.conf:\n got %q\nwant %q", resolv, want)
	}
	wantHosts := "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" +
		st.IPv4 + " dns-none\n192.0.2.10 db db.local\n192.0.2.11 cache\n"
	if hosts != wantHosts {
		t.Errorf("hosts:\n got %q\nwant %q", hosts, wantHosts)
	}
	if hostname != "dns-none\n" {
		t.Errorf("hostname: %q", hostname)
	}
}

// netHostNameservers are the servers a group's resolv.conf starts with under
// DnsPolicy Default: the host's, or, behind systemd-resolved's stub, its
// upstreams.
func netHostNameservers(t *testing.T) []string {
	t.Helper()
	read := func(path string) []string {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil
		}
		var ns []string
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "nameserver" {
				ns = append(ns, f[1])
			}
		}
		return ns
	}
	ns := read("/etc/resolv.conf")
	if slices.Contains(ns, "127.0.0.53") {
		if up := read("/run/systemd/resolve/resolv.conf"); len(up) > 0 {
			return up
		}
		ns = slices.DeleteFunc(ns, func(s string) bool { return s == "127.0.0.53" })
	}
	return ns
}

func TestNetworkEtcFilesDNSPolicyDefault(t *testing.T) {
	hr := newHarness(t)
	resolv, hosts, hostname, st := netEtcOutput(t, hr, `
ContainerGroupName: dns-default
HostName: web-1
RestartPolicy: Never
DnsPolicy: Default
DnsConfig:
  NameServer: [192.0.2.53]
  Search: [svc.example]
  Option: [{Name: ndots, Value: "5"}]
HostAliase:
  - {Ip: 192.0.2.10, Hostname: [db]}
Container:
  - {Name: app, Image: `+image+`, Command: `+netPrintEtc+`}
`)
	var ns, search []string
	var options string
	for _, l := range strings.Split(resolv, "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) > 1 && f[0] == "nameserver":
			ns = append(ns, f[1])
		case len(f) > 1 && f[0] == "search":
			search = f[1:]
		case len(f) > 1 && f[0] == "options":
			options = l
		}
	}
	want := append(netHostNameservers(t), "192.0.2.53")
	want = slices.Compact(want)
	if !slices.Equal(ns, want) {
		t.Errorf("nameservers: got %v, want the host's then the request's: %v\n%s", ns, want, resolv)
	}
	if slices.Contains(ns, "127.0.0.53") {
		t.Errorf("systemd-resolved's stub in a group's resolv.conf:\n%s", resolv)
	}
	if len(search) == 0 || search[len(search)-1] != "svc.example" {
		t.Errorf("search: got %v, want it to end with svc.example", search)
	}
	if !strings.Contains(options, "ndots:5") {
		t.Errorf("options: got %q, want ndots:5", options)
	}
	wantHosts := "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n" + st.IPv4 + " web-1\n192.0.2.10 db\n"
	if hosts != wantHosts {
		t.Errorf("hosts:\n got %q\nwant %q", hosts, wantHosts)
	}
	if hostname != "web-1\n" {
		t.Errorf("hostname: %q", hostname)
	}
}

// netShaping is what the bandwidth plugin put on a host-side veth: the tbf
// rate there (ingress, to the group) and the tbf rate on the ifb device its
// ingress filter redirects to (egress, from the group), in bytes per
// second.
func netShaping(t *testing.T, veth netlink.Link) (in, out uint64, ifb string) {
	t.Helper()
	rate := func(l netlink.Link) uint64 {
		qs, err := netlink.QdiscList(l)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range qs {
			if tbf, ok := q.(*netlink.Tbf); ok {
				return tbf.Rate
			}
		}
		return 0
	}
	in = rate(veth)
	filters, err := netlink.FilterList(veth, netlink.MakeHandle(0xffff, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range filters {
		if u, ok := f.(*netlink.U32); ok {
			for _, a := range u.Actions {
				if m, ok := a.(*netlink.MirredAction); ok {
					l, err := netlink.LinkByIndex(m.Ifindex)
					if err == nil {
						return in, rate(l), l.Attrs().Name
					}
				}
			}
		}
	}
	return in, 0, ""
}

func TestNetworkBandwidthLimit(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: shaped
TerminationGracePeriodSeconds: 1
IngressBandwidth: 128000
EgressBandwidth: 256000
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
`)
	hr.waitPhase(id, api.GroupRunning)
	br, err := netlink.LinkByName(hr.cfg.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	links, _ := netlink.LinkList()
	var veth netlink.Link
	for _, l := range links {
		if l.Attrs().MasterIndex == br.Attrs().Index && l.Type() == "veth" {
			veth = l
		}
	}
	if veth == nil {
		t.Fatal("no veth on the bridge")
	}
	// The request's rates are bytes per second, as ECI's. The plugin
	// shapes the host side: ingress with tbf on the veth, egress with tbf
	// on an ifb device; tbf's rate is in bytes.
	in, out, ifb := netShaping(t, veth)
	if in != 128000 {
		t.Errorf("ingress tbf on %s: %d B/s, want %d", veth.Attrs().Name, in, 128000)
	}
	if out != 256000 {
		t.Errorf("egress tbf on %q: %d B/s, want %d", ifb, out, 256000)
	}
	if tc, err := exec.LookPath("tc"); err == nil {
		b, err := exec.Command(tc, "qdisc", "show", "dev", veth.Attrs().Name).CombinedOutput()
		if err != nil || !strings.Contains(string(b), "rate 1024Kbit") {
			t.Errorf("tc qdisc show dev %s: %v\n%s", veth.Attrs().Name, err, b)
		}
	}
	hr.delete(id)
	if _, err := netlink.LinkByName(ifb); err == nil {
		t.Errorf("ifb %s left after delete", ifb)
	}
}

func TestNetworkIPv6WithoutSubnetFailsGroup(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: wants-v6
RestartPolicy: Never
Ipv6AddressCount: 1
Container:
  - {Name: app, Image: ` + image + `, Command: ["true"]}
`)
	st := hr.waitPhase(id, api.GroupFailed)
	if !strings.Contains(st.Message, "IPv6") {
		t.Errorf("message %q does not say why", st.Message)
	}
	hr.delete(id)
}

// netEnv is a network Manager of a test's own: its own root, bridge,
// 10.214.N.0/24 and fd00:214:N::/64.
type netEnv struct {
	cfg    network.Config
	m      *network.Manager
	subnet netip.Prefix
}

func newNetEnv(t *testing.T, mutate ...func(*network.Config)) *netEnv {
	t.Helper()
	testutil.RequireRoot(t)
	for _, p := range []string{"bridge", "host-local", "portmap", "bandwidth"} {
		found := false
		for _, dir := range network.DefaultBinDirs() {
			if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
				found = true
			}
		}
		if !found {
			testutil.RequireBinary(t, p)
		}
	}
	root := testutil.TempDir(t, "lnet-it")
	subnet := netFreeSubnet(t)
	cfg := network.Config{
		StateDir:    filepath.Join(root, "netns"),
		CacheDir:    filepath.Join(root, "cni", "cache"),
		ConfDir:     filepath.Join(root, "cni", "net.d"),
		NetworkName: "lecinet",
		Bridge:      "ln" + netRandHex(t, 4),
		Subnet:      subnet.String(),
		Subnet6:     fmt.Sprintf("fd00:214:%d::/64", subnet.Addr().As4()[2]),
	}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := network.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	forwarding := "/proc/sys/net/ipv6/conf/all/forwarding"
	before, _ := os.ReadFile(forwarding)
	t.Cleanup(func() {
		if l, err := netlink.LinkByName(cfg.Bridge); err == nil {
			netlink.LinkDel(l)
		}
		// The bridge plugin turns IPv6 forwarding on for an IPv6 gateway.
		if after, _ := os.ReadFile(forwarding); before != nil && string(after) != string(before) {
			os.WriteFile(forwarding, before, 0o644)
		}
	})
	return &netEnv{cfg: cfg, m: m, subnet: subnet}
}

func netRandHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// netFreeSubnet picks a 10.214.N.0/24 that no route or address of the host
// overlaps.
func netFreeSubnet(t *testing.T) netip.Prefix {
	t.Helper()
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	var used []*net.IPNet
	for _, r := range routes {
		if r.Dst != nil {
			used = append(used, r.Dst)
		}
	}
	for _, a := range addrs {
		used = append(used, a.IPNet)
	}
	for range 64 {
		n, _ := rand.Int(rand.Reader, big.NewInt(250))
		p := netip.MustParsePrefix(fmt.Sprintf("10.214.%d.0/24", n.Int64()+1))
		if !slices.ContainsFunc(used, func(u *net.IPNet) bool {
			a, _ := netip.AddrFromSlice(u.IP)
			ones, _ := u.Mask.Size()
			q := netip.PrefixFrom(a.Unmap(), ones).Masked()
			return q.Bits() > 0 && q.Overlaps(p)
		}) {
			return p
		}
	}
	t.Fatal("no free /24 in 10.214.0.0/16")
	return netip.Prefix{}
}

// netHashed is how the plugins name a group's chains and ifb device: a
// prefix and the hex SHA-512 of network name and group ID.
func netHashed(length int, prefix, network, id string) string {
	sum := sha512.Sum512([]byte(network + id))
	return (prefix + hex.EncodeToString(sum[:]))[:length]
}

// assertClean checks that the groups left no namespace, veth, address
// allocation, journal or cache entry, ifb device, iptables chain or rule.
func (e *netEnv) assertClean(t *testing.T, ids ...string) {
	t.Helper()
	info := e.m.Info()
	for _, dir := range []string{info.StateDir, info.JournalDir, filepath.Join(info.CacheDir, "results")} {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%s: %d entries left", dir, len(entries))
		}
	}
	entries, _ := os.ReadDir(filepath.Join(info.IPAMDir, info.NetworkName))
	for _, en := range entries {
		if _, err := netip.ParseAddr(en.Name()); err == nil {
			t.Errorf("address allocation left: %s", en.Name())
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var veths []string
		if br, err := netlink.LinkByName(e.cfg.Bridge); err == nil {
			links, _ := netlink.LinkList()
			for _, l := range links {
				if l.Attrs().MasterIndex == br.Attrs().Index {
					veths = append(veths, l.Attrs().Name)
				}
			}
		}
		if len(veths) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("veths left on the bridge: %v", veths)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var marks []string
	for _, id := range ids {
		if ifb := netHashed(15, "bwp", info.NetworkName, id); netLinkExists(ifb) {
			t.Errorf("ifb %s of %s left", ifb, id)
		}
		marks = append(marks, netHashed(28, "CNI-DN-", info.NetworkName, id), netHashed(28, "CNI-", info.NetworkName, id), `id: \"`+id+`\"`)
	}
	marks = append(marks, strings.TrimSuffix(e.subnet.Addr().String(), "0"))
	if e.cfg.Subnet6 != "" {
		marks = append(marks, strings.TrimSuffix(netip.MustParsePrefix(e.cfg.Subnet6).Addr().String(), ":"))
	}
	for _, bin := range []string{"iptables", "ip6tables"} {
		for _, tab := range []string{"nat", "filter"} {
			out, err := exec.Command(bin, "-w", "-t", tab, "-S").Output()
			if err != nil {
				t.Fatalf("%s -t %s -S: %v", bin, tab, err)
			}
			for _, l := range strings.Split(string(out), "\n") {
				for _, m := range marks {
					if strings.Contains(l, m) {
						t.Errorf("%s %s: left (%s): %s", bin, tab, m, l)
					}
				}
			}
		}
	}
}

func netLinkExists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

func netFreeLoopbackPort(t *testing.T) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func netMedian(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func TestNetworkSetupTeardown100Cycles(t *testing.T) {
	e := newNetEnv(t, func(c *network.Config) { c.PublishPorts = true })
	ctx := context.Background()
	port := netFreeLoopbackPort(t)
	var ids []string
	var plain, full [2][]time.Duration // Setup, Teardown
	for i := range 100 {
		id := fmt.Sprintf("cyc%d-%s", i, netRandHex(t, 3))
		ids = append(ids, id)
		// Every other cycle with everything a group can ask of the
		// network: IPv6, a published port, netShaping both ways.
		opts := pod.NetworkOptions{}
		d := &plain
		if i%2 == 1 {
			opts = pod.NetworkOptions{IPv6: true, IngressBandwidth: 1024000, EgressBandwidth: 1024000,
				Ports: []pod.PortMapping{{ContainerPort: 80, HostPort: port}}}
			d = &full
		}
		start := time.Now()
		n, err := e.m.Setup(ctx, id, opts)
		if err != nil {
			t.Fatalf("cycle %d: Setup: %v", i, err)
		}
		mid := time.Now()
		if n.IPv4 == "" || (opts.IPv6 && n.IPv6 == "") {
			t.Errorf("cycle %d: addresses %+v", i, n)
		}
		if err := e.m.Teardown(ctx, id); err != nil {
			t.Fatalf("cycle %d: Teardown: %v", i, err)
		}
		d[0] = append(d[0], mid.Sub(start))
		d[1] = append(d[1], time.Since(mid))
	}
	t.Logf("50 plain cycles: Setup (CNI ADD) median %v, Teardown (CNI DEL) median %v", netMedian(plain[0]), netMedian(plain[1]))
	t.Logf("50 cycles with IPv6, a port and shaping: Setup median %v, Teardown median %v", netMedian(full[0]), netMedian(full[1]))
	e.assertClean(t, ids...)
}

func TestNetworkGCAfterCrash(t *testing.T) {
	e := newNetEnv(t, func(c *network.Config) { c.PublishPorts = true })
	ctx := context.Background()
	ids := []string{"crash-a-" + netRandHex(t, 3), "crash-b-" + netRandHex(t, 3)}
	// Set up, then the Manager is dropped without Teardown: what a leci
	// killed right after CNI ADD leaves.
	func() {
		m, err := network.New(e.cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			_, err := m.Setup(ctx, id, pod.NetworkOptions{IPv6: i == 1, IngressBandwidth: 1024000, EgressBandwidth: 1024000,
				Ports: []pod.PortMapping{{ContainerPort: 80, HostPort: netFreeLoopbackPort(t)}}})
			if err != nil {
				t.Fatalf("Setup %s: %v", id, err)
			}
		}
	}()
	// leci starts again; no group is live.
	m2, err := network.New(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.GC(ctx, func(string) bool { return false }); err != nil {
		t.Fatalf("GC: %v", err)
	}
	e.assertClean(t, ids...)
}

func TestNetworkDualStack(t *testing.T) {
	e := newNetEnv(t)
	ctx := context.Background()
	n, err := e.m.Setup(ctx, "v6", pod.NetworkOptions{IPv6: true})
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	defer e.m.Teardown(ctx, "v6")
	p6 := netip.MustParsePrefix(e.cfg.Subnet6)
	if a, err := netip.ParseAddr(n.IPv6); err != nil || !p6.Contains(a) || n.IPv4 == "" {
		t.Fatalf("addresses %q, %q: want IPv4 and IPv6 in %s", n.IPv4, n.IPv6, p6)
	}
	// Inside the namespace, eth0 has it, and it answers there.
	var addrs []string
	err = netns.Run(n.NetNSPath, func() error {
		eth0, err := netlink.LinkByName("eth0")
		if err != nil {
			return err
		}
		list, err := netlink.AddrList(eth0, netlink.FAMILY_V6)
		for _, a := range list {
			addrs = append(addrs, a.IP.String())
		}
		return err
	})
	if err != nil || !slices.Contains(addrs, n.IPv6) {
		t.Errorf("eth0's IPv6 addresses %v (%v), want %s", addrs, err, n.IPv6)
	}
	var ln net.Listener
	if err := netns.Run(n.NetNSPath, func() error {
		var err error
		ln, err = net.Listen("tcp6", net.JoinHostPort(n.IPv6, "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "v6\n")
			c.Close()
		}
	}()
	// From the host, through the bridge's IPv6 gateway address, which the
	// kernel uses as the source only once its duplicate address detection
	// is over (a second or so after the bridge got it).
	var c net.Conn
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err = net.DialTimeout("tcp6", ln.Addr().String(), time.Second)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial %s from the host: %v", ln.Addr(), err)
		}
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	if line != "v6\n" {
		t.Errorf("got %q over IPv6", line)
	}
	if err := e.m.Check(ctx, "v6"); err != nil {
		t.Errorf("Check: %v", err)
	}
}

func TestNetworkIPv6NotConfigured(t *testing.T) {
	e := newNetEnv(t, func(c *network.Config) { c.Subnet6 = "" })
	_, err := e.m.Setup(context.Background(), "no-v6", pod.NetworkOptions{IPv6: true})
	if !errors.Is(err, network.ErrIPv6NotConfigured) {
		t.Fatalf("got %v, want ErrIPv6NotConfigured", err)
	}
	e.assertClean(t, "no-v6")
}
