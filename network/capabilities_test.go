package network

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"leci/pod"
)

func TestBandwidthOf(t *testing.T) {
	bw, err := bandwidthOf(0, 0)
	if err != nil || *bw != (bandwidthEntry{}) {
		t.Errorf("no limits: got %+v, %v, want an all-zero entry", bw, err)
	}
	// 1 Mbit/s in: the bucket is the 32 KiB floor. 100 Mbit/s out: 100 ms
	// of the rate. Rates stay in bits per second, bursts are in bits.
	bw, err = bandwidthOf(1024000, 100_000_000)
	if err != nil {
		t.Fatal(err)
	}
	want := bandwidthEntry{IngressRate: 1024000, IngressBurst: 262144, EgressRate: 100_000_000, EgressBurst: 10_000_000}
	if *bw != want {
		t.Errorf("got %+v, want %+v", *bw, want)
	}
	// A huge rate: the burst is capped where the plugin refuses it.
	bw, err = bandwidthOf(0, 1<<50)
	if err != nil || bw.EgressBurst/8 >= 1<<32-1 || bw.EgressBurst == 0 {
		t.Errorf("huge rate: got %+v, %v", bw, err)
	}
	for _, r := range []int64{-1, 1, MinBandwidth - 1} {
		if _, err := bandwidthOf(r, 0); err == nil {
			t.Errorf("ingress %d: no error", r)
		}
		if _, err := bandwidthOf(0, r); err == nil {
			t.Errorf("egress %d: no error", r)
		}
	}
}

