package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/internal/trace"
	"leci/pod"
	"leci/probes"
)

// group is one container group and its supervisor. The supervisor
// goroutine is the only writer of st; readers take snapshots under mu.
type group struct {
	e   *Engine
	id  string
	dir string
	req *api.CreateContainerGroupRequest
	log *slog.Logger

	mu       sync.Mutex
	st       GroupStatus
	watchers map[chan GroupStatus]struct{}

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	exits  chan exitEvent
	// restarts carries RestartContainerGroup requests to the supervisor;
	// each is answered on its channel.
	restarts chan chan error
	// probeUpdates carries the changes of the probes' results.
	probeUpdates chan probes.Update
	// killReasons is why leci killed a container run (by backend ID), when
	// a reason of its own should end it: FailedPostStartHook.
	killReasons map[string]string

	// Owned by the supervisor goroutine; copied into the status's Host
	// once setup is done.
	sandbox   pod.Sandbox
	sandboxMu sync.Mutex // app containers start concurrently
	network   pod.Network
	etc       pod.EtcPaths
	volumes   map[string]string
	images    map[string]*imagePull

	// ahead holds the runs being created ahead of their starts (by
	// backend ID, *aheadCreate); each start takes its own over once.
	// aheads counts the creations under way.
	ahead  sync.Map
	aheads sync.WaitGroup
	// netReady is closed once the group's network is set up (netErr nil)
	// or failed to be: a run created ahead is prepared for its start
	// (StartPreparer) only then, since runc's create mounts the /etc files
	// that carry the address. Replaced by setup, which closes it.
	netReady chan struct{}
	netErr   error

	deleteOnce sync.Once
	deleteErr  error
	removals   sync.WaitGroup // background removals of ended runs
	gone       chan struct{}  // closed when delete has finished

	// ended are runs that exited and are to be removed once the starts
	// that follow are done; owned by the supervisor goroutine.
	ended []string
}

type exitEvent struct {
	init    bool
	index   int
	attempt int
	exit    pod.Exit
}

// imagePull is the first pull of an image by the group, started for all
// images at once so that pulls overlap with the sandbox's creation.
type imagePull struct {
	done chan struct{}
	mu   sync.Mutex
	err  error // once done is closed; a later pull that works clears it
}

func (p *imagePull) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *imagePull) setResult(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

func newGroup(e *Engine, id, dir string, req *api.CreateContainerGroupRequest) *group {
	now := e.opts.Now()
	ctx, cancel := context.WithCancel(trace.WithGroup(trace.WithRecorder(context.Background(), e.opts.Trace), id))
	g := &group{
		e: e, id: id, dir: dir, req: req,
		log:      e.log.With("group", id),
		watchers: map[chan GroupStatus]struct{}{},
		ctx:      ctx, cancel: cancel,
		done:     make(chan struct{}),
		exits:    make(chan exitEvent, len(req.Container)+len(req.InitContainer)),
		images:   map[string]*imagePull{},
		gone:     make(chan struct{}),
		restarts: make(chan chan error),

		probeUpdates: make(chan probes.Update, 16),
		killReasons:  map[string]string{},
		netReady:     make(chan struct{}),
	}
	close(g.netReady) // set up already, unless setup says otherwise
	g.st = GroupStatus{ID: id, Request: req, Phase: api.GroupPending, CreatedAt: now}
	waiting := ContainerState{State: api.StateWaiting, Reason: ReasonContainerCreating}
	for _, c := range req.InitContainer {
		g.st.InitContainers = append(g.st.InitContainers, ContainerStatus{Name: c.Name, Init: true, Current: waiting})
	}
	if len(req.InitContainer) > 0 {
		waiting.Reason = ReasonPodInitializing
	}
	for _, c := range req.Container {
		g.st.Containers = append(g.st.Containers, ContainerStatus{Name: c.Name, Current: waiting})
	}
	return g
}

func (g *group) start() { go g.run() }

func (g *group) snapshot() GroupStatus {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st.clone()
}

// update changes the status and tells the watchers.
func (g *group) update(fn func(st *GroupStatus)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	fn(&g.st)
	snap := g.st.clone()
	if r := g.e.opts.Recorder; r != nil {
		// Under the lock, so that saves keep the order of the changes.
		if err := r.Save(snap); err != nil {
			g.log.Error("save group status", "err", err)
		}
	}
	for ch := range g.watchers {
		select { // keep only the latest for a slow reader
		case <-ch:
		default:
		}
		ch <- snap
	}
}

func (g *group) watch(ctx context.Context) <-chan GroupStatus {
	ch := make(chan GroupStatus, 1)
	g.mu.Lock()
	g.watchers[ch] = struct{}{}
	ch <- g.st.clone()
	g.mu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-g.done:
			// The supervisor is gone; the group is being deleted (or the
			// engine shut down). Wait for the deletion to finish, so the
			// last status is sent, unless the watcher leaves first.
			select {
			case <-g.gone:
			case <-ctx.Done():
			}
		}
		g.mu.Lock()
		delete(g.watchers, ch)
		close(ch)
		g.mu.Unlock()
	}()
	return ch
}

// run is the supervisor of a new group: set it up, then supervise.
func (g *group) run() {
	defer close(g.done)
	for {
		err := g.setup(g.ctx)
		if err == nil {
			break
		}
		// The backend went away in the middle (containerd stopped): what
		// was set up is undone and set up again once it is back, rather
		// than failing a group that was accepted.
		if g.e.Available(g.ctx) == nil {
			g.setupFailed(err)
			return
		}
		g.update(func(st *GroupStatus) {
			st.event(g.e.opts.Now(), "Warning", "FailedCreatePodSandBox", "", err.Error()+" (set up again once the container runtime is back)")
		})
		if !g.e.awaitAvailable(g.ctx, g.log) {
			g.setupFailed(err)
			return
		}
		g.dropAhead()
		g.teardownHost(g.ctx)
	}
	g.supervise()
}

func (g *group) setupFailed(err error) {
	if g.ctx.Err() == nil {
		g.log.Error("group setup failed", "err", err)
		g.update(func(st *GroupStatus) {
			now := g.e.opts.Now()
			st.Phase, st.Message, st.FailedAt = api.GroupFailed, err.Error(), now
			st.event(now, "Warning", "FailedCreatePodSandBox", "", err.Error())
		})
	}
	<-g.ctx.Done()
}

