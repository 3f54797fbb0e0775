package network

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/containernetworking/cni/pkg/invoke"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/plugins/pkg/ipam"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/allocator"
	"github.com/containernetworking/plugins/plugins/ipam/host-local/backend/disk"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"leci/internal/netns"
)

// inProcessExec is how libcni runs the plugins of leci's own network. The
// bridge plugin's ADD and DEL, with host-local addresses, run inside leci:
// the same links, addresses, routes, sysctls and address files (through
// host-local's own allocator and store, so its binary and leci share the
// data dir and its lock), but no plugin process. Starting the two plugin
// binaries cost some 3 ms of CPU each, four times per group, which on a
// small host is a tenth of a one-container group's life. libcni still does
// the rest (result cache, chaining, CHECK), and every other call (CHECK,
// VERSION, portmap, bandwidth, firewall, a configuration with anything
// leci does not write) goes to the plugin binaries, so a group set up here
// is checked, and could be deleted, by the real plugins.
type inProcessExec struct {
	invoke.Exec
}

func (e inProcessExec) ExecPlugin(ctx context.Context, pluginPath string, stdin []byte, environ []string) ([]byte, error) {
	if filepath.Base(pluginPath) != "bridge" {
		return e.Exec.ExecPlugin(ctx, pluginPath, stdin, environ)
	}
	env := cniEnvOf(environ)
	if env.command != "ADD" && env.command != "DEL" {
		return e.Exec.ExecPlugin(ctx, pluginPath, stdin, environ)
	}
	conf, ok := ownBridgeConf(stdin)
	if !ok {
		return e.Exec.ExecPlugin(ctx, pluginPath, stdin, environ)
	}
	if env.command == "DEL" {
		return nil, bridgeDel(stdin, env)
	}
	return bridgeAdd(ctx, stdin, conf, env)
}

// cniEnv is what libcni tells a plugin through its environment.
type cniEnv struct {
	command, containerID, netns, ifName, args string
}

func cniEnvOf(environ []string) cniEnv {
	var e cniEnv
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "CNI_COMMAND":
			e.command = v
		case "CNI_CONTAINERID":
			e.containerID = v
		case "CNI_NETNS":
			e.netns = v
		case "CNI_IFNAME":
			e.ifName = v
		case "CNI_ARGS":
			e.args = v
		}
	}
	return e
}

// ownBridgeStdin is the bridge plugin's configuration as leci writes it
// (bridgeConf), with what libcni adds. Any other field makes the call go
// to the plugin binary.
type ownBridgeStdin struct {
	CNIVersion    string          `json:"cniVersion"`
	Name          string          `json:"name"`
	Type          string          `json:"type"`
	Bridge        string          `json:"bridge"`
	IsGateway     bool            `json:"isGateway"`
	IPMasq        bool            `json:"ipMasq"`
	HairpinMode   bool            `json:"hairpinMode"`
	MTU           int             `json:"mtu"`
	IPAM          ipamConf        `json:"ipam"`
	Capabilities  map[string]bool `json:"capabilities"`
	RuntimeConfig struct {
		IPs []string `json:"ips"`
	} `json:"runtimeConfig"`
	PrevResult json.RawMessage `json:"prevResult"`
}

// ownBridgeConf reads stdin as one of leci's IPv4 bridge configurations
// without masquerade (whose iptables rules the plugin keeps), or says it is
// not one.
func ownBridgeConf(stdin []byte) (ownBridgeStdin, bool) {
	var c ownBridgeStdin
	dec := json.NewDecoder(bytes.NewReader(stdin))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, false
	}
	if c.Type != "bridge" || c.Bridge == "" || !c.IsGateway || c.IPMasq || c.IPAM.Type != "host-local" || len(c.IPAM.Ranges) == 0 {
		return c, false
	}
	for _, set := range c.IPAM.Ranges {
		for _, r := range set {
			p, err := netip.ParsePrefix(r.Subnet)
			if err != nil || !p.Addr().Is4() {
				return c, false
			}
		}
	}
	for _, r := range c.IPAM.Routes {
		p, err := netip.ParsePrefix(r.Dst)
		if err != nil || !p.Addr().Is4() {
			return c, false
		}
	}
	return c, true
}

