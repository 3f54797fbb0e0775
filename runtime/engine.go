package runtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"leci/api"
	"leci/internal/gpu"
	"leci/internal/pullprogress"
	"leci/internal/trace"
	"leci/pod"
	"leci/probes"
)

// ErrNotFound is returned for a group the engine does not know.
var ErrNotFound = errors.New("container group not found")

// Options configure an Engine.
type Options struct {
	// Root is leci's root directory; a group's files live in
	// <Root>/groups/<id>.
	Root    string
	Backoff Backoff
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Recorder, when set, is given every change of every group's status,
	// and told when a group is gone.
	Recorder Recorder
	// LogTail returns the last lines (at most bytes) of a container's log
	// once its writer is done: the termination message of a failed
	// container with FallbackToLogsOnError.
	LogTail func(path string, lines, bytes int) string
	// FollowLog writes what a container's log gets from now on to stdout
	// and stderr, by stream, until ctx is done or the log's writer is
	// (the run has ended); opened is called once the log is open. It is
	// what an attach shows (Attach); nil, there are no attaches.
	FollowLog func(ctx context.Context, path string, stdout, stderr io.Writer, opened func()) error
	// MetricsInterval is how often every running group's usage is sampled
	// for Metrics: DefaultMetricsInterval when 0; negative for never
	// (tests sample by hand).
	MetricsInterval time.Duration
	// MetricsHistory is how long a group's samples are kept:
	// DefaultMetricsHistory when 0.
	MetricsHistory time.Duration
	// Trace, when set, records how long each step of each group takes.
	Trace *trace.Recorder
	// AllowPrivileged lets requests have privileged containers
	// (CheckPrivileged); off, Create refuses them.
	AllowPrivileged bool
	// PidsLimit is every group cgroup's pids.max (0: no limit): a fork
	// bomb in a group stays in it.
	PidsLimit int64
	// DefaultMemoryBytes is the memory ceiling of a group whose request
	// gives no Memory (0: unlimited); see groupResources.
	DefaultMemoryBytes int64
	// GPUs are the CDI devices that containers' Gpu count; nil for none.
	GPUs *gpu.Pool
}

// Defaults of the limits every group gets (--pids-limit,
// --default-group-memory).
const (
	DefaultPidsLimit   = 4096
	DefaultGroupMemory = 4 << 30
)

// Recorder keeps the groups' status, so that leci can adopt them after a
// restart.
type Recorder interface {
	Save(st GroupStatus) error
	Remove(id string) error
}

// Engine runs container groups: one supervisor goroutine per group.
type Engine struct {
	backend Backend
	net     Networker
	vols    Volumes
	opts    Options
	log     *slog.Logger
	probes  *probes.Manager
	// ctx lives as long as the engine: probe workers run under it.
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex
	groups map[string]*group
	// addrs are the groups' PrivateIpAddresses.
	addrs addressBook
	// metrics holds each group's latest usage samples.
	metrics *metricStore
	// stdinSpent are the StdinOnce runs already attached to (attach.go).
	stdinSpent spentStdins
}

