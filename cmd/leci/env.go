package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"leci/host"
	"leci/internal/gpu"
	"leci/internal/trace"
	"leci/runtime"
	"leci/runtime/containerd"
	"leci/runtime/docker"
)

// globalOptions are the flags every command that touches containers shares.
type globalOptions struct {
	root          string
	runtime       string
	dockerHost    string
	containerd    string
	namespace     string
	bridge        string
	subnet        string
	cniBinDirs    []string
	cgroupRoot    string
	hostPathAllow []string
	logLevel      string
	trace         string
	// hostPathDeny are paths of this leci no HostPath may reach besides
	// its root: the daemon's socket directories and configuration file's
	// directory (denyDaemonPaths).
	hostPathDeny []string
	// allowPrivileged is --allow-privileged of the commands that run
	// groups (daemon, run), or allowPrivileged in the daemon's config.
	allowPrivileged bool
	// pidsLimit and defaultGroupMemory (GiB) are the limits every group
	// gets (--pids-limit, --default-group-memory).
	pidsLimit          int64
	defaultGroupMemory float64
	// cdiSpecDirs and gpuKind say which CDI devices a Gpu counts.
	cdiSpecDirs []string
	gpuKind     string

	subnet6        string
	mtu            int
	cniConfDir     string
	cniNetwork     string
	cniFirewall    bool
	publishPorts   bool
	publishAddress string
}

func (o *globalOptions) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&o.root, "root", "/var/lib/leci", "leci's state directory")
	// containerd stays the default: with "auto", which runtime a group
	// lands in would depend on what answers at the moment, and a daemon
	// restarted with the other one would not find its groups again.
	f.StringVar(&o.runtime, "runtime", host.RuntimeContainerd, `container runtime: containerd, docker, or "auto" (containerd when it can be had, else Docker)`)
	f.StringVar(&o.dockerHost, "docker-host", docker.ResolveHost(""), "Docker Engine address for --runtime docker: unix:///PATH or tcp://HOST:PORT; the default is DOCKER_HOST, else the standard socket")
	f.StringVar(&o.containerd, "containerd", containerd.AutoAddress, `containerd socket, or "auto": the system one if it answers, else leci's own`)
	f.StringVar(&o.namespace, "namespace", containerd.DefaultNamespace, "containerd namespace of leci's containers and images")
	f.StringVar(&o.bridge, "bridge", "leci0", "bridge of the groups' network")
	f.StringVar(&o.subnet, "subnet", "10.89.0.0/16", "subnet of the groups' addresses")
	f.StringSliceVar(&o.cniBinDirs, "cni-bin-dir", []string{"/opt/cni/bin", "/usr/lib/cni"}, "directories searched for the CNI plugins")
	f.StringVar(&o.cgroupRoot, "cgroup-root", "/leci", "cgroup under which each group gets its own")
	f.StringVar(&o.subnet6, "subnet6", "", "IPv6 subnet of the groups' addresses (a ULA such as fd00:89::/64); empty: no IPv6")
	f.IntVar(&o.mtu, "mtu", 0, "MTU of the bridge and the groups' interfaces (0: the plugin's default)")
	f.StringVar(&o.cniConfDir, "cni-conf-dir", "/etc/cni/net.d", "directory of the conflist named by --cni-network")
	f.StringVar(&o.cniNetwork, "cni-network", "", "use this CNI network from --cni-conf-dir instead of leci's own")
	f.BoolVar(&o.cniFirewall, "cni-firewall", false, "add the CNI firewall plugin (for hosts whose FORWARD policy drops)")
	f.BoolVar(&o.publishPorts, "publish-ports", false, "publish the containers' declared ports on --publish-address")
	f.StringVar(&o.publishAddress, "publish-address", "127.0.0.1", "host address ports are published on")
	f.StringArrayVar(&o.hostPathAllow, "host-path-allow", nil, "host path prefix HostPath volumes may use, PATH (read-only) or PATH:rw (repeatable; with none, any path but the host's system directories, leci's root and the runtimes' state and sockets, read-write)")
	f.StringVar(&o.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.StringVar(&o.trace, "trace", "", "append how long each step of each group takes to this file, one JSON line per step (default: $"+trace.EnvVar+")")
}