// bridgeAdd does what the bridge plugin's ADD does for conf: the bridge
// (made and up if missing), a veth with eth0 in the group's namespace and
// its host end on the bridge in hairpin mode, addresses from host-local's
// allocator, eth0's addresses and routes, the bridge port up, the gateway
// address on the bridge, the bridge's MAC address pinned, and IPv4
// forwarding. What it made is undone if a later step fails. It answers
// the plugin's result.
func bridgeAdd(ctx context.Context, stdin []byte, conf ownBridgeStdin, env cniEnv) (_ []byte, retErr error) {
	if env.netns == "" || env.ifName == "" || env.containerID == "" {
		return nil, errors.New("bridge add: no network namespace, interface or container id")
	}
	ipamConf, _, err := allocator.LoadIPAMConfig(stdin, env.args)
	if err != nil {
		return nil, fmt.Errorf("host-local: %w", err)
	}
	// One netlink socket for the host's side, rather than one per request.
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("bridge add: netlink: %w", err)
	}
	defer h.Close()
	br, err := ensureBridge(h, conf.Bridge, conf.MTU)
	if err != nil {
		return nil, err
	}
	// The veth first, as the plugin: a second ADD of the group fails here,
	// before it could touch the addresses the first holds.
	veth, err := addVeth(h, br, env.netns, env.ifName, conf.MTU, conf.HairpinMode)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			_ = h.LinkDel(veth)
		}
	}()
	ips, err := allocate(ipamConf, env)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			if err := releaseAddresses(ipamConf, env); err != nil {
				slog.Warn("bridge add: give back the addresses of a failed ADD", "group", env.containerID, "err", err)
			}
		}
	}()

	res := &types100.Result{
		CNIVersion: types100.ImplementedSpecVersion,
		Interfaces: []*types100.Interface{
			{Name: conf.Bridge},
			{Name: veth.Attrs().Name},
			{Name: env.ifName, Sandbox: env.netns},
		},
		IPs:    ips,
		Routes: ipamConf.Routes,
	}
	for _, ipc := range res.IPs {
		ipc.Interface = types100.Int(2)
	}
	err = netns.Run(env.netns, func() error {
		// As the plugin, which goes on when these fail: no DAD for the
		// interface's IPv6 link-local address, and a gratuitous ARP when
		// it comes up.
		_ = setSysctl(filepath.Join("/proc/sys/net/ipv6/conf", env.ifName, "accept_dad"), "0")
		_ = setSysctl(filepath.Join("/proc/sys/net/ipv4/conf", env.ifName, "arp_notify"), "1")
		if err := ipam.ConfigureIface(env.ifName, res); err != nil {
			return err
		}
		link, err := netlink.LinkByName(env.ifName)
		if err != nil {
			return err
		}
		res.Interfaces[2].Mac = link.Attrs().HardwareAddr.String()
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bridge add: configure %s: %w", env.ifName, err)
	}
	host, err := waitPortUp(ctx, h, veth.Attrs().Name)
	if err != nil {
		return nil, err
	}
	res.Interfaces[1].Mac = host.Attrs().HardwareAddr.String()
	for _, ipc := range res.IPs {
		gw := net.IPNet{IP: ipc.Gateway, Mask: ipc.Address.Mask}
		if err := ensureGatewayAddr(h, br, &gw); err != nil {
			return nil, err
		}
	}
	brMAC, err := pinBridgeMAC(h, ipamConf, conf.Bridge)
	if err != nil {
		return nil, err
	}
	res.Interfaces[0].Mac = brMAC.String()
	if err := setSysctl("/proc/sys/net/ipv4/ip_forward", "1"); err != nil {
		return nil, fmt.Errorf("bridge add: enable forwarding: %w", err)
	}
	out, err := res.GetAsVersion(conf.CNIVersion)
	if err != nil {
		return nil, fmt.Errorf("bridge add: result: %w", err)
	}
	return json.Marshal(out)
}