// resume is the supervisor of a group adopted after a restart of leci:
// a group whose setup had finished gets its sandbox back (the running one
// is adopted) and its running containers watched again, not restarted;
// one whose setup had not finished has it undone and done again.
func (g *group) resume() {
	defer close(g.done)
	host := g.snapshot().Host
	if !host.SetUp {
		g.teardownHost(g.ctx)
		if err := g.setup(g.ctx); err != nil {
			g.setupFailed(err)
			return
		}
		g.supervise()
		return
	}
	g.network, g.etc, g.volumes = host.Network, host.Etc, host.Volumes
	snap := g.snapshot()
	if err := g.e.net.Check(g.ctx, g.id); err != nil {
		switch {
		case errors.Is(err, pod.ErrNetNSGone) && snap.Terminal():
			// An ended group needs no network: its address is released.
			if err := g.e.net.Teardown(g.ctx, g.id); err != nil {
				g.log.Warn("release the network of an ended group", "err", err)
			}
		case errors.Is(err, pod.ErrNetNSGone) && !g.ownsNetNS():
			// The namespace went, and every process of the group with
			// it (the host rebooted): the group gets a new network, and
			// its old address is released. (A runtime that owns the
			// namespace reports the loss at the sandbox's start.)
			if err := g.renewNetwork(g.ctx); err != nil {
				g.setupFailed(err)
				return
			}
		default:
			// The containers keep what they have; a new setup would take
			// their address away. Say so, and go on.
			g.log.Warn("network check failed", "err", err)
			g.update(func(st *GroupStatus) {
				st.event(g.e.opts.Now(), "Warning", "NetworkCheckFailed", "", err.Error())
			})
		}
	}
	for _, ref := range g.imageRefs() {
		// Pulled before the restart; each start checks again.
		p := &imagePull{done: make(chan struct{}), err: errCheckAgain}
		close(p.done)
		g.images[ref.image] = p
	}
	sb, err := g.e.backend.StartSandbox(g.ctx, g.sandboxConfig())
	if errors.Is(err, ErrSandboxLost) && g.ownsNetNS() {
		// The running sandbox could not be adopted in the recorded
		// namespace: it is gone, and so is the namespace the runtime gave it.
		g.log.Warn("sandbox not adoptable; starting a new one with a new network", "err", err)
		sb, err = g.renewSandbox(g.ctx)
	}
	if err != nil {
		g.setupFailed(fmt.Errorf("sandbox: %w", err))
		return
	}
	g.sandbox = sb
	g.update(func(st *GroupStatus) { st.Host.Sandbox = sb })
	g.reconcile()
	snap = g.snapshot()
	for _, list := range []struct {
		init bool
		cs   []ContainerStatus
	}{{true, snap.InitContainers}, {false, snap.Containers}} {
		for i, c := range list.cs {
			if c.Current.State != api.StateRunning {
				continue
			}
			ch, err := g.e.backend.WaitContainer(g.ctx, c.ID)
			if err != nil {
				g.log.Warn("container lost while leci was away", "container", c.Name, "err", err)
				lost := make(chan pod.Exit, 1)
				lost <- pod.Exit{Code: 255, FinishedAt: g.e.opts.Now()}
				close(lost)
				ch = lost
			}
			g.watchExit(list.init, i, c.Attempt, trace.Span{}, ch)
			if !list.init {
				g.startProbes(&g.req.Container[i], c.Attempt, c.ID, c.Current.StartedAt)
			}
		}
	}
	g.supervise()
}

var errCheckAgain = errors.New("image not checked since leci started")

// reconcile brings the recorded status in line with the containers the
// backend holds, for the window in which leci stopped between starting a
// container and recording it: a run found running that the status does not
// know is adopted as the current one; runs found stopped that are not the
// current one are removed.
func (g *group) reconcile() {
	found, err := g.e.backend.ListContainers(g.ctx, g.id)
	if err != nil {
		g.log.Warn("list the group's containers", "err", err)
		return
	}
	snap := g.snapshot()
	for _, f := range found {
		if f.Kind != pod.KindInit && f.Kind != pod.KindApp {
			continue
		}
		init := f.Kind == pod.KindInit
		list := snap.Containers
		if init {
			list = snap.InitContainers
		}
		i := slices.IndexFunc(list, func(c ContainerStatus) bool { return c.Name == f.Name })
		if i < 0 {
			g.removeContainer(f.ID)
			continue
		}
		c := list[i]
		known := c.Attempt == f.Attempt && c.Current.State == api.StateRunning
		switch {
		case known:
		case f.Running && f.Attempt >= c.Attempt:
			g.log.Info("adopting a run leci had not recorded", "container", f.Name, "attempt", f.Attempt)
			g.update(func(st *GroupStatus) {
				c := statusOf(st, init, i)
				c.Attempt, c.ID, c.Started, c.NextStart = f.Attempt, f.ID, true, time.Time{}
				c.Current = ContainerState{State: api.StateRunning, StartedAt: g.e.opts.Now()}
			})
		default:
			g.removeContainer(f.ID)
		}
	}
}

// supervise plans and acts until the group is deleted.
func (g *group) supervise() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var deadline <-chan time.Time
	if d := g.req.ActiveDeadlineSeconds; d > 0 && g.snapshot().ExpiredAt.IsZero() {
		// Counted from the group's creation, so that it holds across a
		// restart of leci too.
		t := time.NewTimer(max(g.st.CreatedAt.Add(time.Duration(d)*time.Second).Sub(g.e.opts.Now()), 0))
		defer t.Stop()
		deadline = t.C
	}
	var usage <-chan time.Time
	if hasSizeLimitedDisk(g.req.Volume) {
		t := time.NewTicker(usagePeriod)
		defer t.Stop()
		usage = t.C
	}
	over := map[string]bool{}
	for {
		acts := g.round()
		var wake <-chan time.Time
		if !acts.WakeAt.IsZero() {
			timer.Reset(max(acts.WakeAt.Sub(g.e.opts.Now()), 0))
			wake = timer.C
		}
		select {
		case <-g.ctx.Done():
			return
		case ev := <-g.exits:
			g.exited(ev)
		case <-wake:
		case <-deadline:
			deadline = nil
			g.expire()
		case reply := <-g.restarts:
			reply <- g.restartAll()
		case <-usage:
			g.checkUsage(over)
		case u := <-g.probeUpdates:
			g.probed(u)
		}
	}
}

// usagePeriod is how often disk EmptyDir volumes are measured.
const usagePeriod = 30 * time.Second

func hasSizeLimitedDisk(vols []api.Volume) bool {
	for _, v := range vols {
		if e := v.EmptyDirVolume; v.Type == api.VolumeEmptyDir && e != nil && e.SizeLimit != "" && e.Medium == "" {
			return true
		}
	}
	return false
}

// checkUsage reports a disk EmptyDir over its SizeLimit once, and again
// after it went back under.
func (g *group) checkUsage(over map[string]bool) {
	now := map[string]bool{}
	for _, o := range g.e.vols.Usage(filepath.Join(g.dir, "volumes"), g.req.Volume) {
		now[o.Volume] = true
		if !over[o.Volume] {
			g.update(func(st *GroupStatus) {
				st.event(g.e.opts.Now(), "Warning", "VolumeSizeExceeded", "", o.String())
			})
		}
	}
	clear(over)
	for v := range now {
		over[v] = true
	}
}

