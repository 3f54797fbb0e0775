package network

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestCheckAddress(t *testing.T) {
	dir := t.TempDir()
	c := Config{Subnet: "10.214.7.0/24", IPAMDir: dir, CacheDir: filepath.Join(dir, "cache")}
	if err := os.MkdirAll(filepath.Join(dir, DefaultNetworkName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DefaultNetworkName, "10.214.7.9"), []byte("g1"), 0o644); err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]error{
		"10.214.7.20":  nil,
		"10.214.7.9":   ErrAddressInUse,
		"10.214.8.20":  ErrAddressOutside,
		"10.214.7.0":   ErrAddressOutside,
		"10.214.7.1":   ErrAddressOutside, // the bridge's
		"10.214.7.255": ErrAddressOutside,
	} {
		if err := c.CheckAddress(netip.MustParseAddr(addr)); !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("CheckAddress(%s) = %v, want %v", addr, err, want)
		}
	}
	c.UserNetwork = "theirs"
	if err := c.CheckAddress(netip.MustParseAddr("192.0.2.1")); err != nil {
		t.Errorf("a user's network is not checked, got %v", err)
	}
}