// ensureBridge makes the bridge if it is missing and brings it up.
func ensureBridge(h *netlink.Handle, name string, mtu int) (*netlink.Bridge, error) {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU = name, mtu
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
		return nil, fmt.Errorf("bridge add: make bridge %s: %w", name, err)
	}
	link, err := h.LinkByName(name)
	if err != nil {
		return nil, fmt.Errorf("bridge add: bridge %s: %w", name, err)
	}
	br, ok := link.(*netlink.Bridge)
	if !ok {
		return nil, fmt.Errorf("bridge add: %s exists and is a %s, not a bridge", name, link.Type())
	}
	// As the plugin: leci owns the bridge's routes (and goes on if this
	// fails).
	_ = bridgeIgnoresRouterAdvertisements(name)
	if br.Attrs().Flags&net.FlagUp == 0 {
		if err := h.LinkSetUp(br); err != nil {
			return nil, fmt.Errorf("bridge add: bring %s up: %w", name, err)
		}
	}
	return br, nil
}

// withStore runs fn with host-local's store of conf open. Its lock file is
// opened without close-on-exec, so no process is forked meanwhile (which
// would inherit it, and hold the lock for ever should leci die holding it).
func withStore(conf *allocator.IPAMConfig, fn func(*disk.Store) error) error {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	store, err := disk.New(conf.Name, conf.DataDir)
	if err != nil {
		return fmt.Errorf("host-local: %w", err)
	}
	defer store.Close()
	return fn(store)
}

// allocate takes the group's addresses from host-local's allocator, one of
// each range set, honouring the requested ones (the ips capability, or
// CNI_ARGS IP=), as host-local's ADD does.
func allocate(conf *allocator.IPAMConfig, env cniEnv) (ips []*types100.IPConfig, err error) {
	err = withStore(conf, func(store *disk.Store) error {
		requested := map[string]net.IP{}
		for _, ip := range conf.IPArgs {
			requested[ip.String()] = ip
		}
		var allocs []*allocator.IPAllocator
		releaseAll := func() {
			for _, a := range allocs {
				_ = a.Release(env.containerID, env.ifName)
			}
		}
		for i := range conf.Ranges {
			set := &conf.Ranges[i]
			var want net.IP
			for k, ip := range requested {
				if set.Contains(ip) {
					want = ip
					delete(requested, k)
					break
				}
			}
			a := allocator.NewIPAllocator(set, store, i)
			ipc, err := a.Get(env.containerID, env.ifName, want)
			if err != nil {
				releaseAll()
				return fmt.Errorf("host-local: failed to allocate for range %d: %w", i, err)
			}
			allocs = append(allocs, a)
			ips = append(ips, ipc)
		}
		if len(requested) > 0 {
			releaseAll()
			var left []string
			for k := range requested {
				left = append(left, k)
			}
			return fmt.Errorf("host-local: failed to allocate all requested IPs: %s", strings.Join(left, ", "))
		}
		return nil
	})
	return ips, err
}