// expire ends a group whose ActiveDeadlineSeconds has passed: every
// container is stopped within the grace period, nothing restarts, and the
// group is Expired.
func (g *group) expire() {
	now := g.e.opts.Now()
	msg := fmt.Sprintf("group was active longer than its deadline of %ds", g.req.ActiveDeadlineSeconds)
	g.update(func(st *GroupStatus) {
		st.ExpiredAt, st.Message = now, msg
		st.event(now, "Warning", ReasonDeadlineExceeded, "", msg)
		for _, c := range append(st.InitContainers, st.Containers...) {
			if c.Current.State == api.StateRunning {
				st.event(now, "Normal", "Killing", c.Name, "Stopping container "+c.Name+": deadline exceeded")
			}
		}
	})
	g.stopAll(g.ctx)
	g.recordStopped(2 * time.Second)
}

// stopAll stops every running container of the group within the grace
// period, concurrently, and returns the errors.
func (g *group) stopAll(ctx context.Context) []error {
	grace := time.Duration(*g.req.TerminationGracePeriodSeconds) * time.Second
	snap := g.snapshot()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	g.e.probes.StopAll(g.id)
	for _, c := range append(snap.InitContainers, snap.Containers...) {
		if c.Current.State != api.StateRunning {
			continue
		}
		kind := pod.KindApp
		if c.Init {
			kind = pod.KindInit
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := g.stopContainer(ctx, c.Name, kind, c.ID, grace)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errs
}

// round plans and starts what can start until nothing more can, then
// records the phase. It returns the last plan.
func (g *group) round() Actions {
	for {
		st := g.snapshot()
		acts := Plan(&st, g.e.opts.Now())
		if acts.StartInit < 0 && len(acts.StartApps) == 0 {
			g.setPhase(acts.Phase)
			g.removeEnded()
			return acts
		}
		if g.ctx.Err() != nil {
			g.removeEnded()
			return acts
		}
		if acts.StartInit >= 0 {
			g.startContainer(true, acts.StartInit)
			continue
		}
		var wg sync.WaitGroup
		for _, i := range acts.StartApps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g.startContainer(false, i)
			}()
		}
		wg.Wait()
	}
}

// removeEnded removes, in the background, the ended runs exited recorded.
func (g *group) removeEnded() {
	for _, id := range g.ended {
		g.removals.Add(1)
		go func() {
			defer g.removals.Done()
			g.removeContainer(id)
		}()
	}
	g.ended = nil
}

func (g *group) setPhase(phase api.GroupStatus) {
	g.mu.Lock()
	same := g.st.Phase == phase
	g.mu.Unlock()
	if same {
		return
	}
	g.update(func(st *GroupStatus) {
		now := g.e.opts.Now()
		st.Phase = phase
		switch phase {
		case api.GroupRunning:
			if st.StartedAt.IsZero() {
				st.StartedAt = now
			}
		case api.GroupSucceeded:
			st.SucceededAt = now
		case api.GroupFailed:
			st.FailedAt = now
		case api.GroupExpired:
			st.event(now, "Normal", "Expired", "", "group expired")
		}
	})
	g.log.Info("group phase", "phase", phase)
}

// setup makes what the containers need, in order: images (pulled in the
// background), the network, the /etc files, the volumes, the sandbox.
// What it made is removed by delete, which undoes every step whether or not
// it ran.
func (g *group) setup(ctx context.Context) error {
	auth := imageAuth(g.req)
	for _, ref := range g.imageRefs() {
		p := &imagePull{done: make(chan struct{})}
		g.images[ref.image] = p
		go func() {
			defer close(p.done)
			g.update(func(st *GroupStatus) {
				st.event(g.e.opts.Now(), "Normal", "Pulling", "", "Pulling image "+ref.image)
			})
			start := time.Now()
			sp := trace.Begin(ctx, "image.ensure "+ref.image)
			err := g.e.backend.EnsureImage(ctx, ref.image, ref.policy, auth)
			p.setResult(err)
			sp.End(err)
			if err == nil {
				g.update(func(st *GroupStatus) {
					st.event(g.e.opts.Now(), "Normal", "Pulled", "", fmt.Sprintf("Image %s is present (%s)", ref.image, time.Since(start).Round(time.Millisecond)))
				})
			}
		}()
	}
	owns := g.ownsNetNS()
	var netDone chan networkResult
	if !owns {
		// CNI ADD runs while the volumes, the sandbox and the first
		// containers (and their tasks) are made: they need the
		// namespace's path, not its address. The /etc files exist from
		// the start, bind mounted by the tasks made meanwhile, and are
		// filled in place with the address once it is known; the
		// containers start only after that.
		var err error
		if g.etc, err = g.e.net.WriteEtcFiles(filepath.Join(g.dir, "etc"), etcFiles(g.req, pod.Network{})); err != nil {
			return fmt.Errorf("write /etc files: %w", err)
		}
		g.network = pod.Network{NetNSPath: g.e.net.NetNSPath(g.id)}
		netDone = make(chan networkResult, 1)
		ready := make(chan struct{})
		g.netReady = ready
		go func() {
			nw, etc, err := g.connectNetwork(ctx, nil, g.e.net.FillEtcFiles)
			g.netErr = err
			close(ready)
			netDone <- networkResult{nw, etc, err}
		}()
	}
	err := g.setupLocal(ctx)
	if netDone != nil {
		// Whatever setupLocal did, the network's setup must have ended
		// before setup returns: delete undoes both.
		r := <-netDone
		err = errors.Join(err, r.err)
		if r.err == nil {
			g.network, g.etc = r.nw, r.etc
		}
	}
	if err != nil {
		return err
	}
	if owns {
		if err := g.attachNetwork(ctx, &g.sandbox); err != nil {
			return err
		}
	}
	g.update(func(st *GroupStatus) {
		st.Host = HostState{SetUp: true, Network: g.network, Etc: g.etc, Volumes: g.volumes, Sandbox: g.sandbox}
	})
	return nil
}

type networkResult struct {
	nw  pod.Network
	etc pod.EtcPaths
	err error
}

// setupLocal makes the volumes, the sandbox and, when the network is made
// alongside, the containers that start first. It must not touch g.network
// or g.etc, which the network's setup sets meanwhile.
func (g *group) setupLocal(ctx context.Context) error {
	owns := g.ownsNetNS()
	var err error
	sp := trace.Begin(ctx, "volumes.prepare")
	g.volumes, err = g.e.vols.Prepare(ctx, filepath.Join(g.dir, "volumes"), g.req.Volume)
	sp.End(err)
	if err != nil {
		return fmt.Errorf("volumes: %w", err)
	}
	cfg := g.sandboxConfig()
	if !owns {
		cfg.NetNSPath = g.e.net.NetNSPath(g.id)
	}
	sp = trace.Begin(ctx, "sandbox.start")
	g.sandbox, err = g.e.backend.StartSandbox(ctx, cfg)
	sp.End(err)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	if !owns {
		g.precreate(ctx)
	}
	return nil
}

