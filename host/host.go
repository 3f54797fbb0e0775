// Package host assembles leci's group engine from the real parts of this
// host: containerd (the system's or leci's own), CNI networking, volumes,
// and the leci binary itself as the sandbox process and the log writer.
// The command line and the integration tests both start from here.
package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"

	"leci/logs"
	"leci/network"
	"leci/runtime"
	"leci/runtime/containerd"
	"leci/volumes"
)

// Config says where leci keeps its state and which parts it uses.
type Config struct {
	// Root is leci's state directory (default /var/lib/leci).
	Root string
	// Runtime is the backend: "containerd", "docker", or "auto" (containerd
	// when reachable, else Docker). Empty means "containerd".
	Runtime string
	// DockerHost is the Docker Engine API address for the docker runtime
	// (unix:///path or tcp://...); empty: DOCKER_HOST, else the standard socket.
	DockerHost string
	// Containerd is a socket path or "auto".
	Containerd string
	// Namespace is leci's containerd namespace.
	Namespace string
	// Bridge, Subnet, Subnet6 (optional, IPv6), MTU and CNIBinDirs
	// configure leci's network; CNIConfDir and CNINetwork name the user's
	// conflist instead. PublishPorts publishes containers' ports on
	// PublishAddress. Firewall adds the CNI firewall plugin.
	Bridge         string
	Subnet         string
	Subnet6        string
	MTU            int
	CNIBinDirs     []string
	CNIConfDir     string
	CNINetwork     string
	Firewall       bool
	PublishPorts   bool
	PublishAddress string
	// LeciBinary is the static leci binary used as sandbox process and log
	// writer; default: this process's executable.
	LeciBinary string
	// CgroupRoot holds the groups' cgroups (default /leci).
	CgroupRoot string
	Backoff    runtime.Backoff
	// HostPathAllow are the host path prefixes HostPath volumes may use
	// (empty: any); HostPathDeny are refused on top of leci's own state and
	// the runtimes' state and sockets.
	HostPathAllow []string
	HostPathDeny  []string
	// Recorder keeps the groups' status for a restarted leci (the daemon's
	// store); nil keeps nothing.
	Recorder runtime.Recorder
}

// Volumes is the volume manager the configuration describes.
func (c Config) Volumes() *volumes.Manager {
	return volumes.New(volumes.Config{Root: c.Root, HostPathAllow: c.HostPathAllow, HostPathDeny: c.HostPathDeny})
}

// NetworkConfig is the network part of the configuration, every path under
// Root so that two roots never share state.
func (c Config) NetworkConfig() network.Config {
	return network.Config{
		StateDir: filepath.Join(c.Root, "netns"),
		CacheDir: filepath.Join(c.Root, "cni", "cache"),
		ConfDir:  filepath.Join(c.Root, "cni", "net.d"),
		IPAMDir:  filepath.Join(c.Root, "cni", "ipam"),
		BinDirs:  c.CNIBinDirs,
		Bridge:   c.Bridge,
		Subnet:   c.Subnet,
		Subnet6:  c.Subnet6,
		MTU:      c.MTU,
		Firewall: c.Firewall,

		PublishPorts:   c.PublishPorts,
		PublishAddress: c.PublishAddress,
		UserConfDir:    c.CNIConfDir,
		UserNetwork:    c.CNINetwork,
	}
}

// Host is a group engine on real parts.
type Host struct {
	// Root is leci's state directory.
	Root    string
	Conn    *containerd.Conn
	Network *network.Manager
	Volumes *volumes.Manager
	Engine  *runtime.Engine
}

// Open connects to containerd and builds the engine.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Host, retErr error) {
	if cfg.LeciBinary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find leci's own binary: %w", err)
		}
		cfg.LeciBinary = self
	}
	conn, err := containerd.Connect(ctx, containerd.Config{Address: cfg.Containerd, Namespace: cfg.Namespace, Root: cfg.Root}, log)
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	defer func() {
		if retErr != nil {
			conn.Close()
		}
	}()
	leci := cfg.LeciBinary
	backend, err := containerd.NewBackend(conn, containerd.BackendOptions{
		Root:       cfg.Root,
		LeciBinary: leci,
		CgroupRoot: cfg.CgroupRoot,
		LogIO:      func(path string) cio.Creator { return cio.BinaryIO(leci, logs.BinaryArgs(path)) },
	}, log)
	if err != nil {
		return nil, err
	}
	nm, err := network.New(cfg.NetworkConfig(), log)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	vm := cfg.Volumes()
	eng := runtime.New(backend, nm, vm, runtime.Options{Root: cfg.Root, Backoff: cfg.Backoff, LogTail: logTail, Recorder: cfg.Recorder}, log)
	return &Host{Root: cfg.Root, Conn: conn, Network: nm, Volumes: vm, Engine: eng}, nil
}

// logTail is the end of a finished container's log, for termination
// messages; it gives the log writer a moment to drain the pipes first.
func logTail(path string, lines, bytes int) string {
	for i := 0; i < 40; i++ {
		if writing, err := logs.Writing(path); err != nil || !writing {
			break
		}
		time.Sleep(25 * time.Millisecond)
	}
	got, err := logs.Read(path, logs.ReadOptions{Tail: lines, LimitBytes: int64(bytes)})
	if err != nil {
		return ""
	}
	var b strings.Builder
	for _, l := range got {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

// Close lets go of containerd; groups keep running.
func (h *Host) Close() error { return h.Conn.Close() }
