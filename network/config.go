package network

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/containernetworking/cni/pkg/utils"
)

// Defaults of Config.
const (
	DefaultStateDir    = "/run/leci/netns"
	DefaultCacheDir    = "/var/lib/leci/cni/cache"
	DefaultConfDir     = "/var/lib/leci/cni/net.d"
	DefaultNetworkName = "leci"
	DefaultBridge      = "leci0"
	// DefaultSubnet is not podman's 10.88.0.0/16, so both can run on one host.
	DefaultSubnet = "10.89.0.0/16"
	// DefaultPublishAddress is where published ports listen: loopback, so
	// nothing is exposed beyond the host unless asked.
	DefaultPublishAddress = "127.0.0.1"
	// DefaultUserConfDir is where a user's network (UserNetwork) is looked
	// for.
	DefaultUserConfDir = "/etc/cni/net.d"
)

// DefaultBinDirs are where the CNI plugins are looked for: the upstream
// location first, then Debian's. A function, so no caller can change the
// default for the others.
func DefaultBinDirs() []string { return []string{"/opt/cni/bin", "/usr/lib/cni"} }

// Config says where a Manager keeps its state and which network it makes.
// The zero value means the defaults.
type Config struct {
	// StateDir holds the pinned network namespace files, one per group.
	StateDir string
	// CacheDir is libcni's cache of ADD results, which DEL reads back.
	CacheDir string
	// ConfDir is where the network's conflist is written.
	ConfDir string
	// IPAMDir is host-local's dataDir, where address allocations are kept.
	// The default is "ipam" beside CacheDir, so allocations belong to one
	// leci root and not to every CNI user of the host.
	IPAMDir string
	// BinDirs are searched for the CNI plugins.
	BinDirs []string
	// NetworkName is the CNI network's name.
	NetworkName string
	// Bridge is the Linux bridge the groups' veths are attached to.
	Bridge string
	// Subnet is the groups' address range, in CIDR form.
	Subnet string
	// Subnet6 is an optional IPv6 range (CIDR, a ULA such as fd00:89::/64).
	// With it, a group that asks for IPv6 (NetworkOptions.IPv6) gets an
	// address of each family; without it, such a group is refused with
	// ErrIPv6NotConfigured. Groups that do not ask get IPv4 only.
	Subnet6 string
	// MTU of the bridge and veths; 0 leaves the plugin's default.
	MTU int
	// IPMasq masquerades traffic that leaves the subnet and gives the groups
	// a default route through the bridge. It is only needed to reach the
	// world; off, a group reaches its subnet and the host's address on the
	// bridge, which is all that leci's tests may use.
	IPMasq bool
	// Firewall adds the firewall plugin, which accepts the groups' traffic
	// in the filter table's FORWARD chain. Only needed where the host's
	// FORWARD policy drops (Docker sets it so); New warns when it does and
	// this is off.
	Firewall bool

	// PublishPorts publishes the ports a group declares (NetworkOptions.
	// Ports) on PublishAddress through the portmap plugin. Off by default:
	// the groups' ports are then reached on the groups' own addresses.
	PublishPorts bool
	// PublishAddress is the host address ports are published on (default
	// 127.0.0.1); 0.0.0.0 publishes on every address of the host.
	PublishAddress string

	// UserNetwork, when set, is the name of a CNI network of the user's,
	// loaded from the conflists in UserConfDir (default /etc/cni/net.d),
	// used instead of leci's own. Bridge, Subnet, Subnet6, MTU, IPMasq,
	// Firewall and IPAMDir then do not apply and New writes no conflist.
	UserNetwork string
	UserConfDir string

	// JournalDir holds one small file per group that records what was asked
	// of CNI before each ADD and DEL, so that GC can undo what a crash left.
	// The default is "journal" beside CacheDir.
	JournalDir string
}

// withDefaults returns c with empty fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.StateDir == "" {
		c.StateDir = DefaultStateDir
	}
	if c.CacheDir == "" {
		c.CacheDir = DefaultCacheDir
	}
	if c.ConfDir == "" {
		c.ConfDir = DefaultConfDir
	}
	if c.IPAMDir == "" {
		c.IPAMDir = filepath.Join(filepath.Dir(filepath.Clean(c.CacheDir)), "ipam")
	}
	if c.JournalDir == "" {
		c.JournalDir = filepath.Join(filepath.Dir(filepath.Clean(c.CacheDir)), "journal")
	}
	if c.PublishAddress == "" {
		c.PublishAddress = DefaultPublishAddress
	}
	if c.UserNetwork != "" && c.UserConfDir == "" {
		c.UserConfDir = DefaultUserConfDir
	}
	if len(c.BinDirs) == 0 {
		c.BinDirs = DefaultBinDirs()
	}
	if c.NetworkName == "" {
		c.NetworkName = DefaultNetworkName
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.Subnet == "" {
		c.Subnet = DefaultSubnet
	}
	return c
}