// precreate starts creating the containers that start first (the first
// init container, or else the app containers) while the network is being
// set up, so that their starts wait for nothing but it. A container whose
// environment needs the group's address is left to its start.
func (g *group) precreate(ctx context.Context) {
	snap := g.snapshot()
	acts := Plan(&snap, g.e.opts.Now())
	if acts.StartInit >= 0 {
		g.createAhead(ctx, true, []int{acts.StartInit}, aheadDuringSetup)
		// And what follows it, made ready while it is.
		g.createNext(acts.StartInit, aheadDuringSetup)
	} else {
		g.createAhead(ctx, false, acts.StartApps, aheadDuringSetup)
	}
}

// createNext starts creating the containers that follow init container i
// (the next init container, or the app containers), while it runs: only
// their starts wait for its exit. A container that mounts a SubPath is
// left to its start: the path is resolved when the container is created,
// and init container i may still make or change it.
func (g *group) createNext(i int, when aheadWhen) {
	when |= aheadAfterInit
	if i+1 < len(g.req.InitContainer) {
		g.createAhead(g.ctx, true, []int{i + 1}, when)
		return
	}
	apps := make([]int, len(g.req.Container))
	for j := range apps {
		apps[j] = j
	}
	g.createAhead(g.ctx, false, apps, when)
}

// aheadWhen says when a run is created ahead of its start, which decides
// what it may not depend on.
type aheadWhen int

const (
	// aheadDuringSetup: the group's address is not known yet, so a
	// container whose environment holds it is left to its start.
	aheadDuringSetup aheadWhen = 1 << iota
	// aheadAfterInit: an init container runs (or will) before this one
	// starts and may still make the SubPath it mounts, which is resolved
	// at create: such a container is left to its start.
	aheadAfterInit
)

// prepareAhead takes run id, created ahead, up to its start, where the
// backend can (StartPreparer): while CNI ADD runs, unless the run's create
// needs the network (netSysctls). It reports whether the run is still to
// be started: one that could not be prepared is removed, for its start to
// make it anew and report why.
func (g *group) prepareAhead(ctx context.Context, id string, ready <-chan struct{}) bool {
	p, ok := g.e.backend.(StartPreparer)
	if !ok {
		return true
	}
	if netSysctls(g.req) {
		select {
		case <-ready:
		case <-ctx.Done():
			return true // the start, if any, finds the container as created
		}
		if g.netErr != nil {
			return true // setup fails; delete removes it
		}
	}
	if err := p.PrepareStart(ctx, id); err != nil {
		g.log.Debug("preparing a start ahead failed; the start tries again", "id", id, "err", err)
		g.removeContainer(id)
		return false
	}
	return true
}

// aheadCreate is a container being created ahead of its start.
type aheadCreate struct {
	done chan struct{}
	sb   pod.Sandbox // the sandbox it was created in
	ok   bool        // set before done is closed
}

// createAhead creates, in the background, the next run of each container
// idx of the kind init, for its start to take over (takeAhead), and
// prepares its start where the backend can (prepareAhead). The
// configurations are made here, on the caller's goroutine, which owns the
// group's fields; the goroutines only wait for the image and the network
// and call the backend. A run that fails to be created here is removed,
// and created again (with its error reported) by its start. when says
// which containers are left to their starts (aheadWhen).
func (g *group) createAhead(ctx context.Context, init bool, idx []int, when aheadWhen) {
	snap := g.snapshot()
	sb := g.sandbox
	ready := g.netReady
	for _, i := range idx {
		spec, app := g.containerSpec(init, i)
		if when&aheadDuringSetup != 0 && usesPodIP(spec) || when&aheadAfterInit != 0 && mountsSubPath(spec) {
			continue
		}
		attempt := statusOf(&snap, init, i).Attempt + 1
		id := containerID(g.id, spec.Name, attempt)
		if _, made := g.ahead.Load(id); made {
			// Made already: its configuration is not made again (that
			// would remove the log its log writer may hold open).
			continue
		}
		cfg, err := g.containerConfig(spec, app, init, attempt, id)
		if err != nil {
			continue // the start reports it
		}
		f := &aheadCreate{done: make(chan struct{}), sb: sb}
		g.ahead.Store(id, f)
		pull := g.images[spec.Image]
		g.aheads.Add(1)
		go func() {
			defer g.aheads.Done()
			defer close(f.done)
			// The group's first pull of the image; a failed one is left
			// to the start, which pulls again and reports it.
			select {
			case <-pull.done:
			case <-ctx.Done():
				return
			}
			if pull.result() != nil {
				return
			}
			sp := trace.Begin(ctx, "container.create "+spec.Name)
			err := g.e.backend.CreateContainer(ctx, sb, cfg)
			sp.End(err)
			if err != nil {
				g.log.Debug("create ahead of start failed; the start tries again", "container", spec.Name, "err", err)
				g.undoCreate(id, err)
				return
			}
			f.ok = g.prepareAhead(ctx, id, ready)
		}()
	}
}

// takeAhead tells whether run id was created ahead of its start in sb, and
// is to be started as it is. One created in another sandbox (it was
// replaced meanwhile) is removed, for the start to create it anew.
func (g *group) takeAhead(id string, sb pod.Sandbox) bool {
	v, ok := g.ahead.LoadAndDelete(id)
	if !ok {
		return false
	}
	f := v.(*aheadCreate)
	select {
	case <-f.done:
	case <-g.ctx.Done():
		return false
	}
	if !f.ok {
		return false
	}
	if f.sb.PID != sb.PID || f.sb.NetNSPath != sb.NetNSPath || f.sb.IPCPath != sb.IPCPath || f.sb.UTSPath != sb.UTSPath || f.sb.PIDPath != sb.PIDPath {
		g.removeContainer(id)
		return false
	}
	return true
}

// dropAhead removes the runs created ahead that no start took over (the
// group is restarted from its first init container).
func (g *group) dropAhead() {
	g.aheads.Wait()
	g.ahead.Range(func(k, v any) bool {
		g.ahead.Delete(k)
		if v.(*aheadCreate).ok {
			g.removeContainer(k.(string))
		}
		return true
	})
}

// mountsSubPath tells whether a container mounts part of a volume.
func mountsSubPath(spec *api.ContainerCommon) bool {
	for _, m := range spec.VolumeMount {
		if m.SubPath != "" {
			return true
		}
	}
	return false
}

