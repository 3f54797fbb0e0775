package containerd

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"leci/internal/cgroup"
	"leci/internal/pullprogress"
	"leci/internal/registries"
)

const (
	// DefaultCgroupRoot is the cgroup below which every group's cgroup lives.
	DefaultCgroupRoot = "/leci"
	// DefaultRuntime is containerd's runc shim, which can serve a whole
	// group from one process (see groupAnnotation).
	DefaultRuntime = "io.containerd.runc.v2"

	// groupAnnotation makes containerd's runc shim serve every container
	// whose spec carries the same value from one shim process: one shim per
	// group, not per container. containerd 1.6's shim reads it too.
	groupAnnotation = "io.containerd.runc.v2.group"

	// sandboxRootfsDir is the sandbox's root below the leci root.
	sandboxRootfsDir = "sandbox-rootfs"
	// sandboxCgroup is the sandbox's cgroup below the group's.
	sandboxCgroup = "sandbox"

	// cleanupTimeout bounds each rollback and removal step, which runs on a
	// context of its own so that a cancelled caller still cleans up.
	cleanupTimeout = 30 * time.Second
)

// BackendOptions configure a Backend. Zero fields take the defaults named.
type BackendOptions struct {
	// Root is leci's state directory; the sandbox's root filesystem lives
	// in Root/sandbox-rootfs. Default /var/lib/leci.
	Root string
	// LeciBinary is the static program put into the sandbox's root
	// filesystem as /leci and run as "/leci pause": leci-helper, or the
	// leci binary itself. Default: this process's executable.
	LeciBinary string
	// SandboxArgs is the sandbox's process. Default ["/leci", "pause"].
	SandboxArgs []string
	// SandboxRootfsFiles are the files of the sandbox's root filesystem,
	// path inside it to path on the host. Default {"/leci": LeciBinary}.
	SandboxRootfsFiles map[string]string
	// LogIO is where a container's stdout and stderr go, given its log
	// path: leci's log writer as the shim's binary logger (host.Open). No
	// default: a container with a log path cannot start without it.
	//
	// Not containerd's own file logger (cio.LogFile): when stdout and stderr
	// go to one file, the runc shim (copyPipes in pkg/process/io.go of 1.6,
	// cmd/containerd-shim-runc-v2/process/io.go since) hands stdout's copier
	// the file itself and stderr's a counting wrapper of it, so stdout's
	// copier closes the file as soon as stdout ends, and what stderr's
	// copier has yet to write is dropped ("error copying stderr"): a
	// container that prints an error and exits at once may leave an empty
	// log.
	LogIO func(path string) cio.Creator
	// CgroupRoot is the cgroup holding the groups' cgroups,
	// CgroupRoot/<group ID>. Default /leci.
	CgroupRoot string
	// Runtime is containerd's runtime for every container. Default
	// io.containerd.runc.v2.
	Runtime string
	// Registries is the host's registry configuration (mirrors, TLS, plain
	// HTTP, logins), for what a request's own credentials and registry
	// lists leave out; nil configures nothing.
	Registries *registries.Config
	// PullProgress, when not nil, is shown the layers of each pull (leci
	// run's terminal); nil runs no progress machinery.
	PullProgress pullprogress.Sink
}

func (o BackendOptions) withDefaults() (BackendOptions, error) {
	if o.Root == "" {
		o.Root = DefaultRoot
	}
	if o.LeciBinary == "" && o.SandboxRootfsFiles == nil {
		exe, err := os.Executable()
		if err != nil {
			return o, fmt.Errorf("find the leci binary: %w", err)
		}
		o.LeciBinary = exe
	}
	if len(o.SandboxArgs) == 0 {
		o.SandboxArgs = []string{"/leci", "pause"}
	}
	if o.SandboxRootfsFiles == nil {
		o.SandboxRootfsFiles = map[string]string{"/leci": o.LeciBinary}
	}
	if o.CgroupRoot == "" {
		o.CgroupRoot = DefaultCgroupRoot
	}
	if o.Runtime == "" {
		o.Runtime = DefaultRuntime
	}
	if !path.IsAbs(o.CgroupRoot) {
		return o, fmt.Errorf("cgroup root %q is not absolute", o.CgroupRoot)
	}
	for dest := range o.SandboxRootfsFiles {
		if !path.IsAbs(dest) || path.Clean(dest) != dest || dest == "/" {
			return o, fmt.Errorf("sandbox rootfs file %q: want a clean absolute path", dest)
		}
	}
	return o, nil
}