// New returns an engine on the given backend, network and volumes.
func New(backend Backend, net Networker, vols Volumes, opts Options, log *slog.Logger) *Engine {
	if opts.Backoff == (Backoff{}) {
		opts.Backoff = DefaultBackoff
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MetricsInterval == 0 {
		opts.MetricsInterval = DefaultMetricsInterval
	}
	if opts.MetricsHistory == 0 {
		opts.MetricsHistory = DefaultMetricsHistory
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Engine{backend: backend, net: net, vols: vols, opts: opts, log: log, groups: map[string]*group{}, ctx: ctx, cancel: cancel,
		metrics: newMetricStore(metricsSamples(opts.MetricsInterval, opts.MetricsHistory))}
	e.probes = probes.NewManager(backend, log, probes.Options{Observe: e.observeProbe})
	go e.dispatchProbes()
	if opts.MetricsInterval > 0 {
		go e.sampleMetricsLoop(opts.MetricsInterval)
	}
	return e
}

// dispatchProbes hands each change of a probe's result to its group's
// supervisor.
func (e *Engine) dispatchProbes() {
	for {
		select {
		case <-e.ctx.Done():
			return
		case u := <-e.probes.Updates():
			g, err := e.group(u.GroupID)
			if err != nil {
				continue
			}
			select {
			case g.probeUpdates <- u:
			case <-g.done:
			case <-e.ctx.Done():
				return
			}
		}
	}
}

// observeProbe records every failed probe as an Unhealthy event, as the
// kubelet does; the thresholds decide what follows.
func (e *Engine) observeProbe(u probes.Update) {
	if u.Result != probes.Failure {
		return
	}
	g, err := e.group(u.GroupID)
	if err != nil {
		return
	}
	g.update(func(st *GroupStatus) {
		st.event(e.opts.Now(), "Warning", "Unhealthy", u.Container, fmt.Sprintf("%s probe failed: %s", u.Kind, u.Message))
	})
}

// Create starts a group for a request that has been normalized (defaults
// applied and validated) and returns its id at once; the group comes up
// asynchronously, as in ECI. Watch or Get tell how it goes.
func (e *Engine) Create(ctx context.Context, req *api.CreateContainerGroupRequest) (string, error) {
	if errs := CheckPrivileged(req, e.opts.AllowPrivileged); len(errs) > 0 {
		return "", errs
	}
	if err := e.Available(ctx); err != nil {
		return "", err
	}
	id, err := newGroupID()
	if err != nil {
		return "", err
	}
	if err := e.addrs.reserve(id, req.PrivateIPAddress); err != nil {
		return "", err
	}
	dir := filepath.Join(e.opts.Root, "groups", id)
	g := newGroup(e, id, dir, req)
	noteUnapplied(&g.st, req, e.opts.Now())
	if err := e.reserveGPUs(g); err != nil {
		e.addrs.release(id)
		return "", err
	}
	// Recorded before anything is made for it and before its id is
	// answered: a crash of leci at any point neither loses an acknowledged
	// group nor leaves files no record knows.
	if r := e.opts.Recorder; r != nil {
		if err := r.Save(g.snapshot()); err != nil {
			e.addrs.release(id)
			e.releaseGPUs(id)
			return "", fmt.Errorf("record group %s: %w", id, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		if r := e.opts.Recorder; r != nil {
			r.Remove(id)
		}
		e.addrs.release(id)
		e.releaseGPUs(id)
		return "", fmt.Errorf("create group directory: %w", err)
	}
	e.mu.Lock()
	e.groups[id] = g
	e.mu.Unlock()
	g.pullFeed = pullprogress.TakeFeed(ctx)
	g.fresh.Store(true)
	g.start()
	return id, nil
}

// Adopt takes over a group recorded before leci restarted: its running
// containers are watched again, not restarted; a group that was being
// deleted is deleted; one whose setup had not finished is set up again.
func (e *Engine) Adopt(ctx context.Context, st GroupStatus) error {
	if st.Request == nil || st.ID == "" {
		return fmt.Errorf("adopt %q: no request recorded", st.ID)
	}
	dir := filepath.Join(e.opts.Root, "groups", st.ID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("group directory: %w", err)
	}
	g := newGroup(e, st.ID, dir, st.Request)
	g.st = st.clone()
	e.addrs.reserve(st.ID, st.Request.PrivateIPAddress)
	e.mu.Lock()
	e.groups[st.ID] = g
	e.mu.Unlock()
	if st.PendingUpdate != nil && st.Phase != api.GroupTerminating {
		e.adoptUpdating(g) // finish the update leci was killed in
		return nil
	}
	if st.Phase == api.GroupTerminating {
		go func() {
			// The supervisor was stopped by the delete that leci did not
			// finish; finish it.
			close(g.done)
			if err := e.Delete(context.WithoutCancel(ctx), st.ID); err != nil {
				g.log.Error("finish delete", "err", err)
			}
		}()
		return nil
	}
	go g.resume()
	return nil
}

// Shutdown stops supervising every group without touching it: its
// containers keep running, and a new engine can Adopt it. It is what a
// daemon does when it stops.
func (e *Engine) Shutdown() {
	e.mu.Lock()
	groups := make([]*group, 0, len(e.groups))
	for _, g := range e.groups {
		groups = append(groups, g)
	}
	e.groups = map[string]*group{}
	e.mu.Unlock()
	for _, g := range groups {
		g.cancel()
		<-g.done
		e.probes.StopAll(g.id)
	}
}

// Get returns a copy of a group's status.
func (e *Engine) Get(id string) (GroupStatus, error) {
	g, err := e.group(id)
	if err != nil {
		return GroupStatus{}, err
	}
	return g.snapshot(), nil
}

// List returns the status of every group.
func (e *Engine) List() []GroupStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]GroupStatus, 0, len(e.groups))
	for _, g := range e.groups {
		out = append(out, g.snapshot())
	}
	return out
}

// Watch returns a channel that receives the group's status each time it
// changes (a slow reader sees the latest), closed when ctx is done or the
// group is deleted.
func (e *Engine) Watch(ctx context.Context, id string) (<-chan GroupStatus, error) {
	g, err := e.group(id)
	if err != nil {
		return nil, err
	}
	return g.watch(ctx), nil
}

// Delete stops every container of the group (preStop aside, SIGTERM, the
// grace period, SIGKILL) and removes everything the group made. It is
// idempotent for a group being deleted.
func (e *Engine) Delete(ctx context.Context, id string) error {
	e.waitUpdate(ctx, id)
	g, err := e.group(id)
	if err != nil {
		return err
	}
	// Without the backend the containers could not be stopped, and tearing
	// the rest down under them would break them: the group stays as it is.
	if err := e.Available(ctx); err != nil {
		return err
	}
	err = g.delete(ctx)
	e.mu.Lock()
	delete(e.groups, id)
	e.mu.Unlock()
	e.addrs.release(id)
	e.releaseGPUs(id)
	e.metrics.drop(id)
	return err
}

func (e *Engine) group(id string) (*group, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.groups[id]
	if !ok {
		return nil, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	return g, nil
}

// newGroupID makes an id shaped as ECI's: "eci-" and 20 characters.
func newGroupID() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("group id: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "eci-" + string(b), nil
}

// ErrExpired is returned for a group past its ActiveDeadlineSeconds.
var ErrExpired = errors.New("container group has expired")

// Restart restarts every container of the group in place (init containers
// first), keeping its sandbox, network and volumes.
func (e *Engine) Restart(ctx context.Context, id string) error {
	g, err := e.group(id)
	if err != nil {
		return err
	}
	if err := e.Available(ctx); err != nil {
		return err
	}
	return g.restart(ctx)
}

// BackendGroups lists the groups the backend holds containers of, whether
// or not this engine knows them: what garbage collection must spare.
func (e *Engine) BackendGroups(ctx context.Context) (map[string]bool, error) {
	cs, err := e.backend.ListContainers(ctx, "")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, c := range cs {
		out[c.GroupID] = true
	}
	return out, nil
}

// ErrNotRunning is returned for an exec in a container that is not
// running, or an attach to a stdin that is closed: pod's, which the
// backends wrap.
var ErrNotRunning = pod.ErrNotRunning

// Exec runs cmd in a running container of a group ("" for the first app
// container) and returns how it ended.
func (e *Engine) Exec(ctx context.Context, id, container string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	g, err := e.group(id)
	if err != nil {
		return pod.ExecResult{}, err
	}
	st := g.snapshot()
	for _, c := range append(st.Containers, st.InitContainers...) {
		if container != "" && c.Name != container {
			continue
		}
		if c.Current.State != api.StateRunning {
			return pod.ExecResult{}, fmt.Errorf("%s/%s: %w", id, c.Name, ErrNotRunning)
		}
		if err := e.Available(ctx); err != nil {
			return pod.ExecResult{}, err
		}
		return e.backend.Exec(ctx, c.ID, cmd, maxOutput)
	}
	return pod.ExecResult{}, fmt.Errorf("container %s of %s: %w", container, id, ErrNotFound)
}

// ExecAttach runs an interactive command in a running container of a group
// ("" for the first app container), attached to eio, and returns its exit
// code; the lookup and its errors are Exec's.
func (e *Engine) ExecAttach(ctx context.Context, id, container string, eio pod.ExecIO) (int, error) {
	g, err := e.group(id)
	if err != nil {
		return 0, err
	}
	st := g.snapshot()
	for _, c := range append(st.Containers, st.InitContainers...) {
		if container != "" && c.Name != container {
			continue
		}
		if c.Current.State != api.StateRunning {
			return 0, fmt.Errorf("%s/%s: %w", id, c.Name, ErrNotRunning)
		}
		if err := e.Available(ctx); err != nil {
			return 0, err
		}
		return e.backend.ExecAttach(ctx, c.ID, eio)
	}
	return 0, fmt.Errorf("container %s of %s: %w", container, id, ErrNotFound)
}