// usesPodIP tells whether a container's environment holds the group's
// address, known only once the network is set up.
func usesPodIP(spec *api.ContainerCommon) bool {
	for _, e := range spec.EnvironmentVar {
		if e.FieldRef != nil && e.FieldRef.FieldPath == api.FieldPathPodIP {
			return true
		}
	}
	return false
}

// containerID is the backend ID of a container's run.
func containerID(groupID, name string, attempt int) string {
	return fmt.Sprintf("%s-%s-%d", groupID, name, attempt)
}

// ownsNetNS tells whether the backend makes the sandbox's network namespace
// itself (NetNSOwner), so that the network is attached after the sandbox
// starts rather than made before it.
func (g *group) ownsNetNS() bool {
	o, ok := g.e.backend.(NetNSOwner)
	return ok && o.OwnsNetNS()
}

// attachNetwork gives the group its network and writes the /etc files
// that carry its address, as connectNetwork, and keeps them.
func (g *group) attachNetwork(ctx context.Context, sb *pod.Sandbox) error {
	nw, etc, err := g.connectNetwork(ctx, sb, g.e.net.WriteEtcFiles)
	if err != nil {
		return err
	}
	g.network, g.etc = nw, etc
	return nil
}

// connectNetwork gives the group its network and writes the /etc files
// that carry its address with writeEtc. With sb nil the network gets a new namespace
// (the sandbox is started in it, or joins it by path); otherwise it goes
// into the namespace of the running sandbox sb, whose NetNSPath then
// becomes the pinned path, which stands for that namespace from here on.
func (g *group) connectNetwork(ctx context.Context, sb *pod.Sandbox, writeEtc func(dir string, f pod.EtcFiles) (pod.EtcPaths, error)) (nw pod.Network, etc pod.EtcPaths, err error) {
	sp := trace.Begin(ctx, "network.setup")
	defer func() { sp.End(err) }()
	switch {
	case sb == nil:
		nw, err = g.e.net.Setup(ctx, g.id, networkOptions(g.req))
	case sb.NetNSPath == "":
		err = errors.New("the sandbox reports no network namespace to attach to")
	default:
		nw, err = g.e.net.SetupIn(ctx, g.id, networkOptions(g.req), sb.NetNSPath)
		sb.NetNSPath = nw.NetNSPath
	}
	if err != nil {
		return pod.Network{}, pod.EtcPaths{}, fmt.Errorf("network: %w", err)
	}
	g.update(func(st *GroupStatus) { st.IPv4, st.IPv6 = nw.IPv4, nw.IPv6 })
	esp := trace.Begin(ctx, "etc.write")
	etc, err = writeEtc(filepath.Join(g.dir, "etc"), etcFiles(g.req, nw))
	esp.End(err)
	if err != nil {
		return pod.Network{}, pod.EtcPaths{}, fmt.Errorf("write /etc files: %w", err)
	}
	return nw, etc, nil
}

// renewSandbox replaces a lost sandbox for a NetNSOwner backend. Its network
// namespace went with it (or is no longer the sandbox's), and a new sandbox
// gets a new one from the runtime, so the group's network is torn down and
// attached again to the new namespace; the address may change, and the /etc
// files are written anew. The caller holds sandboxMu, or runs before
// anything else of the group does.
func (g *group) renewSandbox(ctx context.Context) (pod.Sandbox, error) {
	if err := g.e.net.Teardown(ctx, g.id); err != nil {
		return pod.Sandbox{}, fmt.Errorf("network: %w", err)
	}
	g.network = pod.Network{}
	sb, err := g.e.backend.StartSandbox(ctx, g.sandboxConfig())
	if err != nil {
		return pod.Sandbox{}, err
	}
	if err := g.attachNetwork(ctx, &sb); err != nil {
		return pod.Sandbox{}, err
	}
	g.update(func(st *GroupStatus) { st.Host.Network, st.Host.Etc = g.network, g.etc })
	return sb, nil
}

// renewNetwork gives a group whose network namespace is gone a new one,
// the old network torn down first so that its address is released; the
// sandbox is then started in the new namespace.
func (g *group) renewNetwork(ctx context.Context) error {
	g.log.Warn("network namespace gone; setting up a new network")
	if err := g.e.net.Teardown(ctx, g.id); err != nil {
		return fmt.Errorf("network: %w", err)
	}
	g.network = pod.Network{}
	if err := g.attachNetwork(ctx, nil); err != nil {
		return err
	}
	g.update(func(st *GroupStatus) {
		st.Host.Network, st.Host.Etc = g.network, g.etc
		st.event(g.e.opts.Now(), "Warning", "SandboxChanged", "", "Pod sandbox changed, it will be killed and re-created.")
	})
	return nil
}

// ensureSandbox starts the sandbox again when its process is gone, so that
// a container never tries to join namespaces that no longer exist.
func (g *group) ensureSandbox() (pod.Sandbox, error) {
	g.sandboxMu.Lock()
	defer g.sandboxMu.Unlock()
	if sandboxAlive(g.sandbox) {
		return g.sandbox, nil
	}
	g.log.Warn("sandbox process is gone; starting it again", "pid", g.sandbox.PID)
	var (
		sb  pod.Sandbox
		err error
	)
	if g.ownsNetNS() {
		sb, err = g.renewSandbox(g.ctx)
	} else {
		sb, err = g.e.backend.StartSandbox(g.ctx, g.sandboxConfig())
	}
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("restart sandbox: %w", err)
	}
	g.sandbox = sb
	g.update(func(st *GroupStatus) {
		st.Host.Sandbox = sb
		st.event(g.e.opts.Now(), "Warning", "SandboxChanged", "", "Pod sandbox changed, it will be killed and re-created.")
	})
	return sb, nil
}

// sandboxAlive tells whether containers can still join sb: its process
// runs, or it has none and its namespaces are files, which last until the
// group is deleted.
func sandboxAlive(sb pod.Sandbox) bool {
	if sb.PID > 0 {
		return unix.Kill(sb.PID, 0) != unix.ESRCH
	}
	return sb.IPCPath != ""
}

func (g *group) sandboxConfig() pod.SandboxConfig {
	return pod.SandboxConfig{
		GroupID:   g.id,
		Hostname:  hostname(g.req),
		NetNSPath: g.network.NetNSPath,
		SharePID:  g.req.ShareProcessNamespace,
		Sysctls:   sysctls(g.req),
		Resources: groupResources(g.req, g.e.opts),
		Labels:    map[string]string{pod.LabelGroupID: g.id},
	}
}

type imageRef struct{ image, policy string }

func (g *group) imageRefs() []imageRef {
	seen := map[string]bool{}
	var refs []imageRef
	add := func(c *api.ContainerCommon) {
		if !seen[c.Image] {
			seen[c.Image] = true
			refs = append(refs, imageRef{c.Image, c.ImagePullPolicy})
		}
	}
	for i := range g.req.InitContainer {
		add(&g.req.InitContainer[i].ContainerCommon)
	}
	for i := range g.req.Container {
		add(&g.req.Container[i].ContainerCommon)
	}
	return refs
}

