package runtime

import (
	"context"
	"time"

	"leci/api"
	"leci/pod"
	"leci/probes"
)

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

func (g *group) stopProbes(name string, attempt int) {
	for _, kind := range []probes.Kind{probes.Readiness, probes.Liveness} {
		g.e.probes.Stop(probes.Key{GroupID: g.id, Container: name, Attempt: attempt, Kind: kind})
	}
}
