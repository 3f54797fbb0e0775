package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/errdefs"
	clog "github.com/containerd/log"
	"github.com/opencontainers/go-digest"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"leci/pod"
)

const (
	// AutoAddress asks Connect to find or start a containerd.
	AutoAddress = "auto"
	// SystemAddress is where a containerd run by the host's init listens.
	SystemAddress = "/run/containerd/containerd.sock"
	// DefaultNamespace is the containerd namespace leci's images and
	// containers live in.
	DefaultNamespace = "leci"
	// DefaultRoot is leci's state directory.
	DefaultRoot = "/var/lib/leci"

	// snapshotter is containerd's default; leci's own containerd keeps only it.
	snapshotter = "overlayfs"

	// probeTimeout bounds the check that a socket answers, so that a stale
	// socket costs "auto" about a second and not a dial timeout.
	probeTimeout = time.Second

	// reconnectDelay caps the gRPC connection's wait between attempts to
	// reach a containerd that went away (the client's default is its dial
	// timeout, 10 s): leci is back in business about a second after
	// containerd is. A failed attempt on a unix socket costs next to nothing.
	reconnectDelay = time.Second
	// pingTimeout bounds Ping: containerd answers Version in well under a
	// millisecond, and an unreachable one fails at once.
	pingTimeout = 2 * time.Second
)

// Config says which containerd to use.
type Config struct {
	// Address is a containerd socket path (or unix:// address), or "auto":
	// the system containerd if it answers, else leci's own. Empty means auto.
	Address string
	// Namespace is the containerd namespace; empty means "leci".
	Namespace string
	// Root is leci's state directory; leci's own containerd lives in
	// Root/containerd. Empty means /var/lib/leci.
	Root string
}

func (c Config) withDefaults() Config {
	if c.Address == "" {
		c.Address = AutoAddress
	}
	if c.Namespace == "" {
		c.Namespace = DefaultNamespace
	}
	if c.Root == "" {
		c.Root = DefaultRoot
	}
	return c
}

// Conn is a connection to containerd in one namespace. It is safe for
// concurrent use.
type Conn struct {
	client    *client.Client
	address   string
	namespace string
	own       *ownDaemon // nil unless this is leci's own containerd
	log       *slog.Logger
	clientLog *logrus.Entry

	pulls   singleflight.Group
	pullsMu sync.Mutex
	flights map[string]*pullFlight

	// checked are the images Exists found present, by name, with when: a
	// create that follows within checkedFresh (the group's, a moment
	// later) takes the image from here, not from containerd again.
	checkedMu sync.Mutex
	checked   map[string]checkedImage
	// checkedGen counts the forgets: what an Exists found is kept only
	// if no image changed since it began.
	checkedGen uint64

	metasMu sync.Mutex
	metas   map[digest.Digest]imageMeta
	// metaFiles keeps the metas for the processes to come.
	metaFiles imageMetaFiles

	// shimSweep serialises RemoveOrphanShims.
	shimSweep sync.Mutex

	// closed is set by Close: the waits still under way then fail, and
	// that is no news.
	closed atomic.Bool
}

// Connect returns a connection to the containerd cfg names. With "auto" it may
// start leci's own containerd, which then outlives this process: Close does
// not stop it (StopOwn does).
func Connect(ctx context.Context, cfg Config, log *slog.Logger) (*Conn, error) {
	return connect(ctx, cfg, log, SystemAddress)
}

// connect is Connect with the system socket as a parameter, so that tests can
// exercise leci's own containerd on a host that runs a system one.
func connect(ctx context.Context, cfg Config, log *slog.Logger, systemAddress string) (*Conn, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Address != AutoAddress {
		cl, err := dial(ctx, cfg.Address, cfg.Namespace, 0)
		if err != nil {
			return nil, err
		}
		return newConn(cl, cfg.Address, cfg.Namespace, nil, log).keepingMetas(cfg.Root), nil
	}

	cl, err := dial(ctx, systemAddress, cfg.Namespace, probeTimeout)
	if err == nil {
		log.Debug("using system containerd", "address", systemAddress)
		return newConn(cl, systemAddress, cfg.Namespace, nil, log).keepingMetas(cfg.Root), nil
	}
	log.Debug("system containerd does not answer", "address", systemAddress, "err", err)
	return ConnectOwn(ctx, cfg, log)
}

// ConnectOwn returns a connection to leci's own containerd under cfg.Root,
// started if it is not running, whether or not a system containerd answers;
// cfg.Address is not used. It is "auto" without the system containerd, for
// tests that must stop and start the containerd they use.
func ConnectOwn(ctx context.Context, cfg Config, log *slog.Logger) (*Conn, error) {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	own, cl, err := ensureOwnDialled(ctx, filepath.Join(cfg.Root, "containerd"), cfg.Namespace, log)
	if err != nil {
		return nil, err
	}
	if cl == nil {
		if cl, err = dial(ctx, own.socket, cfg.Namespace, 0); err != nil {
			return nil, err
		}
	}
	return newConn(cl, own.socket, cfg.Namespace, own, log).keepingMetas(cfg.Root), nil
}

