package network

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"
)

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		StateDir:    "/run/leci/netns",
		CacheDir:    "/var/lib/leci/cni/cache",
		ConfDir:     "/var/lib/leci/cni/net.d",
		IPAMDir:     "/var/lib/leci/cni/ipam",
		BinDirs:     []string{"/opt/cni/bin", "/usr/lib/cni"},
		NetworkName: "leci",
		Bridge:      "leci0",
		Subnet:      "10.89.0.0/16",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if err := got.validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	// IPAMDir follows a given CacheDir, so each leci root has its own.
	c := Config{CacheDir: "/srv/leci/cni/cache/"}.withDefaults()
	if c.IPAMDir != "/srv/leci/cni/ipam" {
		t.Errorf("ipam dir for cache dir %s: got %s, want /srv/leci/cni/ipam", c.CacheDir, c.IPAMDir)
	}
	// The defaults are not shared: changing one Config's BinDirs must not
	// change the next one's.
	c.BinDirs[0] = "/elsewhere"
	if d := (Config{}).withDefaults().BinDirs; d[0] != "/opt/cni/bin" {
		t.Errorf("default bin dirs changed through a Config: %v", d)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantErr string // "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"test subnet", func(c *Config) { c.Subnet = "10.213.7.0/24" }, ""},
		{"ipv6 subnet", func(c *Config) { c.Subnet = "fd00:89::/64" }, ""},
		{"smallest subnet", func(c *Config) { c.Subnet = "10.213.7.0/30" }, ""},
		{"mtu", func(c *Config) { c.MTU = 1400 }, ""},
		{"host bits set", func(c *Config) { c.Subnet = "10.89.0.1/16" }, "did you mean 10.89.0.0/16"},
		{"not cidr", func(c *Config) { c.Subnet = "10.89.0.0" }, "subnet"},
		{"garbage subnet", func(c *Config) { c.Subnet = `10.0.0.0/8", "x": "` }, "subnet"},
		{"subnet too small", func(c *Config) { c.Subnet = "10.213.7.0/31" }, "too small"},
		{"bridge too long", func(c *Config) { c.Bridge = "leci0123456789ab" }, "15 bytes"},
		{"bridge with slash", func(c *Config) { c.Bridge = "le/ci" }, "bridge"},
		{"bridge with space", func(c *Config) { c.Bridge = "le ci" }, "bridge"},
		{"network name", func(c *Config) { c.NetworkName = "le ci" }, "network name"},
		{"relative state dir", func(c *Config) { c.StateDir = "run/netns" }, "state dir"},
		{"relative bin dir", func(c *Config) { c.BinDirs = []string{"bin"} }, "plugin dir"},
		{"negative mtu", func(c *Config) { c.MTU = -1 }, "mtu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Config{}.withDefaults()
			tt.mutate(&c)
			err := c.validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("validate: %v, want no error", err)
			case tt.wantErr != "" && err == nil:
				t.Errorf("validate: no error, want one containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Errorf("validate: %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

// conflistDoc is the conflist read back generically, to check what the
// plugins will be given and not how Go marshalled it.
type conflistDoc struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []struct {
		Type         string          `json:"type"`
		Bridge       string          `json:"bridge"`
		IsGateway    bool            `json:"isGateway"`
		IPMasq       bool            `json:"ipMasq"`
		MTU          int             `json:"mtu"`
		Capabilities map[string]bool `json:"capabilities"`
		IPAM         *struct {
			Type    string `json:"type"`
			DataDir string `json:"dataDir"`
			Ranges  [][]struct {
				Subnet string `json:"subnet"`
			} `json:"ranges"`
			Routes []struct {
				Dst string `json:"dst"`
			} `json:"routes"`
		} `json:"ipam"`
	} `json:"plugins"`
}

func TestNewWritesConflist(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		StateDir: filepath.Join(dir, "netns"),
		CacheDir: filepath.Join(dir, "cni", "cache"),
		ConfDir:  filepath.Join(dir, "cni", "net.d"),
		BinDirs:  []string{filepath.Join(dir, "bin")},
		Bridge:   "lt-unit",
		Subnet:   "10.213.9.0/24",
		MTU:      1400,
	}
	m, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.ConfDir, "leci.conflist"))
	if err != nil {
		t.Fatalf("read conflist: %v", err)
	}
	if _, err := libcni.ConfListFromBytes(b); err != nil {
		t.Errorf("libcni does not accept the conflist: %v", err)
	}
	var doc conflistDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("parse conflist: %v\n%s", err, b)
	}
	if doc.CNIVersion != "1.0.0" || doc.Name != "leci" {
		t.Errorf("cniVersion, name: got %q, %q, want 1.0.0, leci", doc.CNIVersion, doc.Name)
	}
	var types []string
	for _, p := range doc.Plugins {
		types = append(types, p.Type)
	}
	if want := []string{"bridge", "portmap"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("plugin types: got %v, want %v", types, want)
	}
	br := doc.Plugins[0]
	if br.Bridge != "lt-unit" || !br.IsGateway || br.IPMasq || br.MTU != 1400 {
		t.Errorf("bridge plugin: got bridge %q isGateway %v ipMasq %v mtu %d, want lt-unit true false 1400",
			br.Bridge, br.IsGateway, br.IPMasq, br.MTU)
	}
	if br.IPAM == nil {
		t.Fatal("bridge plugin has no ipam")
	}
	if br.IPAM.Type != "host-local" {
		t.Errorf("ipam type: got %q, want host-local", br.IPAM.Type)
	}
	if want := filepath.Join(dir, "cni", "ipam"); br.IPAM.DataDir != want {
		t.Errorf("ipam dataDir: got %q, want %q", br.IPAM.DataDir, want)
	}
	if len(br.IPAM.Ranges) != 1 || len(br.IPAM.Ranges[0]) != 1 || br.IPAM.Ranges[0][0].Subnet != "10.213.9.0/24" {
		t.Errorf("ipam ranges: got %+v, want one range 10.213.9.0/24", br.IPAM.Ranges)
	}
	if len(br.IPAM.Routes) != 0 {
		t.Errorf("ipam routes without ipMasq: got %+v, want none (no default route)", br.IPAM.Routes)
	}
	if !doc.Plugins[1].Capabilities["portMappings"] {
		t.Errorf("portmap capabilities: got %v, want portMappings", doc.Plugins[1].Capabilities)
	}

	info := m.Info()
	if info.Bridge != "lt-unit" || info.Subnet != "10.213.9.0/24" || info.ConfFile != filepath.Join(cfg.ConfDir, "leci.conflist") {
		t.Errorf("Info: got %+v", info)
	}
	if got, want := m.NetNSPath("eci-1"), filepath.Join(cfg.StateDir, "eci-1"); got != want {
		t.Errorf("NetNSPath: got %s, want %s", got, want)
	}
}

func TestConflistIPMasq(t *testing.T) {
	c := Config{IPMasq: true, IPAMDir: "/x"}.withDefaults()
	b, err := confListJSON(c)
	if err != nil {
		t.Fatal(err)
	}
	var doc conflistDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	br := doc.Plugins[0]
	if !br.IPMasq || len(br.IPAM.Routes) != 1 || br.IPAM.Routes[0].Dst != "0.0.0.0/0" {
		t.Errorf("with IPMasq: got ipMasq %v routes %+v, want true and a default route", br.IPMasq, br.IPAM.Routes)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	_, err := New(Config{ConfDir: dir, Subnet: "10.89.0.0/33"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		t.Fatal("New with a bad subnet: no error")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("New with a bad config wrote %d files", len(entries))
	}
}

func TestGroupIDValidation(t *testing.T) {
	for _, id := range []string{"", "../x", "a/b", ".hidden", "a b"} {
		if err := validateGroupID(id); err == nil {
			t.Errorf("group id %q: no error", id)
		}
	}
	for _, id := range []string{"eci-2ze0abc", "a", "A_b.c-1"} {
		if err := validateGroupID(id); err != nil {
			t.Errorf("group id %q: %v", id, err)
		}
	}
}
