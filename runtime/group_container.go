package runtime

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"leci/api"
	"leci/internal/trace"
	"leci/pod"
	"leci/probes"
)

// containerID is the backend ID of a container's run.
func containerID(groupID, name string, attempt int) string {
	return fmt.Sprintf("%s-%s-%d", groupID, name, attempt)
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
		g.removed.Delete(cfg.ID) // an ID made again is no longer removed
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

// runKey names one run of a container of the group.
type runKey struct {
	init           bool
	index, attempt int
}

// runningRuns yields the run of each container that st says is running,
// with its key, init containers first.
func runningRuns(st *GroupStatus) iter.Seq2[runKey, ContainerStatus] {
	return func(yield func(runKey, ContainerStatus) bool) {
		for _, list := range []struct {
			init bool
			cs   []ContainerStatus
		}{{true, st.InitContainers}, {false, st.Containers}} {
			for i, c := range list.cs {
				if c.Current.State != api.StateRunning {
					continue
				}
				if !yield(runKey{list.init, i, c.Attempt}, c) {
					return
				}
			}
		}
	}
}

// watchExit hands the exit of a container's run to the supervisor; run,
// the span of the run, ends with it.
func (g *group) watchExit(init bool, i, attempt int, run trace.Span, exitCh <-chan pod.Exit) {
	g.mu.Lock()
	// The run before this one ended, and its exit was handled, before
	// this one started: only the latest run needs remembering.
	delete(g.watched, runKey{init, i, attempt - 1})
	g.watched[runKey{init, i, attempt}] = true
	g.mu.Unlock()
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

// watchUnwatched watches the exit of every run the status says is running
// and nothing watches yet: a resume that a delete cut short before it
// armed the waits leaves such runs, whose exits recordStopped would
// otherwise wait for in vain. One the backend no longer has is left as it
// is: its stop finds nothing to stop.
func (g *group) watchUnwatched(ctx context.Context) {
	snap := g.snapshot()
	for run, c := range runningRuns(&snap) {
		g.mu.Lock()
		watched := g.watched[run]
		g.mu.Unlock()
		if watched {
			continue
		}
		ch, err := g.e.backend.WaitContainer(ctx, c.ID)
		if err != nil {
			g.log.Debug("not watching a run the delete stops", "container", c.Name, "err", err)
			continue
		}
		g.watchExit(run.init, run.index, run.attempt, trace.Span{}, ch)
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
		return
	}
	g.removed.Store(id, struct{}{})
}