// keepingMetas has c keep its images' metas in files under leci's root.
func (c *Conn) keepingMetas(root string) *Conn {
	c.metaFiles = imageMetaFiles{dir: filepath.Join(root, "cache", "image-meta")}
	return c
}

func newConn(cl *client.Client, address, namespace string, own *ownDaemon, log *slog.Logger) *Conn {
	log = log.With("containerd", address, "namespace", namespace)
	return &Conn{
		client:    cl,
		address:   address,
		namespace: namespace,
		own:       own,
		log:       log,
		clientLog: clientLogger(log),
		flights:   make(map[string]*pullFlight),
	}
}

// dial connects to address and checks that containerd answers a Version call
// within timeout (or the client's default of 10 s when timeout is 0).
func dial(ctx context.Context, address, namespace string, timeout time.Duration) (*client.Client, error) {
	path := strings.TrimPrefix(address, "unix://")
	if fi, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("containerd socket %s: %w", path, err)
	} else if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("containerd socket %s: %w", path, errNotSocket)
	}
	// Every container leci makes names its runtime (BackendOptions.Runtime):
	// the client need not ask the namespace's labels for a default, a
	// round trip before the first create of each process.
	opts := []client.Opt{client.WithDefaultNamespace(namespace), client.WithDefaultRuntime(DefaultRuntime)}
	if timeout > 0 {
		opts = append(opts, client.WithTimeout(timeout))
	} else {
		timeout = 10 * time.Second
	}
	// The connection outlives a restart of containerd at the same address:
	// gRPC dials again by itself, at most reconnectDelay apart. These
	// parameters replace the client's (later dial options win).
	reconnect := backoff.DefaultConfig
	reconnect.BaseDelay = 100 * time.Millisecond
	reconnect.MaxDelay = reconnectDelay
	opts = append(opts, client.WithExtraDialOpts([]grpc.DialOption{
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: reconnect, MinConnectTimeout: timeout}),
	}))
	cl, err := client.New(address, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect to containerd at %s: %w", address, err)
	}
	vctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := cl.Version(vctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("containerd at %s does not answer: %w", address, err)
	}
	return cl, nil
}

// Client is the containerd client, for the parts of leci (containers, tasks)
// that use it directly. Calls need a context from WithNamespace or rely on the
// client's default namespace, which is the Conn's.
func (c *Conn) Client() *client.Client { return c.client }

// Namespace is the containerd namespace the Conn works in.
func (c *Conn) Namespace() string { return c.namespace }

// Address is the socket of the containerd in use.
func (c *Conn) Address() string { return c.address }

// Close closes the connection. leci's own containerd keeps running.
func (c *Conn) Close() error {
	c.closed.Store(true)
	if err := c.client.Close(); err != nil {
		return fmt.Errorf("close containerd connection: %w", err)
	}
	return nil
}

// WithNamespace returns ctx carrying the Conn's namespace, and a logger that
// sends what containerd's client library logs to the Conn's logger.
func (c *Conn) WithNamespace(ctx context.Context) context.Context {
	return namespaces.WithNamespace(clog.WithLogger(ctx, c.clientLog), c.namespace)
}

// Ping checks that containerd answers. When it does not (it stopped, or is
// restarting) the error wraps pod.ErrUnavailable: the engine then refuses
// what would need containerd, and the groups' containers run on under their
// shims. The connection comes back by itself once containerd does.
func (c *Conn) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if _, err := c.client.Version(ctx); err != nil {
		return fmt.Errorf("%w: containerd at %s does not answer (%v)", pod.ErrUnavailable, c.address, err)
	}
	return nil
}

// ownCheckPeriod is how often SuperviseOwn looks at leci's own containerd.
const ownCheckPeriod = 2 * time.Second

// SuperviseOwn starts leci's own containerd again, at the same address,
// when its process has died, until ctx is done; the connection then comes
// back by itself. It returns at once for a containerd that is not leci's own
// (the system's, or one given by address), which leci never starts. The
// daemon runs it, as k3s supervises its containerd; one-shot commands do
// not need to.
func (c *Conn) SuperviseOwn(ctx context.Context) {
	if c.own == nil {
		return
	}
	t := time.NewTicker(ownCheckPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Only a dead process is replaced: a containerd that runs but does
		// not answer (busy, starting) is waited for by ensureOwn.
		if _, running := c.own.runningPID(); running || c.Ping(ctx) == nil {
			continue
		}
		c.log.Warn("own containerd is gone; starting it again", "dir", c.own.dir)
		own, err := ensureOwn(ctx, c.own.dir, c.log)
		if err != nil {
			c.log.Error("start own containerd again", "err", err)
			continue
		}
		c.log.Info("own containerd is back", "pid", own.pid)
	}
}

// The engine asks the backend before what needs containerd.
var _ pod.Pinger = (*Backend)(nil)

// Ping tells whether containerd answers; see Conn.Ping.
func (b *Backend) Ping(ctx context.Context) error { return b.conn.Ping(ctx) }

// unreachable tells whether err says that containerd could not be reached
// (connection refused or dropped), as opposed to an answer from it.
func unreachable(err error) bool {
	return errdefs.IsUnavailable(err) || status.Code(err) == codes.Unavailable
}

// errNotSocket is returned by dial for a path that exists but is no socket.
var errNotSocket = errors.New("not a socket")
