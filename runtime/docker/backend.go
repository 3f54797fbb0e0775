package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"

	"leci/internal/cgroup"
	"leci/internal/pullprogress"
	"leci/internal/registries"
	"leci/pod"
)

const (
	// DefaultHost is the Engine's standard socket.
	DefaultHost = "unix:///var/run/docker.sock"
	// DefaultCgroupRoot is the cgroup below which every group's cgroup lives
	// (the containerd backend's default too).
	DefaultCgroupRoot = "/leci"
	// DefaultRoot is leci's state directory.
	DefaultRoot = "/var/lib/leci"

	// labelOwner holds the leci root a container belongs to: Docker has no
	// namespaces, and two roots may share one dockerd.
	labelOwner = "leci.owner"

	// sandboxUID is who the sandbox process runs as: nobody, with no
	// capabilities, since it only waits.
	sandboxUID = "65534:65534"

	// cleanupTimeout bounds each rollback and removal step, which runs on a
	// context of its own so that a cancelled caller still cleans up.
	cleanupTimeout = 30 * time.Second
	// logGrace bounds how long RemoveContainer waits for a container's log
	// writer to drain once the container is gone.
	logGrace = 5 * time.Second
)

// Options configure a Backend. Zero fields take the defaults named.
type Options struct {
	// Host is the Engine API address: unix:///path or tcp://host:port.
	// Default: DOCKER_HOST, else DefaultHost.
	Host string
	// Root is leci's state directory; it names the owner of the containers
	// (label leci.owner). Default /var/lib/leci.
	Root string
	// LeciBinary is the static program put into the sandbox image as
	// /leci and run as "/leci pause": leci-helper, or the leci binary
	// itself. Default: this process's executable.
	LeciBinary string
	// CgroupRoot is the cgroup holding the groups' cgroups,
	// CgroupRoot/<group ID>. Default /leci.
	CgroupRoot string
	// Registries is the host's registry configuration; Docker takes only
	// its logins, for hosts the request has none for (mirrors, TLS and
	// plain HTTP are dockerd's own settings). Nil: none.
	Registries *registries.Config
	// PullProgress, when not nil, is shown the messages of each pull as
	// dockerd sends them; nil shows nothing.
	PullProgress pullprogress.Sink
}

// ResolveHost is the Engine address leci uses for host: host itself, else
// DOCKER_HOST, else the standard socket.
func ResolveHost(host string) string {
	if host != "" {
		return host
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return DefaultHost
}

func (o Options) withDefaults() (Options, error) {
	o.Host = ResolveHost(o.Host)
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.LeciBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the leci binary: %w", err)
		}
		o.LeciBinary = exe
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = DefaultCgroupRoot
	}
	if !path.IsAbs(o.CgroupRoot) {
		return o, fmt.Errorf("cgroup root %q is not absolute", o.CgroupRoot)
	}
	return o, nil
}

// Backend runs leci's groups on a Docker Engine. It implements
// runtime.Backend and runtime.NetNSOwner.
type Backend struct {
	cli  *client.Client
	opts Options
	log  *slog.Logger
	cg   *cgroup.FS
	// version is the Engine's version, for Info.
	version string
	// privilegedCaps: see hostLimits; capsMu guards it, as capabilities
	// the Engine refuses are dropped from it.
	capsMu         sync.Mutex
	privilegedCaps []string

	pulls *pullGroup

	sandboxMu    sync.Mutex
	sandboxImage string // the last sandbox image found current
	sandboxStamp fileStamp

	// logWriters are the log writers running in this process, by container
	// name; RemoveContainer waits for them to drain.
	logMu      sync.Mutex
	logWriters map[string]chan struct{}
}

// ErrUnreachable is wrapped by New when the Engine does not answer.
var ErrUnreachable = errors.New("docker engine unreachable")

// New connects to the Engine and checks that it can run leci's groups.
func New(ctx context.Context, opts Options, log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(opts.LeciBinary); err != nil {
		return nil, fmt.Errorf("sandbox binary: %w", err)
	}
	// FromEnv for DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (a tcp:// Engine
	// with TLS); the address is the one resolved above.
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithHost(opts.Host), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", opts.Host, err)
	}
	b, err := newBackend(ctx, cli, opts, log)
	if err != nil {
		cli.Close()
		return nil, err
	}
	return b, nil
}