// validate checks a Config that has its defaults.
func (c Config) validate() error {
	var errs []error
	for name, dir := range map[string]string{
		"state dir": c.StateDir, "cache dir": c.CacheDir,
		"conf dir": c.ConfDir, "ipam dir": c.IPAMDir, "journal dir": c.JournalDir,
	} {
		if !filepath.IsAbs(dir) {
			errs = append(errs, fmt.Errorf("%s %q is not an absolute path", name, dir))
		}
	}
	for _, dir := range c.BinDirs {
		if !filepath.IsAbs(dir) {
			errs = append(errs, fmt.Errorf("plugin dir %q is not an absolute path", dir))
		}
	}
	if err := utils.ValidateNetworkName(c.NetworkName); err != nil {
		errs = append(errs, fmt.Errorf("network name %q: %w", c.NetworkName, err))
	}
	if err := validateLinkName(c.Bridge); err != nil {
		errs = append(errs, fmt.Errorf("bridge %q: %w", c.Bridge, err))
	}
	subnet, err := parseSubnet(c.Subnet)
	if err != nil {
		errs = append(errs, err)
	}
	if c.Subnet6 != "" {
		p, err := parseSubnet(c.Subnet6)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("ipv6 %w", err))
		case !p.Addr().Is6():
			errs = append(errs, fmt.Errorf("ipv6 subnet %q is not an IPv6 range", c.Subnet6))
		case subnet.IsValid() && subnet.Addr().Is6():
			errs = append(errs, fmt.Errorf("ipv6 subnet %q beside subnet %q: the subnet must then be IPv4", c.Subnet6, c.Subnet))
		}
	}
	if a, err := netip.ParseAddr(c.PublishAddress); err != nil || a.Zone() != "" {
		errs = append(errs, fmt.Errorf("publish address %q is not an IP address", c.PublishAddress))
	}
	if c.UserNetwork != "" {
		if err := utils.ValidateNetworkName(c.UserNetwork); err != nil {
			errs = append(errs, fmt.Errorf("user network name %q: %w", c.UserNetwork, err))
		}
		if !filepath.IsAbs(c.UserConfDir) {
			errs = append(errs, fmt.Errorf("user conf dir %q is not an absolute path", c.UserConfDir))
		}
	}
	switch {
	case c.MTU == 0:
	case c.MTU < 68 || c.MTU > 65535:
		errs = append(errs, fmt.Errorf("mtu %d out of range (68 to 65535)", c.MTU))
	case c.Subnet6 != "" && c.MTU < 1280:
		errs = append(errs, fmt.Errorf("mtu %d is below IPv6's minimum of 1280", c.MTU))
	}
	return errors.Join(errs...)
}

// parseSubnet accepts a network address in CIDR form with room for the
// bridge's gateway address and at least one group.
func parseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("subnet %q: %w", s, err)
	}
	if p != p.Masked() {
		return netip.Prefix{}, fmt.Errorf("subnet %q is not a network address (did you mean %s?)", s, p.Masked())
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, fmt.Errorf("subnet %q: write IPv4 subnets in dotted form", s)
	}
	if p.Addr().BitLen()-p.Bits() < 2 {
		return netip.Prefix{}, fmt.Errorf("subnet %q is too small: it needs a gateway and a group address", s)
	}
	return p, nil
}

// validateLinkName checks a Linux interface name as the kernel does
// (dev_valid_name): 1 to 15 bytes, no '/', ':' or white space, not "." or "..".
func validateLinkName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) > 15:
		return errors.New("interface name longer than 15 bytes")
	case name == "." || name == "..":
		return errors.New("interface name is . or ..")
	case strings.ContainsAny(name, "/:") || strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return errors.New("interface name contains '/', ':' or white space")
	}
	return nil
}

// Info is what `leci info` shows about the network.
type Info struct {
	NetworkName string `json:"networkName"`
	// UserNetwork tells that the network is the user's, loaded from
	// ConfFile, and not leci's own.
	UserNetwork    bool     `json:"userNetwork,omitempty"`
	Bridge         string   `json:"bridge,omitempty"`
	Subnet         string   `json:"subnet,omitempty"`
	Subnet6        string   `json:"subnet6,omitempty"`
	IPMasq         bool     `json:"ipMasq"`
	MTU            int      `json:"mtu,omitempty"`
	Plugins        []string `json:"plugins"`
	PublishPorts   bool     `json:"publishPorts"`
	PublishAddress string   `json:"publishAddress,omitempty"`
	ConfFile       string   `json:"confFile"`
	// ConfFile6 is the dual-stack conflist, used for groups that ask for
	// IPv6.
	ConfFile6  string   `json:"confFile6,omitempty"`
	BinDirs    []string `json:"binDirs"`
	StateDir   string   `json:"stateDir"`
	CacheDir   string   `json:"cacheDir"`
	IPAMDir    string   `json:"ipamDir,omitempty"`
	JournalDir string   `json:"journalDir"`
}
