package network

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/containernetworking/cni/libcni"

	"leci/pod"
)

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		StateDir:       "/run/leci/netns",
		CacheDir:       "/var/lib/leci/cni/cache",
		ConfDir:        "/var/lib/leci/cni/net.d",
		IPAMDir:        "/var/lib/leci/cni/ipam",
		JournalDir:     "/var/lib/leci/cni/journal",
		BinDirs:        []string{"/opt/cni/bin", "/usr/lib/cni"},
		NetworkName:    "leci",
		Bridge:         "leci0",
		Subnet:         "10.89.0.0/16",
		PublishAddress: "127.0.0.1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if err := got.validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}

	// IPAMDir follows a given CacheDir, so each leci root has its own.
	c := Config{CacheDir: "/srv/leci/cni/cache/"}.withDefaults()
	if c.IPAMDir != "/srv/leci/cni/ipam" || c.JournalDir != "/srv/leci/cni/journal" {
		t.Errorf("ipam, journal dirs for cache dir %s: got %s, %s, want /srv/leci/cni/ipam, /srv/leci/cni/journal", c.CacheDir, c.IPAMDir, c.JournalDir)
	}
	if u := (Config{UserNetwork: "mine"}).withDefaults(); u.UserConfDir != "/etc/cni/net.d" {
		t.Errorf("user conf dir: got %q, want /etc/cni/net.d", u.UserConfDir)
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
		{"tiny mtu", func(c *Config) { c.MTU = 67 }, "mtu"},
		{"dual stack", func(c *Config) { c.Subnet6 = "fd00:89::/64" }, ""},
		{"ipv6 mtu", func(c *Config) { c.Subnet6 = "fd00:89::/64"; c.MTU = 1279 }, "1280"},
		{"subnet6 is ipv4", func(c *Config) { c.Subnet6 = "10.90.0.0/16" }, "not an IPv6 range"},
		{"subnet6 host bits", func(c *Config) { c.Subnet6 = "fd00:89::1/64" }, "did you mean fd00:89::/64"},
		{"subnet6 beside ipv6 subnet", func(c *Config) { c.Subnet = "fd00:88::/64"; c.Subnet6 = "fd00:89::/64" }, "must then be IPv4"},
		{"subnet6 garbage", func(c *Config) { c.Subnet6 = `::/0"}` }, "ipv6 subnet"},
		{"publish address", func(c *Config) { c.PublishAddress = "0.0.0.0" }, ""},
		{"publish address v6", func(c *Config) { c.PublishAddress = "::1" }, ""},
		{"publish address name", func(c *Config) { c.PublishAddress = "localhost" }, "publish address"},
		{"user network", func(c *Config) { c.UserNetwork = "mine"; c.UserConfDir = "/etc/cni/net.d" }, ""},
		{"user network name", func(c *Config) { c.UserNetwork = "my net"; c.UserConfDir = "/etc/cni/net.d" }, "user network name"},
		{"relative user conf dir", func(c *Config) { c.UserNetwork = "mine"; c.UserConfDir = "net.d" }, "user conf dir"},
		{"relative journal dir", func(c *Config) { c.JournalDir = "journal" }, "journal dir"},
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
	if want := []string{"bridge", "portmap", "bandwidth"}; !reflect.DeepEqual(types, want) {
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
	if c := doc.Plugins[2].Capabilities; len(c) != 1 || !c["bandwidth"] {
		t.Errorf("bandwidth capabilities: got %v, want bandwidth only", c)
	}
	// No dual-stack conflist without Subnet6.
	if _, err := os.Stat(filepath.Join(cfg.ConfDir, "leci.ipv6.conflist")); !os.IsNotExist(err) {
		t.Errorf("dual-stack conflist without Subnet6: %v", err)
	}

	info := m.Info()
	if info.Bridge != "lt-unit" || info.Subnet != "10.213.9.0/24" || info.ConfFile != filepath.Join(cfg.ConfDir, "leci.conflist") ||
		!reflect.DeepEqual(info.Plugins, []string{"bridge", "portmap", "bandwidth"}) || info.PublishPorts || info.ConfFile6 != "" {
		t.Errorf("Info: got %+v", info)
	}
	if got, want := m.NetNSPath("eci-1"), filepath.Join(cfg.StateDir, "eci-1"); got != want {
		t.Errorf("NetNSPath: got %s, want %s", got, want)
	}
}

func TestConflistIPMasq(t *testing.T) {
	c := Config{IPMasq: true, IPAMDir: "/x"}.withDefaults()
	b, err := confListJSON(c, fullVariant(false))
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

func TestConflistDualStackAndFirewall(t *testing.T) {
	c := Config{IPAMDir: "/x", Subnet: "10.213.9.0/24", Subnet6: "fd00:213:9::/64", IPMasq: true, Firewall: true}.withDefaults()
	b, err := confListJSON(c, fullVariant(true))
	if err != nil {
		t.Fatal(err)
	}
	var doc conflistDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, p := range doc.Plugins {
		types = append(types, p.Type)
	}
	if want := []string{"bridge", "firewall", "portmap", "bandwidth"}; !reflect.DeepEqual(types, want) {
		t.Fatalf("plugin types: got %v, want %v", types, want)
	}
	ipam := doc.Plugins[0].IPAM
	if len(ipam.Ranges) != 2 || ipam.Ranges[0][0].Subnet != "10.213.9.0/24" || ipam.Ranges[1][0].Subnet != "fd00:213:9::/64" {
		t.Errorf("ranges: got %+v, want one set per family", ipam.Ranges)
	}
	if len(ipam.Routes) != 2 || ipam.Routes[0].Dst != "0.0.0.0/0" || ipam.Routes[1].Dst != "::/0" {
		t.Errorf("routes: got %+v, want a default route per family", ipam.Routes)
	}
	// The IPv4 list has the IPv4 range only.
	b, _ = confListJSON(c, fullVariant(false))
	doc = conflistDoc{}
	json.Unmarshal(b, &doc)
	if r := doc.Plugins[0].IPAM.Ranges; len(r) != 1 {
		t.Errorf("IPv4 list ranges: %+v", r)
	}
	if _, err := confListJSON(Config{IPAMDir: "/x"}.withDefaults(), fullVariant(true)); err == nil {
		t.Error("dual stack without Subnet6: no error")
	}
}

func TestNewDualStack(t *testing.T) {
	m := unitManager(t, func(c *Config) { c.Subnet6 = "fd00:213:9::/64" })
	file6 := filepath.Join(m.cfg.ConfDir, "leci.ipv6.conflist")
	if m.list6 == nil || m.Info().ConfFile6 != file6 || m.Info().Subnet6 != "fd00:213:9::/64" {
		t.Fatalf("dual-stack list %v, info %+v", m.list6, m.Info())
	}
	b, err := os.ReadFile(file6)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "fd00:213:9::/64") || m.list6.Name != m.list.Name {
		t.Errorf("dual-stack conflist (name %q, want %q):\n%s", m.list6.Name, m.list.Name, b)
	}
	// Without Subnet6 the next time, the file goes.
	cfg := m.cfg
	cfg.Subnet6 = ""
	if _, err := New(cfg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(file6); !os.IsNotExist(err) {
		t.Errorf("dual-stack conflist kept without Subnet6: %v", err)
	}
}

func TestNewUserNetwork(t *testing.T) {
	userDir := t.TempDir()
	os.WriteFile(filepath.Join(userDir, "10-other.conflist"), []byte(`{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"bridge"}]}`), 0o644)
	os.WriteFile(filepath.Join(userDir, "20-mine.conflist"), []byte(`{"cniVersion":"1.0.0","name":"mine","plugins":[
		{"type":"bridge","bridge":"mine0","ipam":{"type":"host-local","ranges":[[{"subnet":"10.213.10.0/24"}]]}},
		{"type":"portmap","capabilities":{"portMappings":true}}]}`), 0o644)
	os.WriteFile(filepath.Join(userDir, "30-single.conf"), []byte(`{"cniVersion":"1.0.0","name":"single","type":"bridge"}`), 0o644)

	m := unitManager(t, func(c *Config) { c.UserNetwork = "mine"; c.UserConfDir = userDir; c.PublishPorts = true })
	info := m.Info()
	if !info.UserNetwork || info.NetworkName != "mine" || info.ConfFile != filepath.Join(userDir, "20-mine.conflist") ||
		!reflect.DeepEqual(info.Plugins, []string{"bridge", "portmap"}) || info.Bridge != "" || info.Subnet != "" {
		t.Errorf("Info: %+v", info)
	}
	// leci writes no conflist of its own.
	if entries, _ := os.ReadDir(m.cfg.ConfDir); len(entries) != 0 {
		t.Errorf("conf dir holds %d files", len(entries))
	}
	if !m.caps[capPortMappings] || m.caps[capBandwidth] {
		t.Errorf("capabilities: %v", m.caps)
	}
	// Bandwidth is refused by a network without the plugin.
	if _, err := m.Setup(t.Context(), "g1", pod.NetworkOptions{IngressBandwidth: 1e6}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("bandwidth on a network without it: got %v, want ErrNotSupported", err)
	}

	single := unitManager(t, func(c *Config) { c.UserNetwork = "single"; c.UserConfDir = userDir })
	if single.Info().ConfFile != filepath.Join(userDir, "30-single.conf") || len(single.list.Plugins) != 1 {
		t.Errorf("single-plugin network: %+v", single.Info())
	}
	dir := t.TempDir()
	_, err := New(Config{StateDir: dir, CacheDir: filepath.Join(dir, "c"), ConfDir: dir, UserNetwork: "absent", UserConfDir: userDir}, nil)
	if err == nil || !strings.Contains(err.Error(), "absent") {
		t.Errorf("absent user network: got %v", err)
	}
}
