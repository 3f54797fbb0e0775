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
	// MTU of the bridge and veths; 0 leaves the plugin's default.
	MTU int
	// IPMasq masquerades traffic that leaves the subnet and gives the groups
	// a default route through the bridge. It is only needed to reach the
	// world; off, a group reaches its subnet and the host's address on the
	// bridge, which is all that leci's tests may use.
	IPMasq bool
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
		"conf dir": c.ConfDir, "ipam dir": c.IPAMDir,
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
	if _, err := parseSubnet(c.Subnet); err != nil {
		errs = append(errs, err)
	}
	if c.MTU < 0 || c.MTU > 65535 {
		errs = append(errs, fmt.Errorf("mtu %d out of range", c.MTU))
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
	NetworkName string   `json:"networkName"`
	Bridge      string   `json:"bridge"`
	Subnet      string   `json:"subnet"`
	IPMasq      bool     `json:"ipMasq"`
	MTU         int      `json:"mtu,omitempty"`
	ConfFile    string   `json:"confFile"`
	BinDirs     []string `json:"binDirs"`
	StateDir    string   `json:"stateDir"`
	CacheDir    string   `json:"cacheDir"`
	IPAMDir     string   `json:"ipamDir"`
}
