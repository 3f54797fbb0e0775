package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/utils"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"

	"leci/internal/atomicfile"
	"leci/internal/netns"
	"leci/internal/trace"
	"leci/pod"
)

// ifName is the group's interface inside its namespace.
const ifName = "eth0"

// cleanupTimeout bounds the undo of a failed Setup, which runs even when the
// caller's context is done.
const cleanupTimeout = 30 * time.Second

// Manager sets up and tears down the networks of container groups on one
// CNI network. It is safe for concurrent use by different groups; calls for
// one group must not overlap. GC waits for the Setups, Teardowns and Checks
// under way and holds the next ones back until it is done.
type Manager struct {
	cfg Config
	log *slog.Logger
	cni libcni.CNI
	// list is the network with all its plugins; list6 the same network
	// with an IPv6 range added, for the groups that ask for IPv6 (nil
	// without Subnet6, and for a user's network).
	list, list6 *libcni.NetworkConfigList
	// variants are leci's own network with only the plugins a group needs
	// (see listVariant).
	variants map[listVariant]*libcni.NetworkConfigList
	// confFile and confFile6 are where list and list6 are written (or,
	// for a user's network, where list was read).
	confFile, confFile6 string
	// user: the network is the user's, not leci's own.
	user bool
	// caps are the capabilities some plugin of the network has.
	caps map[string]bool

	// mu is held shared by Setup, Teardown and Check, and exclusively by
	// GC.
	mu sync.RWMutex

	portsMu sync.Mutex
	// ports are the host ports the groups publish, by group.
	ports map[portKey]string
}

// New fills cfg's defaults, checks it and writes the network's conflist to
// cfg.ConfDir/<NetworkName>.conflist (and, with Subnet6, the dual-stack
// one to <NetworkName>.ipv6.conflist), or, with cfg.UserNetwork, loads the
// user's network. A nil log discards.
func New(cfg Config, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	exec := pluginExec()
	if cfg.UserNetwork == "" {
		exec = inProcessExec{exec}
	}
	m := &Manager{
		cfg:   cfg,
		cni:   libcni.NewCNIConfigWithCacheDir(cfg.BinDirs, cfg.CacheDir, exec),
		ports: map[portKey]string{},
	}
	if cfg.UserNetwork != "" {
		list, file, err := loadUserNetwork(cfg.UserConfDir, cfg.UserNetwork)
		if err != nil {
			return nil, err
		}
		m.list, m.confFile, m.user = list, file, true
	} else if err := m.writeOwnNetwork(); err != nil {
		return nil, err
	}
	m.log = log.With("network", m.list.Name)
	m.caps = map[string]bool{}
	for _, p := range m.list.Plugins {
		for c, ok := range p.Network.Capabilities {
			m.caps[c] = m.caps[c] || ok
		}
	}
	// The ports that groups set up earlier publish, so that a new group
	// does not publish them again.
	if groups, err := m.journaledGroups(); err == nil {
		for id, e := range groups {
			if e != nil && e.Op == opAdd {
				for _, k := range keysOf(e.Capabilities.PortMappings) {
					m.ports[k] = id
				}
			}
		}
	}
	if !m.user && !cfg.Firewall && adviceDue(filepath.Join(filepath.Dir(cfg.CacheDir), forwardCheckStamp)) {
		// Advice only, and an iptables run costs milliseconds: not on the
		// way to the first group.
		go func() {
			if forwardDrops() {
				m.log.Warn("the host's FORWARD policy drops packets, which may cut groups off from each other; set Firewall to add the firewall plugin")
			}
		}()
	}
	return m, nil
}