// openTrace opens the trace file --trace or LECI_TRACE names; nil when
// neither does.
func (o *globalOptions) openTrace() (*trace.Recorder, error) {
	if o.trace != "" {
		return trace.Open(o.trace)
	}
	return trace.FromEnv()
}

// registerRunnerFlags adds the flags of a command that runs groups itself
// (daemon, run): what a group may do and the limits every group gets.
func (o *globalOptions) registerRunnerFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&o.allowPrivileged, "allow-privileged", false,
		"accept containers with SecurityContextPrivileged (every capability, the host's devices, no seccomp: root on the host)")
	f.Int64Var(&o.pidsLimit, "pids-limit", runtime.DefaultPidsLimit, "most processes and threads a group may have (its cgroup's pids.max; 0: no limit)")
	f.Float64Var(&o.defaultGroupMemory, "default-group-memory", float64(runtime.DefaultGroupMemory)/(1<<30),
		"memory ceiling in GiB of a group whose request gives no Memory, raised to its containers' own limits (0: unlimited)")
	f.StringArrayVar(&o.cdiSpecDirs, "cdi-spec-dir", gpu.DefaultSpecDirs(), "directory of CDI specs describing the devices a container's Gpu counts (repeatable)")
	f.StringVar(&o.gpuKind, "gpu-kind", gpu.DefaultKind, "kind (vendor/class) of the CDI devices a container's Gpu counts")
}

func (o *globalOptions) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// connect dials containerd as the flags say.
func (o *globalOptions) connect(ctx context.Context, log *slog.Logger) (*containerd.Conn, error) {
	conn, err := containerd.Connect(ctx, containerd.Config{Address: o.containerd, Namespace: o.namespace, Root: o.root}, log)
	if err != nil {
		return nil, fmt.Errorf("containerd: %w", err)
	}
	return conn, nil
}

// hostConfig is the configuration of leci's parts the flags give.
func (o *globalOptions) hostConfig(backoff runtime.Backoff) host.Config {
	cfg := host.Config{
		Root: o.root, Runtime: o.runtime, DockerHost: o.dockerHost, Containerd: o.containerd, Namespace: o.namespace,
		Bridge: o.bridge, Subnet: o.subnet, CNIBinDirs: o.cniBinDirs, CgroupRoot: o.cgroupRoot, Backoff: backoff,
		HostPathAllow: o.hostPathAllow, AllowPrivileged: o.allowPrivileged,
		PidsLimit: o.pidsLimit, DefaultGroupMemoryBytes: int64(o.defaultGroupMemory * (1 << 30)),
		Subnet6: o.subnet6, MTU: o.mtu, CNIConfDir: o.cniConfDir, CNINetwork: o.cniNetwork,
		Firewall: o.cniFirewall, PublishPorts: o.publishPorts, PublishAddress: o.publishAddress,
		CDISpecDirs: o.cdiSpecDirs, GPUKind: o.gpuKind,
	}
	cfg.HostPathDeny = append(cfg.HostPathDeny, o.hostPathDeny...)
	if o.containerd != containerd.AutoAddress {
		// The directory of the containerd socket leci uses is never a
		// HostPath: mounting it would hand containerd to a container.
		cfg.HostPathDeny = append(cfg.HostPathDeny, filepath.Dir(o.containerd))
	}
	if sock, ok := strings.CutPrefix(o.dockerHost, "unix://"); ok && o.runtime != host.RuntimeContainerd {
		// Nor the Docker socket, for the same reason.
		cfg.HostPathDeny = append(cfg.HostPathDeny, sock)
	}
	return cfg
}