// ensureImage waits for the group's first pull of the image; after a failed
// first pull, each start pulls again.
func (g *group) ensureImage(c *api.ContainerCommon) error {
	p := g.images[c.Image]
	select {
	case <-p.done:
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
	if p.result() == nil {
		return nil
	}
	err := g.e.backend.EnsureImage(g.ctx, c.Image, c.ImagePullPolicy, imageAuth(g.req))
	if err == nil {
		p.setResult(nil)
	}
	return err
}

func (g *group) containerSpec(init bool, i int) (*api.ContainerCommon, *api.Container) {
	if init {
		return &g.req.InitContainer[i].ContainerCommon, nil
	}
	return &g.req.Container[i].ContainerCommon, &g.req.Container[i]
}

func statusOf(st *GroupStatus, init bool, i int) *ContainerStatus {
	if init {
		return &st.InitContainers[i]
	}
	return &st.Containers[i]
}

// startContainer pulls, creates and starts one container. A failure leaves
// it waiting with the reason and a backoff, as the kubelet does.
func (g *group) startContainer(init bool, i int) {
	spec, app := g.containerSpec(init, i)
	snap := g.snapshot()
	cur := *statusOf(&snap, init, i)
	log := g.log.With("container", spec.Name)

	fail := func(reason string, err error) {
		log.Warn("container start failed", "reason", reason, "err", err)
		g.update(func(st *GroupStatus) {
			now := g.e.opts.Now()
			c := statusOf(st, init, i)
			c.Backoff++
			c.Current = ContainerState{State: api.StateWaiting, Reason: reason, Message: err.Error()}
			c.NextStart = now.Add(g.e.opts.Backoff.Delay(c.Backoff))
			st.event(now, "Warning", "Failed", spec.Name, err.Error())
		})
	}
	if err := g.ensureImage(spec); err != nil {
		switch {
		case errors.Is(err, pod.ErrImageNeverPull):
			fail(ReasonErrImageNeverPull, err)
		case cur.Current.Reason == ReasonErrImagePull || cur.Current.Reason == ReasonImagePullBackOff:
			fail(ReasonImagePullBackOff, err)
		default:
			fail(ReasonErrImagePull, err)
		}
		return
	}
	attempt := cur.Attempt + 1
	id := containerID(g.id, spec.Name, attempt)
	sb, err := g.ensureSandbox()
	if err != nil {
		fail(ReasonCreateContainerErr, err)
		return
	}
	// A run made ahead is started as it is: making its configuration
	// again would redo what it already uses (its log file, which its log
	// writer may hold open).
	if !g.takeAhead(id, sb) {
		cfg, cerr := g.containerConfig(spec, app, init, attempt, id)
		if cerr != nil {
			fail(ReasonCreateConfigError, cerr)
			return
		}
		sp := trace.Begin(g.ctx, "container.create "+spec.Name)
		err = g.e.backend.CreateContainer(g.ctx, sb, cfg)
		sp.End(err)
	}
	if err != nil {
		g.undoCreate(id, err)
		if errors.Is(err, pod.ErrCreateConfig) {
			fail(ReasonCreateConfigError, err)
		} else {
			fail(ReasonCreateContainerErr, err)
		}
		return
	}
	g.update(func(st *GroupStatus) {
		st.event(g.e.opts.Now(), "Normal", "Created", spec.Name, "Created container "+spec.Name)
	})
	sp := trace.Begin(g.ctx, "container.start "+spec.Name)
	exitCh, err := g.e.backend.StartContainer(g.ctx, id)
	sp.End(err)
	if err != nil {
		g.removeContainer(id)
		fail(ReasonRunContainerError, err)
		return
	}
	started := g.e.opts.Now()
	g.update(func(st *GroupStatus) {
		c := statusOf(st, init, i)
		c.Attempt, c.ID, c.Started, c.NextStart = attempt, id, true, time.Time{}
		c.Current = ContainerState{State: api.StateRunning, StartedAt: started}
		// A container without a readiness probe is ready once running.
		c.Ready = app != nil && app.ReadinessProbe == nil
		st.event(started, "Normal", "Started", spec.Name, "Started container "+spec.Name)
	})
	log.Debug("container started", "id", id, "attempt", attempt)
	g.watchExit(init, i, attempt, trace.Begin(g.ctx, "container.run "+spec.Name), exitCh)
	if init {
		g.createNext(i, 0)
	}
	if app == nil {
		return
	}
	target := g.startProbes(app, attempt, id, started)
	if h := app.PostStart(); h != nil {
		g.postStart(spec.Name, id, h, target)
	}
}

// startProbes starts the probe workers of an app container's run.
func (g *group) startProbes(app *api.Container, attempt int, id string, started time.Time) probes.Target {
	target := g.probeTarget(id, started)
	for kind, p := range map[probes.Kind]*api.Probe{probes.Readiness: app.ReadinessProbe, probes.Liveness: app.LivenessProbe} {
		if p != nil {
			g.e.probes.Start(g.e.ctx, probes.Key{GroupID: g.id, Container: app.Name, Attempt: attempt, Kind: kind}, p, target)
		}
	}
	return target
}

func (g *group) probeTarget(id string, started time.Time) probes.Target {
	g.sandboxMu.Lock() // renewSandbox may change the network
	nw := g.network
	g.sandboxMu.Unlock()
	return probes.Target{ContainerID: id, NetNSPath: nw.NetNSPath, IP: nw.IPv4, StartedAt: started}
}

// Bounds of lifecycle hooks: the output kept for the log, and the time a
// postStart hook may take.
const (
	maxHookOutput  = 4 << 10
	postStartLimit = 2 * time.Minute
	// minGraceAfterPreStop is what SIGTERM still gets when a preStop hook
	// took the whole grace period, as the kubelet gives it.
	minGraceAfterPreStop = 2 * time.Second
)

// postStart runs a container's postStart hook; when it fails the container
// is killed, with reason FailedPostStartHook, and the restart policy
// decides what follows.
func (g *group) postStart(name, id string, h *api.Handler, target probes.Target) {
	ctx, cancel := context.WithTimeout(g.ctx, postStartLimit)
	defer cancel()
	out, err := probes.RunHandler(ctx, g.e.backend, h, target, maxHookOutput)
	if err == nil {
		return
	}
	// The hook's output stays out of events, where a secret could leak.
	g.log.Warn("postStart hook failed", "container", name, "err", err, "output", out)
	g.mu.Lock()
	g.killReasons[id] = "FailedPostStartHook"
	g.mu.Unlock()
	g.update(func(st *GroupStatus) {
		st.event(g.e.opts.Now(), "Warning", "FailedPostStartHook", name, "PostStartHook failed: "+err.Error())
	})
	g.stopContainer(g.ctx, name, pod.KindApp, id, g.grace())
}

func (g *group) grace() time.Duration {
	return time.Duration(*g.req.TerminationGracePeriodSeconds) * time.Second
}

// stopContainer stops one container run: its preStop hook first (app
// containers), within the grace period, then SIGTERM with what is left of
// it, then SIGKILL.
func (g *group) stopContainer(ctx context.Context, name, kind, id string, grace time.Duration) error {
	if kind == pod.KindApp {
		if h := g.appSpec(name).PreStop(); h != nil {
			start := time.Now()
			hctx, cancel := context.WithTimeout(ctx, grace)
			out, err := probes.RunHandler(hctx, g.e.backend, h, g.probeTarget(id, time.Time{}), maxHookOutput)
			cancel()
			if err != nil {
				g.log.Warn("preStop hook failed", "container", name, "err", err, "output", out)
				g.update(func(st *GroupStatus) {
					st.event(g.e.opts.Now(), "Warning", "FailedPreStopHook", name, "PreStopHook failed: "+err.Error())
				})
			}
			grace = max(grace-time.Since(start), min(grace, minGraceAfterPreStop))
		}
	}
	return g.e.backend.StopContainer(ctx, id, grace)
}

func (g *group) appSpec(name string) *api.Container {
	for i := range g.req.Container {
		if g.req.Container[i].Name == name {
			return &g.req.Container[i]
		}
	}
	return &api.Container{}
}

// probed applies a change of a probe's result: readiness sets Ready, a
// failed liveness probe kills the container, and the restart policy
// decides what follows.
func (g *group) probed(u probes.Update) {
	snap := g.snapshot()
	for i, c := range snap.Containers {
		if c.Name != u.Container || c.Attempt != u.Attempt || c.Current.State != api.StateRunning {
			continue
		}
		effect := DecideProbe(u.Kind, u.Result)
		if effect.SetReady && c.Ready != effect.Ready {
			g.update(func(st *GroupStatus) { st.Containers[i].Ready = effect.Ready })
		}
		if effect.Kill {
			g.update(func(st *GroupStatus) {
				st.event(g.e.opts.Now(), "Normal", "Killing", c.Name, "Container "+c.Name+" failed liveness probe, will be restarted")
			})
			go g.stopContainer(g.ctx, c.Name, pod.KindApp, c.ID, g.grace())
		}
		return
	}
}

// watchExit hands the exit of a container's run to the supervisor; run,
// the span of the run, ends with it.
func (g *group) watchExit(init bool, i, attempt int, run trace.Span, exitCh <-chan pod.Exit) {
	go func() {
		ex, ok := <-exitCh
		run.End(nil)
		if !ok {
			ex = pod.Exit{Code: 255, FinishedAt: g.e.opts.Now()}
		}
		// The buffer holds one exit per container, and a container has one
		// run at a time: the send never blocks, and delete finds the exits
		// of the containers it stops here.
		g.exits <- exitEvent{init: init, index: i, attempt: attempt, exit: ex}
	}()
}

// exited records a container's exit and decides, with AfterExit, whether
// it restarts.
func (g *group) exited(ev exitEvent) {
	snap := g.snapshot()
	cur := statusOf(&snap, ev.init, ev.index)
	if cur.Attempt != ev.attempt || cur.Current.State != api.StateRunning {
		return
	}
	g.stopProbes(cur.Name, cur.Attempt)
	// The run is recorded first and removed in the background once the
	// starts it allows are done (round): what comes next (the next init
	// container, the app containers, the group's phase) neither waits for
	// the task's deletion nor shares the CPU with it. Delete removes
	// whatever is still there.
	g.ended = append(g.ended, cur.ID)
	now := g.e.opts.Now()
	term := g.terminated(ev.init, ev.index, cur, ev.exit)
	restart, at, backoff := AfterExit(g.req.RestartPolicy, ev.init, ev.exit.Code, cur, term.FinishedAt.Sub(term.StartedAt), g.e.opts.Backoff, now)
	restart = restart && snap.ExpiredAt.IsZero()
	g.update(func(st *GroupStatus) {
		c := statusOf(st, ev.init, ev.index)
		c.Ready = false
		if !restart {
			c.Current = term
			st.event(now, "Normal", "Terminated", c.Name, fmt.Sprintf("Container %s exited with code %d (%s)", c.Name, term.ExitCode, term.Reason))
			return
		}
		prev := term
		c.Previous = &prev
		c.RestartCount++
		c.Backoff = backoff
		c.NextStart = at
		if !at.After(now) {
			// A first exit restarts at once: no back-off to report.
			c.Current = ContainerState{State: api.StateWaiting}
			return
		}
		c.Current = ContainerState{State: api.StateWaiting, Reason: ReasonCrashLoopBackOff,
			Message: fmt.Sprintf("back-off %s restarting container %s", at.Sub(now).Round(time.Millisecond), c.Name)}
		st.event(now, "Warning", "BackOff", c.Name, "Back-off restarting container "+c.Name)
	})
}

// terminated is the state a run of c ended in, with its termination
// message.
func (g *group) terminated(init bool, i int, c *ContainerStatus, ex pod.Exit) ContainerState {
	finished := ex.FinishedAt
	if finished.IsZero() {
		finished = g.e.opts.Now()
	}
	spec, _ := g.containerSpec(init, i)
	reason := exitReason(ex)
	g.mu.Lock()
	if r, ok := g.killReasons[c.ID]; ok {
		reason = r
		delete(g.killReasons, c.ID)
	}
	g.mu.Unlock()
	return ContainerState{
		State: api.StateTerminated, ExitCode: ex.Code, Signal: ex.Signal,
		StartedAt: c.Current.StartedAt, FinishedAt: finished, Reason: reason,
		Message: g.terminationMessage(spec, c.Attempt, ex.Code),
	}
}

// recordStopped records the exits of the containers delete stopped, so the
// group's last status says how each ended; it waits at most timeout.
func (g *group) recordStopped(timeout time.Duration) {
	deadline := time.After(timeout)
	for {
		snap := g.snapshot()
		running := 0
		for _, c := range append(snap.InitContainers, snap.Containers...) {
			if c.Current.State == api.StateRunning {
				running++
			}
		}
		if running == 0 {
			return
		}
		select {
		case ev := <-g.exits:
			cur := *statusOf(&snap, ev.init, ev.index)
			if cur.Attempt != ev.attempt || cur.Current.State != api.StateRunning {
				continue
			}
			term := g.terminated(ev.init, ev.index, &cur, ev.exit)
			g.update(func(st *GroupStatus) {
				c := statusOf(st, ev.init, ev.index)
				if c.Attempt == ev.attempt && c.Current.State == api.StateRunning {
					c.Current, c.Ready = term, false
				}
			})
		case <-deadline:
			return
		}
	}
}

func exitReason(ex pod.Exit) string {
	switch {
	case ex.OOMKilled:
		return ReasonOOMKilled
	case ex.Code == 0:
		return ReasonCompleted
	}
	return ReasonError
}

func (g *group) stopProbes(name string, attempt int) {
	for _, kind := range []probes.Kind{probes.Readiness, probes.Liveness} {
		g.e.probes.Stop(probes.Key{GroupID: g.id, Container: name, Attempt: attempt, Kind: kind})
	}
}

// undoCreate removes what a failed create of run id may have made, unless
// the backend found the name taken by something not of the group
// (pod.ErrNameTaken), which is not the group's to remove.
func (g *group) undoCreate(id string, err error) {
	if !errors.Is(err, pod.ErrNameTaken) {
		g.removeContainer(id)
	}
}

// removeContainer removes a backend container on the group's behalf; a
// failure is logged, and delete removes whatever is left.
func (g *group) removeContainer(id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(g.ctx), time.Minute)
	defer cancel()
	sp := trace.Begin(ctx, "container.remove")
	err := g.e.backend.RemoveContainer(ctx, id)
	sp.End(err)
	if err != nil {
		g.log.Warn("remove container", "id", id, "err", err)
	}
}