// releaseAddresses gives back every address host-local holds for the
// container's interface, as host-local's DEL does.
func releaseAddresses(conf *allocator.IPAMConfig, env cniEnv) error {
	return withStore(conf, func(store *disk.Store) error {
		var errs []error
		for i := range conf.Ranges {
			if err := allocator.NewIPAllocator(&conf.Ranges[i], store, i).Release(env.containerID, env.ifName); err != nil {
				errs = append(errs, err)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("host-local: %w", err)
		}
		return nil
	})
}

// addVeth makes a veth pair whose one end is ifName in the namespace at
// nsPath and whose other end, named as the plugin names it (veth and 8 hex
// digits), is an up port of br, in hairpin mode when asked.
func addVeth(h *netlink.Handle, br *netlink.Bridge, nsPath, ifName string, mtu int, hairpin bool) (*netlink.Veth, error) {
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("bridge add: open network namespace: %w", err)
	}
	defer target.Close()
	for range 10 {
		name, err := randomVethName()
		if err != nil {
			return nil, fmt.Errorf("bridge add: %w", err)
		}
		attrs := netlink.NewLinkAttrs()
		// Made up, then put on the bridge (LinkAdd does both, as the
		// plugin: up, then on the bridge).
		attrs.Name, attrs.MTU, attrs.Flags, attrs.MasterIndex = name, mtu, net.FlagUp, br.Attrs().Index
		veth := netlink.NewVeth(attrs)
		veth.PeerName = ifName
		veth.PeerNamespace = netlink.NsFd(int(target.Fd()))
		err = h.LinkAdd(veth)
		if errors.Is(err, unix.EEXIST) {
			// The random name is taken on the host, or the group's end
			// exists (a second ADD).
			_, lerr := h.LinkByName(name)
			var notFound netlink.LinkNotFoundError
			switch {
			case lerr == nil:
				continue
			case errors.As(lerr, &notFound):
				return nil, fmt.Errorf("bridge add: container veth name provided (%s) already exists", ifName)
			default:
				return nil, fmt.Errorf("bridge add: make veth pair: %w (and %s: %w)", err, name, lerr)
			}
		}
		if err == nil && veth.Attrs().Index == 0 {
			err = fmt.Errorf("%s made but not found", name)
		}
		if err == nil {
			err = h.LinkSetHairpin(veth, hairpin)
		}
		if err != nil {
			_ = h.LinkDel(veth)
			return nil, fmt.Errorf("bridge add: veth %s on %s: %w", name, br.Attrs().Name, err)
		}
		return veth, nil
	}
	return nil, errors.New("bridge add: no free veth name")
}

func randomVethName() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "veth" + hex.EncodeToString(b), nil
}

// portUpWaits are the pauses between looks at the host end's state, as
// long in all as the plugin waits (2.55 s), in shorter steps first: the
// kernel usually reports a new port up at once or within milliseconds.
var portUpWaits = []time.Duration{0, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 33 * time.Millisecond, 500 * time.Millisecond, time.Second, time.Second}

// waitPortUp waits until the host end of the veth is up as a bridge
// port, as the plugin does before it answers, and answers it.
func waitPortUp(ctx context.Context, h *netlink.Handle, name string) (netlink.Link, error) {
	var state netlink.LinkOperState
	for _, d := range portUpWaits {
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("bridge add: wait for %s: %w", name, ctx.Err())
			case <-t.C:
			}
		}
		link, err := h.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("bridge add: %s: %w", name, err)
		}
		if state = link.Attrs().OperState; state == netlink.OperUp {
			return link, nil
		}
	}
	return nil, fmt.Errorf("bridge add: bridge port in error state: %s", state)
}

// ensureGatewayAddr gives the bridge the gateway address, unless it has
// it; another IPv4 address there is an error, as with the plugin.
func ensureGatewayAddr(h *netlink.Handle, br netlink.Link, gw *net.IPNet) error {
	addrs, err := addrList(h, br)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("bridge add: addresses of %s: %w", br.Attrs().Name, err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == gw.String() {
			return nil
		}
		return fmt.Errorf("bridge add: %q already has an IP address different from %v", br.Attrs().Name, gw)
	}
	if err := h.AddrAdd(br, &netlink.Addr{IPNet: gw}); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("bridge add: could not add IP address to %q: %w", br.Attrs().Name, err)
	}
	return nil
}

// dumpTries bounds the retries of a netlink dump that the kernel reports
// interrupted (a link came or went meanwhile, as other groups' do).
const dumpTries = 5

