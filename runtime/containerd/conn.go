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
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	clog "github.com/containerd/log"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/singleflight"
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
		return newConn(cl, cfg.Address, cfg.Namespace, nil, log), nil
	}

	cl, err := dial(ctx, systemAddress, cfg.Namespace, probeTimeout)
	if err == nil {
		log.Debug("using system containerd", "address", systemAddress)
		return newConn(cl, systemAddress, cfg.Namespace, nil, log), nil
	}
	log.Debug("system containerd does not answer", "address", systemAddress, "err", err)

	own, err := ensureOwn(ctx, filepath.Join(cfg.Root, "containerd"), log)
	if err != nil {
		return nil, err
	}
	cl, err = dial(ctx, own.socket, cfg.Namespace, 0)
	if err != nil {
		return nil, err
	}
	return newConn(cl, own.socket, cfg.Namespace, own, log), nil
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
	opts := []client.Opt{client.WithDefaultNamespace(namespace)}
	if timeout > 0 {
		opts = append(opts, client.WithTimeout(timeout))
	} else {
		timeout = 10 * time.Second
	}
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

// errNotSocket is returned by dial for a path that exists but is no socket.
var errNotSocket = errors.New("not a socket")