// Backend runs leci's groups on containerd: each group is a sandbox
// container (no image, no snapshot: a read-only root holding the leci
// binary) that holds the group's IPC, UTS and PID namespaces in the group's
// network namespace, and the group's containers, which join them; all of a
// group's containers sit below the group's cgroup and are served by one
// runc shim. It implements runtime.Backend.
type Backend struct {
	conn *Conn
	opts BackendOptions
	log  *slog.Logger
	cg   *cgroup.FS

	// rootfsMu serialises preparing the sandbox rootfs; rootfsSeen holds
	// what was last found current, so a start does not rehash the binary.
	rootfsMu   sync.Mutex
	rootfsSeen map[string]fileStamp

	// watchers count the exit watchers running, by container ID.
	// RemoveContainer waits for them, so that the OOM count is read before
	// the task and its cgroup go.
	watchersMu sync.Mutex
	watchers   map[string]*sync.WaitGroup

	// shims chooses the shim of each task of a group.
	shims *shimKeys

	// made holds the containers this process made that are yet to start.
	made madeContainers
	// stopped holds the containers whose exit this process saw, until
	// their removal.
	stopped stoppedContainers
	// leaseReleases follows the release of the lease of each create this
	// process made, until the container's removal (container ID →
	// *leaseRelease).
	leaseReleases sync.Map
}

// leaseRelease is the release of a create's lease, in the background.
type leaseRelease struct {
	done chan struct{}
	ok   bool // set before done is closed
}

// NewBackend returns a Backend on conn.
func NewBackend(conn *Conn, opts BackendOptions, log *slog.Logger) (*Backend, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	for dest, src := range opts.SandboxRootfsFiles {
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("sandbox rootfs file %s: %w", dest, err)
		}
	}
	cg, err := cgroup.Discover()
	if err != nil {
		return nil, err
	}
	return &Backend{
		conn:       conn,
		opts:       opts,
		log:        log,
		cg:         cg,
		rootfsSeen: map[string]fileStamp{},
		watchers:   map[string]*sync.WaitGroup{},
		shims:      newShimKeys(),
	}, nil
}

// sandboxID is the containerd ID of a group's sandbox container.
func sandboxID(groupID string) string { return groupID + "-sandbox" }

// groupCgroup is the cgroup of a group.
func (b *Backend) groupCgroup(groupID string) string {
	return path.Join(b.opts.CgroupRoot, groupID)
}

func (b *Backend) sandboxRootfsPath() string {
	return filepath.Join(b.opts.Root, sandboxRootfsDir)
}

// checkID refuses IDs that would escape a cgroup or file path. containerd
// checks the rest of its identifier rules itself.
func checkID(kind, id string) error {
	if id == "" || strings.ContainsAny(id, "/\\") || id == "." || id == ".." {
		return fmt.Errorf("%s ID %q: %w", kind, id, errdefs.ErrInvalidArgument)
	}
	return nil
}

// containerLabels are the labels of a container: the caller's, then leci's,
// which win, so that what leci finds its containers by cannot be forged.
func containerLabels(extra map[string]string, own map[string]string) map[string]string {
	labels := make(map[string]string, len(extra)+len(own))
	maps.Copy(labels, extra)
	maps.Copy(labels, own)
	return labels
}

// cleanupContext is a context for rollback and removal steps: it keeps
// ctx's values (namespace, logger) but not its cancellation, and is bounded.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