// teardownHost undoes setup: the sandbox, the network and the volumes go
// at once (none needs another), each whether or not the others succeed.
func (g *group) teardownHost(ctx context.Context) error {
	return g.teardownAfter(ctx, nil)
}

// teardownAfter is teardownHost for a group whose containers are stopped
// but may not be removed yet: removeContainers, when not nil, removes
// them, and the sandbox (which holds their cgroups) and the volumes (which
// they mount) go once it is done, while the network goes at once.
func (g *group) teardownAfter(ctx context.Context, removeContainers func() error) error {
	removed := make(chan struct{})
	var removeErr error
	go func() {
		defer close(removed)
		if removeContainers != nil {
			removeErr = removeContainers()
		}
	}()
	steps := []struct {
		name        string
		needRemoved bool
		do          func() error
	}{
		{"sandbox.remove", true, func() error { return g.e.backend.RemoveSandbox(ctx, g.id) }},
		{"network.teardown", false, func() error { return g.e.net.Teardown(ctx, g.id) }},
		{"volumes.cleanup", true, func() error { return g.e.vols.Cleanup(ctx, filepath.Join(g.dir, "volumes")) }},
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if step.needRemoved {
				<-removed
			}
			sp := trace.Begin(ctx, step.name)
			errs[i] = step.do()
			sp.End(errs[i])
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, removeErr)...)
}

