package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"leci/api"
	"leci/internal/pullprogress"
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
	// watched holds the runs whose exits are watched (watchExit), so that
	// a delete can watch the ones a cut-short resume left unwatched.
	watched map[runKey]bool

	// Owned by the supervisor goroutine; copied into the status's Host
	// once setup is done.
	sandbox   pod.Sandbox
	sandboxMu sync.Mutex // app containers start concurrently
	network   pod.Network
	etc       pod.EtcPaths
	volumes   map[string]string
	images    map[string]*imagePull
	// pullFeed, when a create asked for it (pullprogress.WithFeed), is
	// shown the first pulls of the group's images and closed once they
	// have ended.
	pullFeed *pullprogress.Feed

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
	// removed holds the backend IDs of the ended runs those removed (ID →
	// struct{}): the group's delete need not look for them again.
	removed sync.Map
	// fresh is set by Create and taken by the first setup: the group is
	// new, and nothing of it can exist in the runtime yet.
	fresh atomic.Bool

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
		watched:      map[runKey]bool{},
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
		g.undoCutShortSetup()
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

// undoCutShortSetup undoes what a setup cut short by the end of leci
// made, before it is done again: a setup refuses a network whose teardown
// did not finish. Many groups are undone at once after a restart, so a
// failed undo is tried again a few times, each failure logged.
func (g *group) undoCutShortSetup() {
	delay := 100 * time.Millisecond
	for try := 1; ; try++ {
		err := g.teardownHost(g.ctx)
		if err == nil || try == 5 || g.ctx.Err() != nil {
			if err != nil {
				g.log.Warn("undo a setup cut short", "try", try, "err", err)
			}
			return
		}
		g.log.Info("undo a setup cut short failed; trying again", "try", try, "err", err)
		select {
		case <-time.After(delay):
		case <-g.ctx.Done():
			return
		}
		delay *= 2
	}
}

// resume is the supervisor of a group adopted after a restart of leci:
// a group whose setup had finished gets its sandbox back (the running one
// is adopted) and its running containers watched again, not restarted;
// one whose setup had not finished has it undone and done again.
func (g *group) resume() {
	defer close(g.done)
	host := g.snapshot().Host
	if !host.SetUp {
		g.undoCutShortSetup()
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
		case g.ctx.Err() != nil:
			// The group is being deleted, which cut the check short:
			// the delete stops the containers and tears the network down.
			return
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
	if errors.Is(err, pod.ErrSandboxLost) && g.ownsNetNS() {
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
	for run, c := range runningRuns(&snap) {
		ch, err := g.e.backend.WaitContainer(g.ctx, c.ID)
		if err != nil && g.ctx.Err() != nil {
			// The group is being deleted: its delete stops the
			// container and records how it ended.
			return
		}
		if err != nil {
			g.log.Warn("container lost while leci was away", "container", c.Name, "err", err)
			lost := make(chan pod.Exit, 1)
			lost <- pod.Exit{Code: 255, FinishedAt: g.e.opts.Now()}
			close(lost)
			ch = lost
		}
		g.watchExit(run.init, run.index, run.attempt, trace.Span{}, ch)
		if !run.init {
			g.startProbes(&g.req.Container[run.index], c.Attempt, c.ID, c.Current.StartedAt)
		}
	}
	g.supervise()
}

// reconcile brings the recorded status in line with the containers the
// backend holds, for the window in which leci stopped between starting a
// container and recording it: a run found running that the status does not
// know is adopted as the current one; runs found stopped that are not the
// current one are removed.
func (g *group) reconcile() {
	found, err := g.e.backend.ListContainers(g.ctx, g.id)
	if err != nil {
		if g.ctx.Err() == nil {
			g.log.Warn("list the group's containers", "err", err)
		}
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
