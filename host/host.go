// Package host assembles leci's group engine from the real parts of this
// host: a container runtime (containerd, the system's or leci's own, or a
// Docker Engine), CNI networking, volumes, and leci's own small program,
// leci-helper, as the sandbox process and the log writer.
// The command line and the integration tests both start from here.
package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"

	"leci/api"
	"leci/internal/helper"
	"leci/internal/pullprogress"
	"leci/internal/registries"
	"leci/internal/trace"
	"leci/logs"
	"leci/network"
	"leci/runtime"
	"leci/runtime/containerd"
	"leci/runtime/docker"
	"leci/volumes"
)

// Runtimes, as Config.Runtime names them.
const (
	RuntimeContainerd = "containerd"
	RuntimeDocker     = "docker"
	RuntimeAuto       = "auto"
)

// Config says where leci keeps its state and which parts it uses.
type Config struct {
	// Root is leci's state directory (default /var/lib/leci).
	Root string
	// CDISpecDirs are where CDI specs are read (default /etc/cdi and
	// /var/run/cdi); GPUKind is the kind of device a container's Gpu
	// counts (default nvidia.com/gpu). See GPUs.
	CDISpecDirs []string
	GPUKind     string
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
	// LeciBinary is the static leci binary, the sandbox process and log
	// writer when there is no HelperBinary; default: this process's
	// executable.
	LeciBinary string
	// HelperBinary is the static program run as each group's sandbox
	// process and each container's log writer (with containerd; Docker's
	// containers log through leci itself); it takes the command lines
	// "pause" and "log-writer PATH". Default: the leci-helper this leci
	// carries, written out to Root/bin, or LeciBinary when this leci was
	// built without one.
	HelperBinary string
	// CgroupRoot holds the groups' cgroups (default /leci).
	CgroupRoot string
	Backoff    runtime.Backoff
	// HostPathAllow are the host path prefixes HostPath volumes may use,
	// each PATH (read-only), PATH:ro or PATH:rw (empty: any path not denied,
	// read-write); HostPathDeny are refused on top of leci's own state, the
	// runtimes' state and sockets and the host's system directories
	// (volumes.DefaultHostPathDeny, volumes.SystemHostPathDeny).
	HostPathAllow []string
	HostPathDeny  []string
	// AllowPrivileged lets requests have privileged containers
	// (--allow-privileged); off, they are refused with Forbidden.Privileged.
	AllowPrivileged bool
	// PidsLimit and DefaultGroupMemoryBytes are runtime.Options'
	// PidsLimit and DefaultMemoryBytes (0: no limit).
	PidsLimit               int64
	DefaultGroupMemoryBytes int64
	// MetricsInterval is how often the engine samples each group's usage
	// for DescribeContainerGroupMetric (runtime.Options.MetricsInterval):
	// 0 for the default, negative for never, as for `leci run`, which
	// answers no API.
	MetricsInterval time.Duration
	// MetricsHistory is how long those samples are kept
	// (runtime.Options.MetricsHistory): 0 for the default.
	MetricsHistory time.Duration
	// Recorder keeps the groups' status for a restarted leci (the daemon's
	// store); nil keeps nothing.
	Recorder runtime.Recorder
	// Registries is the host's registry configuration (the daemon's
	// registries and docker's config.json), for pulls where a request says
	// nothing of a registry; nil configures nothing. Used by containerd.
	Registries *registries.Config
	// PullProgress, when not nil, is shown the layers of each pull (leci
	// run); nil: pulls show nothing.
	PullProgress pullprogress.Sink
	// Trace, when set, records how long each step of each group takes
	// (internal/trace).
	Trace *trace.Recorder
}

// Volumes is the volume manager the configuration describes.
func (c Config) Volumes() *volumes.Manager {
	return volumes.New(volumes.Config{Root: c.Root, HostPathAllow: c.HostPathAllow, HostPathDeny: c.HostPathDeny})
}