func TestPortMappings(t *testing.T) {
	got, err := portMappings([]pod.PortMapping{
		{ContainerPort: 80},
		{ContainerPort: 53, Protocol: "UDP"},
		{ContainerPort: 8443, HostPort: 18443, Protocol: "TCP"},
		{ContainerPort: 80, Protocol: "tcp"}, // declared twice: once
		{ContainerPort: 9000, HostIP: "::1"},
	}, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	want := []portMapEntry{
		{HostPort: 80, ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"},
		{HostPort: 53, ContainerPort: 53, Protocol: "udp", HostIP: "127.0.0.1"},
		{HostPort: 18443, ContainerPort: 8443, Protocol: "tcp", HostIP: "127.0.0.1"},
		{HostPort: 9000, ContainerPort: 9000, Protocol: "tcp", HostIP: "::1"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	for _, bad := range []pod.PortMapping{
		{ContainerPort: 0},
		{ContainerPort: 65536},
		{ContainerPort: 80, HostPort: 70000},
		{ContainerPort: 80, Protocol: "icmp"},
		{ContainerPort: 80, HostIP: "localhost"},
		{ContainerPort: 80, HostIP: "fe80::1%eth0"},
	} {
		if _, err := portMappings([]pod.PortMapping{bad}, "127.0.0.1"); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func TestCapabilityArgsJSON(t *testing.T) {
	// What libcni puts into runtimeConfig: the conventions' field names.
	caps := capabilityArgs{
		PortMappings: []portMapEntry{{HostPort: 8080, ContainerPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"}},
		Bandwidth:    &bandwidthEntry{IngressRate: 1024000, IngressBurst: 262144},
	}
	b, err := json.Marshal(caps.asMap())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"bandwidth":{"ingressRate":1024000,"ingressBurst":262144,"egressRate":0,"egressBurst":0},` +
		`"portMappings":[{"hostPort":8080,"containerPort":80,"protocol":"tcp","hostIP":"127.0.0.1"}]}`
	if string(b) != want {
		t.Errorf("runtimeConfig:\n got %s\nwant %s", b, want)
	}
	// Back from libcni's cache, untyped.
	var untyped map[string]any
	if err := json.Unmarshal(b, &untyped); err != nil {
		t.Fatal(err)
	}
	if back := capsFromMap(untyped); !reflect.DeepEqual(back, caps) {
		t.Errorf("round trip: got %+v, want %+v", back, caps)
	}
	if m := (capabilityArgs{}).asMap(); len(m) != 0 {
		t.Errorf("empty args: got %v", m)
	}
}

func TestPortClashes(t *testing.T) {
	m := unitManager(t, func(c *Config) { c.PublishPorts = true })
	keys := func(entries ...portMapEntry) []portKey { return keysOf(entries) }
	if err := m.reservePorts("a", keys(portMapEntry{HostPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"})); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		e     portMapEntry
		clash bool
	}{
		{portMapEntry{HostPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"}, true},
		{portMapEntry{HostPort: 80, Protocol: "tcp", HostIP: "0.0.0.0"}, true},
		{portMapEntry{HostPort: 80, Protocol: "udp", HostIP: "127.0.0.1"}, false},
		{portMapEntry{HostPort: 81, Protocol: "tcp", HostIP: "127.0.0.1"}, false},
		{portMapEntry{HostPort: 80, Protocol: "tcp", HostIP: "127.0.0.2"}, false},
	} {
		err := m.reservePorts("b", keys(tt.e))
		if got := errors.Is(err, ErrPortConflict); got != tt.clash {
			t.Errorf("%+v: got %v, want clash %v", tt.e, err, tt.clash)
		}
		m.releasePorts("b")
	}
	// The same group may hold what it holds.
	if err := m.reservePorts("a", keys(portMapEntry{HostPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"})); err != nil {
		t.Errorf("same group again: %v", err)
	}
	m.releasePorts("a")
	if err := m.reservePorts("b", keys(portMapEntry{HostPort: 80, Protocol: "tcp", HostIP: "127.0.0.1"})); err != nil {
		t.Errorf("after release: %v", err)
	}
}

// unitManager is a Manager on temporary directories, for what needs no
// root: its Setup fails before it makes anything.
func unitManager(t *testing.T, mutate ...func(*Config)) *Manager {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		StateDir: filepath.Join(dir, "netns"),
		CacheDir: filepath.Join(dir, "cni", "cache"),
		ConfDir:  filepath.Join(dir, "cni", "net.d"),
		BinDirs:  []string{filepath.Join(dir, "bin")},
		Bridge:   "lt-unit",
		Subnet:   "10.213.9.0/24",
	}
	for _, f := range mutate {
		f(&cfg)
	}
	m, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return m
}

func TestSetupRefusesBeforeMakingAnything(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*Config)
		opts    pod.NetworkOptions
		wantErr error
		want    string
	}{
		{"ipv6 without subnet6", nil, pod.NetworkOptions{IPv6: true}, ErrIPv6NotConfigured, "IPv6"},
		{"bandwidth too low", nil, pod.NetworkOptions{IngressBandwidth: 100}, nil, "below"},
		{"negative bandwidth", nil, pod.NetworkOptions{EgressBandwidth: -5}, nil, "negative"},
		{"bad port", func(c *Config) { c.PublishPorts = true }, pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 80, Protocol: "icmp"}}}, nil, "protocol"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mutate []func(*Config)
			if tt.mutate != nil {
				mutate = append(mutate, tt.mutate)
			}
			m := unitManager(t, mutate...)
			_, err := m.Setup(context.Background(), "g1", tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Setup: got %v, want an error with %q (%v)", err, tt.want, tt.wantErr)
			}
			for _, dir := range []string{m.cfg.StateDir, m.cfg.JournalDir, m.cfg.CacheDir} {
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("%s: %d entries left", dir, len(entries))
				}
			}
		})
	}
}

func TestPrepareIgnoresPortsUnlessPublishing(t *testing.T) {
	opts := pod.NetworkOptions{Ports: []pod.PortMapping{{ContainerPort: 80}}}
	_, caps, err := unitManager(t).prepare("g", opts)
	if err != nil || len(caps.PortMappings) != 0 {
		t.Errorf("publishing off: got %+v, %v, want no mappings", caps.PortMappings, err)
	}
	_, caps, err = unitManager(t, func(c *Config) { c.PublishPorts = true; c.PublishAddress = "0.0.0.0" }).prepare("g", opts)
	want := []portMapEntry{{HostPort: 80, ContainerPort: 80, Protocol: "tcp", HostIP: "0.0.0.0"}}
	if err != nil || !reflect.DeepEqual(caps.PortMappings, want) {
		t.Errorf("publishing on: got %+v, %v, want %+v", caps.PortMappings, err, want)
	}
	if caps.Bandwidth == nil {
		t.Error("no bandwidth entry: the plugin's CHECK needs one")
	}
	// Each group gets the plugins it needs: the IPv6 range when it asks
	// for IPv6, portmap with ports, bandwidth with limits.
	m := unitManager(t, func(c *Config) { c.Subnet6 = "fd00:213:9::/64"; c.PublishPorts = true })
	for _, tt := range []struct {
		opts    pod.NetworkOptions
		plugins []string
		ranges  int
	}{
		{pod.NetworkOptions{}, []string{"bridge"}, 1},
		{pod.NetworkOptions{IPv6: true}, []string{"bridge"}, 2},
		{pod.NetworkOptions{Ports: opts.Ports}, []string{"bridge", "portmap"}, 1},
		{pod.NetworkOptions{IngressBandwidth: 1e6}, []string{"bridge", "bandwidth"}, 1},
		{pod.NetworkOptions{IPv6: true, EgressBandwidth: 1e6, Ports: opts.Ports}, []string{"bridge", "portmap", "bandwidth"}, 2},
	} {
		list, _, err := m.prepare("g", tt.opts)
		if err != nil {
			t.Fatal(err)
		}
		var plugins []string
		for _, p := range list.Plugins {
			plugins = append(plugins, p.Network.Type)
		}
		var doc conflistDoc
		if err := json.Unmarshal(list.Bytes, &doc); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(plugins, tt.plugins) || len(doc.Plugins[0].IPAM.Ranges) != tt.ranges || list.Name != m.list.Name {
			t.Errorf("%+v: got %s with %v and %d ranges, want %v and %d", tt.opts, list.Name, plugins, len(doc.Plugins[0].IPAM.Ranges), tt.plugins, tt.ranges)
		}
	}
	// The files show every plugin.
	if got := m.Info().Plugins; !reflect.DeepEqual(got, []string{"bridge", "portmap", "bandwidth"}) {
		t.Errorf("Info plugins: %v", got)
	}
}
