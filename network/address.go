package network

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// capIPs is the CNI convention by which a runtime asks the IPAM plugin
// (host-local) for given addresses.
const capIPs = "ips"

// Errors of CheckAddress.
var (
	// ErrAddressOutside: the address is not one leci's network hands out.
	ErrAddressOutside = errors.New("address is not in the network's subnet")
	// ErrAddressInUse: host-local has given the address to a group.
	ErrAddressInUse = errors.New("address is already in use")
)

// CheckAddress tells whether a group could be given addr on this network
// (NetworkOptions.IPv4): an address of Subnet that is not the subnet's own,
// its broadcast or the bridge's (the first), and that host-local has not
// allocated. A user's network is not known before its plugins run, so
// nothing is checked there.
func (c Config) CheckAddress(addr netip.Addr) error {
	c = c.withDefaults()
	if c.UserNetwork != "" {
		return nil
	}
	subnet, err := parseSubnet(c.Subnet)
	if err != nil {
		return err
	}
	first := subnet.Masked().Addr()
	gateway := first.Next()
	last := lastAddr(subnet)
	if !subnet.Contains(addr) || addr == first || addr == gateway || (addr.Is4() && addr == last) {
		return fmt.Errorf("%s: %w %s (the first two and the last address are the network's)", addr, ErrAddressOutside, subnet.Masked())
	}
	// host-local keeps one file per allocated address, named by it.
	if _, err := os.Lstat(filepath.Join(c.IPAMDir, c.NetworkName, addr.String())); err == nil {
		return fmt.Errorf("%s: %w", addr, ErrAddressInUse)
	}
	return nil
}

// lastAddr is the last address of a prefix (IPv4's broadcast).
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 1 << (7 - j)
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}