// writeOwnNetwork renders leci's conflists and writes the full ones (the
// files show the very bytes the groups that need every plugin use).
func (m *Manager) writeOwnNetwork() error {
	cfg := m.cfg
	if err := os.MkdirAll(cfg.ConfDir, 0o755); err != nil {
		return fmt.Errorf("make conf dir: %w", err)
	}
	render := func(v listVariant) (*libcni.NetworkConfigList, error) {
		b, err := confListJSON(cfg, v)
		if err != nil {
			return nil, err
		}
		list, err := libcni.ConfListFromBytes(b)
		if err != nil {
			return nil, fmt.Errorf("parse conflist: %w", err)
		}
		return list, nil
	}
	m.variants = map[listVariant]*libcni.NetworkConfigList{}
	for _, dualStack := range []bool{false, true} {
		if dualStack && cfg.Subnet6 == "" {
			continue
		}
		for _, ports := range []bool{false, true} {
			for _, bw := range []bool{false, true} {
				v := listVariant{dualStack, ports, bw}
				list, err := render(v)
				if err != nil {
					return err
				}
				m.variants[v] = list
			}
		}
	}
	m.list = m.variants[fullVariant(false)]
	m.confFile = filepath.Join(cfg.ConfDir, cfg.NetworkName+".conflist")
	if err := atomicfile.Write(m.confFile, m.list.Bytes, 0o644); err != nil {
		return fmt.Errorf("write conflist: %w", err)
	}
	file6 := filepath.Join(cfg.ConfDir, cfg.NetworkName+".ipv6.conflist")
	if cfg.Subnet6 == "" {
		// One written while Subnet6 was set must not outlive it.
		if err := os.Remove(file6); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	m.list6, m.confFile6 = m.variants[fullVariant(true)], file6
	if err := atomicfile.Write(file6, m.list6.Bytes, 0o644); err != nil {
		return fmt.Errorf("write conflist: %w", err)
	}
	return nil
}

// loadUserNetwork finds the network named name among the configuration
// files in dir, as libcni's LoadConfList does (conflists first, in name
// order, then single-plugin .conf and .json files), and tells which file
// it came from.
func loadUserNetwork(dir, name string) (*libcni.NetworkConfigList, string, error) {
	lists, err := libcni.ConfFiles(dir, []string{".conflist"})
	if err != nil {
		return nil, "", fmt.Errorf("user network: %w", err)
	}
	sort.Strings(lists)
	for _, f := range lists {
		list, err := libcni.NetworkConfFromFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("user network: %w", err)
		}
		if list.Name == name {
			return list, f, nil
		}
	}
	singles, err := libcni.ConfFiles(dir, []string{".conf", ".json"})
	if err != nil {
		return nil, "", fmt.Errorf("user network: %w", err)
	}
	sort.Strings(singles)
	for _, f := range singles {
		conf, err := libcni.ConfFromFile(f)
		if err != nil {
			return nil, "", fmt.Errorf("user network: %w", err)
		}
		if conf.Network.Name == name {
			list, err := libcni.ConfListFromConf(conf)
			if err != nil {
				return nil, "", fmt.Errorf("user network: %w", err)
			}
			return list, f, nil
		}
	}
	return nil, "", fmt.Errorf("user network %q: no configuration of that name in %s", name, dir)
}

// pluginExec is libcni's default plugin runner, given explicitly: libcni
// makes its default lazily on first use, which races when groups are set
// up concurrently.
func pluginExec() invoke.Exec {
	return &invoke.DefaultExec{
		RawExec:       &invoke.RawExec{Stderr: os.Stderr},
		PluginDecoder: version.PluginDecoder{},
	}
}

// NetNSPath is where the network namespace of the group is pinned.
func (m *Manager) NetNSPath(groupID string) string {
	return filepath.Join(m.cfg.StateDir, groupID)
}

// Info describes the network for `leci info`.
func (m *Manager) Info() Info {
	info := Info{
		NetworkName:  m.list.Name,
		UserNetwork:  m.user,
		PublishPorts: m.cfg.PublishPorts,
		ConfFile:     m.confFile,
		ConfFile6:    m.confFile6,
		BinDirs:      slices.Clone(m.cfg.BinDirs),
		StateDir:     m.cfg.StateDir,
		CacheDir:     m.cfg.CacheDir,
		JournalDir:   m.cfg.JournalDir,
	}
	for _, p := range m.list.Plugins {
		info.Plugins = append(info.Plugins, p.Network.Type)
	}
	if m.cfg.PublishPorts {
		info.PublishAddress = m.cfg.PublishAddress
	}
	if !m.user {
		info.Bridge, info.Subnet, info.Subnet6 = m.cfg.Bridge, m.cfg.Subnet, m.cfg.Subnet6
		info.IPMasq, info.MTU, info.IPAMDir = m.cfg.IPMasq, m.cfg.MTU, m.cfg.IPAMDir
	}
	return info
}