// Check refuses, before anything is made, what this configuration does not
// allow in a valid request: privileged containers without AllowPrivileged,
// the volumes the volume manager refuses (volumes.Manager.Check), more
// vCPUs or memory than the host has, and a PrivateIpAddress the network
// cannot give.
func (c Config) Check(req *api.CreateContainerGroupRequest) api.Errors {
	errs := runtime.CheckPrivileged(req, c.AllowPrivileged)
	errs = append(errs, runtime.CheckHostResources(req)...)
	errs = append(errs, c.checkAddress(req)...)
	errs = append(errs, c.checkGPUs(req)...)
	return append(errs, c.Volumes().Check(req.Volume)...)
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
	Root string
	// Runtime is the runtime in use, RuntimeContainerd or RuntimeDocker
	// ("auto" resolved).
	Runtime string
	// Conn is the containerd connection; nil with Docker.
	Conn *containerd.Conn
	// Docker is the Docker backend; nil with containerd.
	Docker  *docker.Backend
	Network *network.Manager
	Volumes *volumes.Manager
	Engine  *runtime.Engine
}

// Open connects to the runtime Config.Runtime names and builds the engine.
//
// "auto" is containerd when containerd can be had, else Docker: it tries
// containerd.Connect at Config.Containerd first (with "auto" there, the
// system containerd if it answers, else leci's own, started on demand, so
// containerd wins wherever its binary is installed), and only when that
// fails the Docker Engine at DockerHost; when both fail, both errors are
// returned. The choice is made at each Open, so a daemon should be given
// an explicit runtime: groups it adopts after a restart must be found in
// the runtime that runs them.
func Open(ctx context.Context, cfg Config, log *slog.Logger) (_ *Host, retErr error) {
	if cfg.LeciBinary == "" {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find leci's own binary: %w", err)
		}
		cfg.LeciBinary = self
	}
	for _, rule := range cfg.HostPathAllow {
		if _, _, err := volumes.ParseHostPathAllow(rule); err != nil {
			return nil, err
		}
	}
	// leci's root holds the groups' volumes, logs and termination files:
	// no user of the host but root may enter it (a setuid program a
	// container left in a volume stays out of their reach), also where an
	// older leci made it 0711.
	root := cfg.Root
	if root == "" {
		root = containerd.DefaultRoot
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("create root: %w", err)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, fmt.Errorf("root: %w", err)
	}
	// runc --version is a process of its own (unless its answer is kept
	// under the root): it runs while the rest is opened, and its verdict
	// is awaited before Open answers.
	runcChecked := make(chan error, 1)
	go func() { runcChecked <- checkRunc(ctx, filepath.Join(root, "runc-version"), log) }()
	// The helper binary is checked (hashed, written if missing) while
	// containerd is dialled; only the backend needs it.
	helperFound := make(chan error, 1)
	if cfg.HelperBinary == "" {
		go func() {
			p, err := helper.Path(filepath.Join(root, "bin"), cfg.LeciBinary)
			cfg.HelperBinary = p
			helperFound <- err
		}()
	} else {
		helperFound <- nil
	}
	h := &Host{Root: cfg.Root}
	var backend runtime.Backend
	switch cfg.Runtime {
	case "", RuntimeContainerd, RuntimeAuto:
		conn, err := containerd.Connect(ctx, containerd.Config{Address: cfg.Containerd, Namespace: cfg.Namespace, Root: cfg.Root}, log)
		if err != nil && cfg.Runtime == RuntimeAuto {
			log.Info("containerd not reachable, trying Docker", "err", err)
			if herr := <-helperFound; herr != nil {
				return nil, herr
			}
			d, derr := openDocker(ctx, cfg, log)
			if derr != nil {
				return nil, fmt.Errorf("runtime auto: containerd: %w; docker: %w", err, derr)
			}
			h.Runtime, h.Docker, backend = RuntimeDocker, d, d
			break
		}
		if err != nil {
			return nil, fmt.Errorf("containerd: %w", err)
		}
		defer func() {
			if retErr != nil {
				conn.Close()
			}
		}()
		if err := <-helperFound; err != nil {
			return nil, err
		}
		prog := cfg.HelperBinary
		b, err := containerd.NewBackend(conn, containerd.BackendOptions{
			Root:         cfg.Root,
			LeciBinary:   prog,
			CgroupRoot:   cfg.CgroupRoot,
			Registries:   cfg.Registries,
			PullProgress: cfg.PullProgress,
			LogIO:        func(path string) cio.Creator { return cio.BinaryIO(prog, logs.BinaryArgs(path)) },
		}, log)
		if err != nil {
			return nil, err
		}
		h.Runtime, h.Conn, backend = RuntimeContainerd, conn, b
	case RuntimeDocker:
		if err := <-helperFound; err != nil {
			return nil, err
		}
		d, err := openDocker(ctx, cfg, log)
		if err != nil {
			return nil, err
		}
		h.Runtime, h.Docker, backend = RuntimeDocker, d, d
	default:
		return nil, fmt.Errorf("runtime %q: want containerd, docker or auto", cfg.Runtime)
	}
	if h.Docker != nil {
		defer func() {
			if retErr != nil {
				h.Docker.Close()
			}
		}()
	}
	// containerd's state may be anywhere its configuration puts it; a
	// HostPath there would hand the container every other one. Asked
	// while the network is opened.
	stateDirs := make(chan []string, 1)
	if h.Conn != nil {
		go func() { stateDirs <- h.Conn.StateDirs(ctx) }()
	} else {
		stateDirs <- nil
	}
	if h.Docker != nil {
		// Docker's data root may be anywhere (data-root in daemon.json);
		// a HostPath there would hand the container every other one.
		if info, err := h.Docker.Client().Info(ctx); err == nil && info.DockerRootDir != "" {
			cfg.HostPathDeny = append(slices.Clip(cfg.HostPathDeny), info.DockerRootDir)
		}
	}
	nm, err := network.New(cfg.NetworkConfig(), log)
	cfg.HostPathDeny = append(slices.Clip(cfg.HostPathDeny), <-stateDirs...)
	if err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	vm := cfg.Volumes()
	h.Network, h.Volumes = nm, vm
	h.Engine = runtime.New(backend, nm, vm, runtime.Options{Root: cfg.Root, Backoff: cfg.Backoff, LogTail: logTail, FollowLog: followLog, Recorder: cfg.Recorder, MetricsInterval: cfg.MetricsInterval, MetricsHistory: cfg.MetricsHistory,
		AllowPrivileged: cfg.AllowPrivileged, PidsLimit: cfg.PidsLimit, DefaultMemoryBytes: cfg.DefaultGroupMemoryBytes, Trace: cfg.Trace,
		GPUs: cfg.GPUs()}, log)
	if err := <-runcChecked; err != nil {
		return nil, err
	}
	return h, nil
}

func openDocker(ctx context.Context, cfg Config, log *slog.Logger) (*docker.Backend, error) {
	d, err := docker.New(ctx, docker.Options{Host: cfg.DockerHost, Root: cfg.Root, LeciBinary: cfg.HelperBinary, CgroupRoot: cfg.CgroupRoot, Registries: cfg.Registries, PullProgress: cfg.PullProgress}, log)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	return d, nil
}

// ImportImage loads images from a tar into the runtime in use: an OCI
// layout or docker-archive for containerd, a docker-archive for Docker
// (testimage.BuildArchive writes a tar both take). It returns the names.
func (h *Host) ImportImage(ctx context.Context, r io.Reader) ([]string, error) {
	if h.Docker != nil {
		return h.Docker.Import(ctx, r)
	}
	return h.Conn.Import(ctx, r)
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

// Close lets go of the runtime; groups keep running.
func (h *Host) Close() error {
	var errs []error
	if h.Conn != nil {
		errs = append(errs, h.Conn.Close())
	}
	if h.Docker != nil {
		errs = append(errs, h.Docker.Close())
	}
	return errors.Join(errs...)
}