// eachContainer runs fn for every container of containers but the
// sandbox, all at once, and joins their errors.
func eachContainer(containers []pod.ContainerInfo, fn func(c pod.ContainerInfo) error) error {
	errs := make([]error, len(containers))
	var wg sync.WaitGroup
	for i, c := range containers {
		if c.Kind == pod.KindSandbox {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// delete stops the supervisor, then every container within the grace
// period, and removes everything the group made, each step whether or not
// the ones before it succeeded.
func (g *group) delete(ctx context.Context) error {
	g.deleteOnce.Do(func() {
		ctx = trace.WithGroup(trace.WithRecorder(ctx, g.e.opts.Trace), g.id)
		whole := trace.Begin(ctx, "group.delete")
		g.cancel()
		<-g.done
		g.aheads.Wait() // what they create is listed below
		g.e.probes.StopAll(g.id)
		g.update(func(st *GroupStatus) { st.Phase = api.GroupTerminating })
		grace := time.Duration(*g.req.TerminationGracePeriodSeconds) * time.Second
		var errs []error
		containers, err := g.e.backend.ListContainers(ctx, g.id)
		errs = append(errs, err)
		// Every running container stops first, all at once; until then the
		// group keeps its network (a preStop hook may need it).
		errs = append(errs, eachContainer(containers, func(c pod.ContainerInfo) error {
			if !c.Running {
				return nil // ended; maybe being removed in the background
			}
			sp := trace.Begin(ctx, "container.stop "+c.Name)
			err := g.stopContainer(ctx, c.Name, c.Kind, c.ID, grace)
			sp.End(err)
			return err
		}))
		g.recordStopped(2 * time.Second)
		// Then nothing runs in the group: the network goes while the
		// containers are removed. Only once everything under it is
		// unmounted may the group's directory go: removing through a
		// mount would delete what it shows (a host directory, say).
		err = g.teardownAfter(ctx, func() error {
			// After the removals of ended runs, which would race these.
			g.removals.Wait()
			return eachContainer(containers, func(c pod.ContainerInfo) error {
				sp := trace.Begin(ctx, "container.remove "+c.Name)
				err := g.e.backend.RemoveContainer(ctx, c.ID)
				sp.End(err)
				return err
			})
		})
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, os.RemoveAll(g.dir))
		}
		g.deleteErr = errors.Join(errs...)
		if r := g.e.opts.Recorder; r != nil && g.deleteErr == nil {
			if err := r.Remove(g.id); err != nil {
				g.deleteErr = err
			}
		}
		whole.End(g.deleteErr)
		close(g.gone)
	})
	return g.deleteErr
}

// restartAll restarts the group in place, as RestartContainerGroup does:
// every running container is stopped within the grace period, then the
// init containers run again, in order, and the app containers after them.
// Restart counts go up and each container keeps its last run as its
// previous state.
func (g *group) restartAll() error {
	snap := g.snapshot()
	if !snap.ExpiredAt.IsZero() {
		return fmt.Errorf("%s: %w", g.id, ErrExpired)
	}
	g.update(func(st *GroupStatus) {
		st.Phase = api.GroupRestarting
		st.event(g.e.opts.Now(), "Normal", "Restarting", "", "Restarting the group")
	})
	errs := g.stopAll(g.ctx)
	g.recordStopped(5 * time.Second)
	g.dropAhead()
	g.update(func(st *GroupStatus) {
		for _, list := range [][]ContainerStatus{st.InitContainers, st.Containers} {
			for i := range list {
				c := &list[i]
				if c.Started {
					prev := c.Current
					c.Previous = &prev
					c.RestartCount++
				}
				c.Current = ContainerState{State: api.StateWaiting, Reason: ReasonContainerCreating}
				c.NextStart, c.Ready = time.Time{}, false
			}
		}
		st.SucceededAt, st.FailedAt = time.Time{}, time.Time{}
	})
	return errors.Join(errs...)
}

// restart asks the supervisor to restart the group and waits for it.
func (g *group) restart(ctx context.Context) error {
	reply := make(chan error, 1)
	select {
	case g.restarts <- reply:
	case <-g.done:
		return fmt.Errorf("%s is being deleted: %w", g.id, ErrNotFound)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
