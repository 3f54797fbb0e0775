package network

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	cnitypes "github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	"github.com/containernetworking/cni/pkg/utils"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"

	"leci/pod"
)

// ifName is the group's interface inside its namespace.
const ifName = "eth0"

// cleanupTimeout bounds the undo of a failed Setup, which runs even when the
// caller's context is done.
const cleanupTimeout = 30 * time.Second

// Manager sets up and tears down the networks of container groups on one
// CNI network. It is safe for concurrent use by different groups; calls for
// one group must not overlap.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	cni      libcni.CNI
	list     *libcni.NetworkConfigList
	confFile string
}

// New fills cfg's defaults, checks it and writes the network's conflist to
// cfg.ConfDir/<NetworkName>.conflist. A nil log discards.
func New(cfg Config, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	b, err := confListJSON(cfg)
	if err != nil {
		return nil, err
	}
	// Parsed from the very bytes written, so the file shows what is used.
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("parse conflist: %w", err)
	}
	if err := os.MkdirAll(cfg.ConfDir, 0o755); err != nil {
		return nil, fmt.Errorf("make conf dir: %w", err)
	}
	confFile := filepath.Join(cfg.ConfDir, cfg.NetworkName+".conflist")
	if err := writeFileAtomic(confFile, b, 0o644); err != nil {
		return nil, fmt.Errorf("write conflist: %w", err)
	}
	return &Manager{
		cfg:      cfg,
		log:      log.With("network", cfg.NetworkName),
		cni:      libcni.NewCNIConfigWithCacheDir(cfg.BinDirs, cfg.CacheDir, pluginExec()),
		list:     list,
		confFile: confFile,
	}, nil
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
	return Info{
		NetworkName: m.cfg.NetworkName,
		Bridge:      m.cfg.Bridge,
		Subnet:      m.cfg.Subnet,
		IPMasq:      m.cfg.IPMasq,
		MTU:         m.cfg.MTU,
		ConfFile:    m.confFile,
		BinDirs:     append([]string(nil), m.cfg.BinDirs...),
		StateDir:    m.cfg.StateDir,
		CacheDir:    m.cfg.CacheDir,
		IPAMDir:     m.cfg.IPAMDir,
	}
}

// validateGroupID keeps group IDs to what CNI accepts as a container ID,
// which also makes them safe as file names under StateDir.
func validateGroupID(groupID string) error {
	if err := utils.ValidateContainerID(groupID); err != nil {
		return fmt.Errorf("group id %q: %w", groupID, err)
	}
	return nil
}

func (m *Manager) runtimeConf(groupID, netnsPath string) *libcni.RuntimeConf {
	return &libcni.RuntimeConf{
		ContainerID: groupID,
		NetNS:       netnsPath,
		IfName:      ifName,
	}
}

// Setup gives the group its network:
//  1. a new network namespace pinned at NetNSPath(groupID);
//  2. lo up inside it;
//  3. CNI ADD, which adds eth0 on the bridge with an address of the subnet.
//
// If any step fails, what was done is undone before Setup returns.
func (m *Manager) Setup(ctx context.Context, groupID string, opts pod.NetworkOptions) (_ pod.Network, retErr error) {
	if err := validateGroupID(groupID); err != nil {
		return pod.Network{}, err
	}
	log := m.log.With("group", groupID)
	path := m.NetNSPath(groupID)
	start := time.Now()

	if err := createNetNS(path); err != nil {
		return pod.Network{}, fmt.Errorf("create network namespace: %w", err)
	}
	// Registered before ADD, because ADD can allocate an address (or make a
	// veth) and still fail.
	defer func() {
		if retErr == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if err := m.Teardown(ctx, groupID); err != nil {
			log.WarnContext(ctx, "undo failed network setup", "err", err)
		}
	}()

	if err := RunInNetNS(path, loopbackUp); err != nil {
		return pod.Network{}, fmt.Errorf("bring lo up: %w", err)
	}
	res, err := m.cni.AddNetworkList(ctx, m.list, m.runtimeConf(groupID, path))
	if err != nil {
		return pod.Network{}, fmt.Errorf("cni add: %w", err)
	}
	n, err := podNetwork(res, path)
	if err != nil {
		return pod.Network{}, err
	}
	log.DebugContext(ctx, "network set up", "ipv4", n.IPv4, "ipv6", n.IPv6, "took", time.Since(start))
	return n, nil
}

// Teardown releases the group's network: CNI DEL (which frees the address
// and removes the veth), then the pinned namespace. It succeeds for a group
// already torn down or never set up, and still frees the address when the
// namespace file was removed by someone else. Both steps are tried even if
// the first fails, and a later Teardown retries what is left.
func (m *Manager) Teardown(ctx context.Context, groupID string) error {
	if err := validateGroupID(groupID); err != nil {
		return err
	}
	path := m.NetNSPath(groupID)
	// CNI allows DEL without a namespace; the plugins then only release
	// what lives outside it (the address). A path that is not a live
	// namespace would make the bridge plugin fail instead.
	netnsArg := ""
	if isNetNS(path) {
		netnsArg = path
	}
	rt := m.runtimeConf(groupID, netnsArg)
	var errs []error
	if err := m.cni.DelNetworkList(ctx, m.delConfList(groupID, rt), rt); err != nil {
		errs = append(errs, fmt.Errorf("cni del: %w", err))
	}
	if err := removeNetNS(path); err != nil {
		errs = append(errs, fmt.Errorf("remove network namespace: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	m.log.DebugContext(ctx, "network torn down", "group", groupID)
	return nil
}

// delConfList is the conflist the group was added with, as libcni cached
// it: CNI wants DEL to see ADD's configuration, and leci's may have changed
// since (another subnet, or IPAM dir, after a restart). Without a cached
// one, the current conflist.
func (m *Manager) delConfList(groupID string, rt *libcni.RuntimeConf) *libcni.NetworkConfigList {
	b, _, err := m.cni.GetNetworkListCachedConfig(m.list, rt)
	if err != nil || len(b) == 0 {
		return m.list
	}
	list, err := libcni.ConfListFromBytes(b)
	if err != nil {
		m.log.Warn("cached cni config unreadable, deleting with the current one", "group", groupID, "err", err)
		return m.list
	}
	return list
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
