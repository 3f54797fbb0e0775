package runtime

import (
	"context"

	"leci/api"
	"leci/internal/trace"
	"leci/pod"
)

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
			g.removed.Delete(cfg.ID)
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