// validateGroupID keeps group IDs to what CNI accepts as a container ID,
// which also makes them safe as file names under StateDir.
func validateGroupID(groupID string) error {
	if err := utils.ValidateContainerID(groupID); err != nil {
		return fmt.Errorf("group id %q: %w", groupID, err)
	}
	return nil
}

func runtimeConf(groupID, netnsPath string, caps map[string]any) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID:    groupID,
		NetNS:          netnsPath,
		IfName:         ifName,
		CapabilityArgs: caps,
	}
}

// prepare picks the conflist for a group and turns its options into the
// typed runtime values the plugins get.
func (m *Manager) prepare(groupID string, opts pod.NetworkOptions) (*libcni.NetworkConfigList, capabilityArgs, error) {
	if opts.IPv6 && !m.user && m.list6 == nil {
		return nil, capabilityArgs{}, fmt.Errorf("group %s: %w (set an IPv6 subnet for network %s)", groupID, ErrIPv6NotConfigured, m.list.Name)
	}
	bw, err := bandwidthOf(opts.IngressBandwidth, opts.EgressBandwidth)
	if err != nil {
		return nil, capabilityArgs{}, err
	}
	limited := *bw != (bandwidthEntry{})
	if limited && !m.caps[capBandwidth] {
		return nil, capabilityArgs{}, fmt.Errorf("bandwidth limits: %w: network %s has no plugin with the %s capability", ErrNotSupported, m.list.Name, capBandwidth)
	}
	caps := capabilityArgs{Bandwidth: bw}
	switch {
	case len(opts.Ports) == 0:
	case !m.cfg.PublishPorts:
		m.log.Debug("ports not published: publishing is off", "group", groupID, "ports", len(opts.Ports))
	case !m.caps[capPortMappings]:
		return nil, capabilityArgs{}, fmt.Errorf("publish ports: %w: network %s has no plugin with the %s capability", ErrNotSupported, m.list.Name, capPortMappings)
	default:
		if caps.PortMappings, err = portMappings(opts.Ports, m.cfg.PublishAddress); err != nil {
			return nil, capabilityArgs{}, fmt.Errorf("publish ports: %w", err)
		}
	}
	if opts.IPv4 != "" {
		if !m.caps[capIPs] {
			return nil, capabilityArgs{}, fmt.Errorf("address %s: %w: network %s has no plugin with the %s capability", opts.IPv4, ErrNotSupported, m.list.Name, capIPs)
		}
		caps.IPs = []string{opts.IPv4}
	}
	if m.user {
		return m.list, caps, nil
	}
	return m.variants[listVariant{dualStack: opts.IPv6, ports: len(caps.PortMappings) > 0, bandwidth: limited}], caps, nil
}

// Setup gives the group its network:
//  1. the intent, recorded in the group's journal;
//  2. a new network namespace pinned at NetNSPath(groupID);
//  3. lo up inside it;
//  4. CNI ADD, which adds eth0 on the bridge with an address of the subnet
//     (and of Subnet6 when opts.IPv6), publishes opts.Ports when
//     publishing is on, and shapes the traffic to opts' bandwidth.
//
// If any step fails, what was done is undone before Setup returns.
func (m *Manager) Setup(ctx context.Context, groupID string, opts pod.NetworkOptions) (pod.Network, error) {
	return m.setup(ctx, groupID, opts, createNetNS)
}

// SetupIn is Setup for a network namespace that exists already: the one a
// runtime made for the group's sandbox (Docker's, with network mode none),
// given as nsPath (/proc/<sandbox pid>/ns/net). Instead of a new namespace,
// step 2 pins that one at NetNSPath(groupID) with a bind mount, so that
// everything after it (CNI ADD, the journal, probes entering the
// namespace, Check, Teardown and GC) is the same as with Setup, and the
// namespace outlives the sandbox process until Teardown.
func (m *Manager) SetupIn(ctx context.Context, groupID string, opts pod.NetworkOptions, nsPath string) (pod.Network, error) {
	return m.setup(ctx, groupID, opts, func(path string) error { return pinNetNS(nsPath, path) })
}