// addrList is the bridge's IPv4 addresses, read again while the kernel
// reports the dump interrupted.
func addrList(h *netlink.Handle, link netlink.Link) ([]netlink.Addr, error) {
	var (
		addrs []netlink.Addr
		err   error
	)
	for range dumpTries {
		if addrs, err = h.AddrList(link, netlink.FAMILY_V4); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return addrs, err
}

// addrAssignedBySet is /sys/class/net/*/addr_assign_type's value for a MAC
// address given to the device (NET_ADDR_SET).
const addrAssignedBySet = "3"

// pinBridgeMAC makes the bridge's MAC address its own, unless it is
// already, and answers it as it is now. Otherwise the kernel gives the
// bridge the lowest of its ports' addresses, which changes as groups come
// and go (their gateway's address with it), and all zeros once the last
// port is gone. The plugin pins it when it gives the bridge its address;
// here it is pinned whenever it is not, so that an ADD cut short by a
// killed leci, after its port came and before the pin, leaves no bridge
// that never gets it. The look and the pin are made under host-local's
// lock, so that ADDs at once (in this process or another) pin one address
// and all answer that one; a pinned address never changes, so a bridge
// found pinned (every ADD but the first) needs no lock.
func pinBridgeMAC(h *netlink.Handle, conf *allocator.IPAMConfig, name string) (mac net.HardwareAddr, _ error) {
	if bridgeMACPinned(name) {
		link, err := h.LinkByName(name)
		if err != nil {
			return nil, fmt.Errorf("bridge add: bridge %s: %w", name, err)
		}
		return link.Attrs().HardwareAddr, nil
	}
	err := withStore(conf, func(store *disk.Store) error {
		if err := store.Lock(); err != nil {
			return fmt.Errorf("host-local: lock: %w", err)
		}
		defer store.Unlock()
		link, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("bridge add: bridge %s: %w", name, err)
		}
		mac = link.Attrs().HardwareAddr
		if bridgeMACPinned(name) {
			return nil // by an ADD that held the lock before this one
		}
		// With this group's port on it, the bridge has an address.
		if len(mac) == 0 {
			if mac, err = randomMAC(); err != nil {
				return fmt.Errorf("bridge add: %w", err)
			}
		}
		if err := h.LinkSetHardwareAddr(link, mac); err != nil {
			return fmt.Errorf("bridge add: set %s's MAC address: %w", name, err)
		}
		return nil
	})
	return mac, err
}

// bridgeMACPinned tells whether the bridge's MAC address was given to it.
func bridgeMACPinned(name string) bool {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", name, "addr_assign_type"))
	return err == nil && strings.TrimSpace(string(b)) == addrAssignedBySet
}

// randomMAC is a random unicast, locally administered MAC address, as the
// kernel makes for a new bridge.
func randomMAC() (net.HardwareAddr, error) {
	mac := make(net.HardwareAddr, 6)
	if _, err := rand.Read(mac); err != nil {
		return nil, err
	}
	mac[0] = mac[0]&^0x01 | 0x02
	return mac, nil
}

// bridgeDel does what the bridge plugin's DEL does: removes the group's
// interface (and so its veth) when the namespace is there, then gives its
// addresses back to host-local's store. Both are done already for a group
// deleted twice.
func bridgeDel(stdin []byte, env cniEnv) error {
	if env.containerID == "" || env.ifName == "" {
		return errors.New("bridge del: no interface or container id")
	}
	if env.netns != "" {
		err := netns.Run(env.netns, func() error {
			link, err := netlink.LinkByName(env.ifName)
			var notFound netlink.LinkNotFoundError
			if errors.As(err, &notFound) {
				return nil
			}
			if err != nil {
				return err
			}
			return netlink.LinkDel(link)
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("bridge del: remove %s: %w", env.ifName, err)
		}
	}
	conf, _, err := allocator.LoadIPAMConfig(stdin, env.args)
	if err != nil {
		return fmt.Errorf("host-local: %w", err)
	}
	return releaseAddresses(conf, env)
}