func newBackend(ctx context.Context, cli *client.Client, opts Options, log *slog.Logger) (*Backend, error) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Ping(pctx); err != nil {
		return nil, fmt.Errorf("%w at %s: %w", ErrUnreachable, opts.Host, err)
	}
	info, err := cli.Info(pctx)
	if err != nil {
		return nil, fmt.Errorf("docker info at %s: %w", opts.Host, err)
	}
	// The group cgroup is a cgroupfs path; the systemd driver wants a slice
	// name as cgroup parent, and would place containers elsewhere.
	if info.CgroupDriver != "" && info.CgroupDriver != "cgroupfs" {
		return nil, fmt.Errorf("docker at %s uses the %s cgroup driver; leci needs cgroupfs (dockerd --exec-opt native.cgroupdriver=cgroupfs, or \"exec-opts\" in daemon.json)", opts.Host, info.CgroupDriver)
	}
	cg, err := cgroup.Discover()
	if err != nil {
		return nil, err
	}
	return &Backend{
		cli:            cli,
		opts:           opts,
		log:            log,
		cg:             cg,
		version:        info.ServerVersion,
		privilegedCaps: boundedCapabilities(),
		pulls:          newPullGroup(),
		logWriters:     map[string]chan struct{}{},
	}, nil
}

// OwnsNetNS is true: Docker makes the sandbox's network namespace (network
// mode none), and the engine attaches leci's network to it afterwards.
func (b *Backend) OwnsNetNS() bool { return true }

// Host is the Engine address in use.
func (b *Backend) Host() string { return b.opts.Host }

// Version is the Engine's version and the API version negotiated.
func (b *Backend) Version() string {
	return fmt.Sprintf("%s (API %s)", b.version, b.cli.ClientVersion())
}

// Client is the Engine API client, for image commands.
func (b *Backend) Client() *client.Client { return b.cli }

// Close closes the client; groups keep running.
func (b *Backend) Close() error { return b.cli.Close() }

// sandboxName is the container name of a group's sandbox.
func sandboxName(groupID string) string { return groupID + "-sandbox" }

// groupCgroup is the cgroup of a group.
func (b *Backend) groupCgroup(groupID string) string {
	return path.Join(b.opts.CgroupRoot, groupID)
}

// checkID refuses IDs that would escape a cgroup path or are no valid
// container name ([a-zA-Z0-9][a-zA-Z0-9_.-]*).
func checkID(kind, id string) error {
	ok := id != ""
	for i, r := range id {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || r != '_' && r != '.' && r != '-') {
			ok = false
			break
		}
	}
	if !ok {
		return fmt.Errorf("%s ID %q: want [a-zA-Z0-9][a-zA-Z0-9_.-]*: %w", kind, id, errdefs.InvalidParameter(errors.New("invalid ID")))
	}
	return nil
}

// containerLabels are the labels of a container: the caller's, then leci's,
// which win, so that what leci finds its containers by cannot be forged.
func (b *Backend) containerLabels(extra, own map[string]string) map[string]string {
	labels := make(map[string]string, len(extra)+len(own)+1)
	maps.Copy(labels, extra)
	maps.Copy(labels, own)
	labels[labelOwner] = b.opts.Root
	return labels
}

// ownFilter selects this root's containers, of one group unless groupID is "".
func (b *Backend) ownFilter(groupID string) filters.Args {
	f := filters.NewArgs(filters.Arg("label", labelOwner+"="+b.opts.Root))
	if groupID != "" {
		f.Add("label", pod.LabelGroupID+"="+groupID)
	} else {
		f.Add("label", pod.LabelGroupID)
	}
	return f
}

// nameOf is a container's name as the Engine lists it ("/name").
func nameOf(names []string) string {
	for _, n := range names {
		n = strings.TrimPrefix(n, "/")
		if !strings.Contains(n, "/") {
			return n
		}
	}
	return ""
}

// cleanupContext is a context for rollback and removal steps: it keeps
// ctx's values but not its cancellation, and is bounded.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// pingTimeout bounds Ping: an Engine that does not answer within it is
// taken to be away.
const pingTimeout = 2 * time.Second

// Ping answers nil when the Engine answers, else an error wrapping
// pod.ErrUnavailable (pod.Pinger): while dockerd is away the daemon keeps
// serving reads and refuses writes, as with containerd.
func (b *Backend) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := b.cli.Ping(ctx); err != nil {
		return fmt.Errorf("%w: the Docker Engine at %s does not answer (%v)", pod.ErrUnavailable, b.opts.Host, err)
	}
	return nil
}

var _ pod.Pinger = (*Backend)(nil)