func (m *Manager) setup(ctx context.Context, groupID string, opts pod.NetworkOptions, pin func(path string) error) (_ pod.Network, retErr error) {
	if err := validateGroupID(groupID); err != nil {
		return pod.Network{}, err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	log := m.log.With("group", groupID)
	start := time.Now()

	list, caps, err := m.prepare(groupID, opts)
	if err != nil {
		return pod.Network{}, err
	}
	path := m.NetNSPath(groupID)
	// Refused before anything is written, so the group that holds them
	// keeps its namespace and journal.
	if isNetNS(path) {
		return pod.Network{}, fmt.Errorf("%s: %w", path, ErrNetNSExists)
	}
	if j, err := m.readJournal(groupID); err != nil {
		return pod.Network{}, err
	} else if j != nil {
		return pod.Network{}, fmt.Errorf("group %s: %w: its journal records an unfinished %s (Teardown or GC clears it)", groupID, ErrNetNSExists, j.Op)
	}
	if err := m.reservePorts(groupID, keysOf(caps.PortMappings)); err != nil {
		return pod.Network{}, err
	}
	err = m.writeJournal(journalEntry{
		Op: opAdd, GroupID: groupID, Network: list.Name, NetNS: path, IfName: ifName,
		Conflist: list.Bytes, Capabilities: caps,
	})
	if err != nil {
		m.releasePorts(groupID)
		return pod.Network{}, err
	}
	// From here on, a failure is undone by a Teardown, which reads the
	// journal: ADD can allocate an address (or make a veth) and still fail.
	defer func() {
		if retErr == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := m.teardown(ctx, groupID); err != nil {
			log.WarnContext(ctx, "undo failed network setup", "err", err)
		}
	}()

	sp := trace.Begin(ctx, "netns.create")
	err = pin(path)
	if err == nil {
		err = netns.Run(path, func() error {
			if err := loopbackUp(); err != nil {
				return fmt.Errorf("bring lo up: %w", err)
			}
			return ignoreRouterAdvertisements()
		})
	} else {
		err = fmt.Errorf("create network namespace: %w", err)
	}
	sp.End(err)
	if err != nil {
		return pod.Network{}, err
	}
	if !m.user && len(caps.PortMappings) > 0 {
		// Before ADD: portmap opens the bridge to 127.0.0.0/8.
		if err := guardLoopback(ctx, m.cfg.Bridge); err != nil {
			return pod.Network{}, err
		}
	}
	sp = trace.Begin(ctx, "cni.add")
	res, err := m.cni.AddNetworkList(ctx, list, runtimeConf(groupID, path, caps.asMap()))
	sp.End(err)
	if err != nil {
		return pod.Network{}, fmt.Errorf("cni add: %w", err)
	}
	if !m.user {
		// The bridge exists from the first ADD on.
		if err := bridgeIgnoresRouterAdvertisements(m.cfg.Bridge); err != nil {
			return pod.Network{}, err
		}
	}
	n, err := podNetwork(res, path)
	if err != nil {
		return pod.Network{}, err
	}
	if opts.IPv6 && n.IPv6 == "" {
		return pod.Network{}, fmt.Errorf("group %s: %w: network %s gave no IPv6 address", groupID, ErrIPv6NotConfigured, list.Name)
	}
	log.DebugContext(ctx, "network set up", "ipv4", n.IPv4, "ipv6", n.IPv6, "ports", len(caps.PortMappings), "took", time.Since(start))
	return n, nil
}

// Teardown releases the group's network: CNI DEL (which frees the address,
// removes the veth, the port mappings and the shaping), then the pinned
// namespace, then the journal. It succeeds for a group already torn down
// or never set up, and still frees the address when the namespace file was
// removed by someone else. Both steps are tried even if the first fails,
// and a later Teardown (or GC) retries what is left.
func (m *Manager) Teardown(ctx context.Context, groupID string) error {
	if err := validateGroupID(groupID); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.teardown(ctx, groupID)
}

func (m *Manager) teardown(ctx context.Context, groupID string) error {
	path := m.NetNSPath(groupID)
	j, err := m.readJournal(groupID)
	if err != nil {
		m.log.WarnContext(ctx, "journal unreadable, deleting with what libcni cached", "group", groupID, "err", err)
	}
	// CNI allows DEL without a namespace; the plugins then only release
	// what lives outside it (the address, port mappings, the ifb device).
	// A path that is not a live namespace would make the bridge plugin
	// fail instead.
	netnsArg := ""
	if isNetNS(path) {
		netnsArg = path
	}
	list, caps := m.delConfig(groupID, j)
	var errs []error
	err = m.writeJournal(journalEntry{
		Op: opDel, GroupID: groupID, Network: list.Name, NetNS: path, IfName: ifName,
		Conflist: list.Bytes, Capabilities: capsFromMap(caps),
	})
	if err != nil {
		// The DEL is still better done than not.
		errs = append(errs, err)
	}
	sp := trace.Begin(ctx, "cni.del")
	err = m.cni.DelNetworkList(ctx, list, runtimeConf(groupID, netnsArg, caps))
	sp.End(err)
	if err != nil {
		errs = append(errs, fmt.Errorf("cni del: %w", err))
	}
	sp = trace.Begin(ctx, "netns.remove")
	err = removeNetNS(path)
	sp.End(err)
	if err != nil {
		errs = append(errs, fmt.Errorf("remove network namespace: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := m.removeJournal(groupID); err != nil {
		return err
	}
	m.releasePorts(groupID)
	m.log.DebugContext(ctx, "network torn down", "group", groupID)
	return nil
}

// delConfig is the conflist and runtime values the group was added with:
// CNI wants DEL to see ADD's configuration, and leci's may have changed
// since (another subnet, or IPAM dir, after a restart). They come from the
// journal, or else from libcni's cache (groups set up before there was a
// journal), or else are the current conflist with no runtime values.
func (m *Manager) delConfig(groupID string, j *journalEntry) (*libcni.NetworkConfigList, map[string]any) {
	if j != nil && len(j.Conflist) > 0 {
		list, err := libcni.ConfListFromBytes(j.Conflist)
		if err == nil {
			return list, j.Capabilities.asMap()
		}
		m.log.Warn("journaled conflist unreadable", "group", groupID, "err", err)
	}
	b, rt, err := m.cni.GetNetworkListCachedConfig(m.list, runtimeConf(groupID, "", nil))
	if err == nil && len(b) > 0 {
		list, err := libcni.ConfListFromBytes(b)
		if err == nil {
			return list, rt.CapabilityArgs
		}
		m.log.Warn("cached cni config unreadable, deleting with the current one", "group", groupID, "err", err)
	}
	var caps map[string]any
	if j != nil {
		caps = j.Capabilities.asMap()
	}
	return m.list, caps
}

// capsFromMap reads runtime values back from libcni's untyped form.
func capsFromMap(caps map[string]any) capabilityArgs {
	var c capabilityArgs
	if b, err := json.Marshal(caps); err == nil {
		_ = json.Unmarshal(b, &c)
	}
	return c
}

// Check runs CNI CHECK for a group set up earlier, possibly by another
// leci process: the plugins verify that its interface, addresses, address
// allocation, port mappings and shaping are all still there. The daemon
// runs it on start for every group it recovers; it also records the
// calling process as the group's owner in the journal (see GC).
func (m *Manager) Check(ctx context.Context, groupID string) error {
	if err := validateGroupID(groupID); err != nil {
		return err
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	j, err := m.readJournal(groupID)
	if err != nil {
		return err
	}
	if j != nil && j.Op == opDel {
		return fmt.Errorf("group %s: network teardown unfinished", groupID)
	}
	if j != nil && j.Owner != self() {
		// The group is this process's now: the GC of another leci process
		// on the same root leaves it alone from here on.
		if err := m.writeJournal(*j); err != nil {
			return err
		}
	}
	path := m.NetNSPath(groupID)
	if !isNetNS(path) {
		return fmt.Errorf("group %s: %s: %w", groupID, path, pod.ErrNetNSGone)
	}
	rt := runtimeConf(groupID, path, nil)
	b, cached, err := m.cni.GetNetworkListCachedConfig(m.list, rt)
	if err != nil {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	if len(b) == 0 {
		return fmt.Errorf("group %s: no CNI result cached: its ADD never completed", groupID)
	}
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return fmt.Errorf("group %s: cached conflist: %w", groupID, err)
	}
	rt.CapabilityArgs = cached.CapabilityArgs
	// portmap 1.1.1 (Debian 12's) checks the group's chain in ip6tables
	// too, where an IPv4-only group has none, and so fails every CHECK of
	// a group with ports; leci checks the mappings itself instead.
	caps := capsFromMap(cached.CapabilityArgs)
	checkList := list
	if len(caps.PortMappings) > 0 {
		checkList = withoutPlugin(list, "portmap")
	}
	if err := m.cni.CheckNetworkList(ctx, checkList, rt); err != nil {
		return fmt.Errorf("group %s: cni check: %w", groupID, err)
	}
	if checkList != list {
		res, err := m.cni.GetNetworkListCachedResult(list, rt)
		if err != nil {
			return fmt.Errorf("group %s: %w", groupID, err)
		}
		n, err := podNetwork(res, path)
		if err != nil {
			return fmt.Errorf("group %s: %w", groupID, err)
		}
		if err := checkPortMappings(ctx, list.Name, groupID, n, caps.PortMappings); err != nil {
			return fmt.Errorf("group %s: port mappings: %w", groupID, err)
		}
	}
	return nil
}

// withoutPlugin is list without the plugins of a type.
func withoutPlugin(list *libcni.NetworkConfigList, typ string) *libcni.NetworkConfigList {
	out := *list
	out.Plugins = slices.DeleteFunc(slices.Clone(list.Plugins), func(p *libcni.PluginConfig) bool { return p.Network.Type == typ })
	return &out
}

// reservePorts claims host ports for a group, or fails with
// ErrPortConflict when another group holds one.
func (m *Manager) reservePorts(groupID string, keys []portKey) error {
	if len(keys) == 0 {
		return nil
	}
	m.portsMu.Lock()
	defer m.portsMu.Unlock()
	for _, k := range keys {
		for held, owner := range m.ports {
			if owner != groupID && k.clashes(held) {
				return fmt.Errorf("%s %s:%d: %w %s", k.proto, k.addr, k.port, ErrPortConflict, owner)
			}
		}
	}
	for _, k := range keys {
		m.ports[k] = groupID
	}
	return nil
}

func (m *Manager) releasePorts(groupID string) {
	m.portsMu.Lock()
	defer m.portsMu.Unlock()
	for k, owner := range m.ports {
		if owner == groupID {
			delete(m.ports, k)
		}
	}
}

// loopbackUp runs inside the group's namespace: a new namespace has lo, but
// down.
func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return err
	}
	return netlink.LinkSetUp(lo)
}

// podNetwork picks the group's addresses out of a CNI result: those on the
// interface inside the namespace, or, when the result does not say which
// interface an address is on, the first of each family.
func podNetwork(res cnitypes.Result, netnsPath string) (pod.Network, error) {
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return pod.Network{}, fmt.Errorf("convert cni result: %w", err)
	}
	n := pod.Network{NetNSPath: netnsPath, Interface: ifName}
	onSandbox := func(ip *types100.IPConfig) bool {
		if ip.Interface == nil || *ip.Interface < 0 || *ip.Interface >= len(r.Interfaces) {
			return true
		}
		return r.Interfaces[*ip.Interface].Sandbox != ""
	}
	for _, ip := range r.IPs {
		if ip == nil || !onSandbox(ip) {
			continue
		}
		if v4 := ip.Address.IP.To4(); v4 != nil {
			if n.IPv4 == "" {
				n.IPv4 = v4.String()
			}
		} else if ip.Address.IP.To16() != nil && n.IPv6 == "" {
			n.IPv6 = ip.Address.IP.String()
		}
	}
	if n.IPv4 == "" && n.IPv6 == "" {
		return pod.Network{}, fmt.Errorf("cni result has no address for %s", ifName)
	}
	return n, nil
}
