package runtime

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"leci/internal/trace"
	"leci/pod"
)

// setup makes what the containers need, in order: images (pulled in the
// background), the network, the /etc files, the volumes, the sandbox.
// What it made is removed by delete, which undoes every step whether or not
// it ran.
func (g *group) setup(ctx context.Context) error {
	auth := imageAuth(g.req)
	pullCtx, feed := g.pullContext(ctx)
	var pulls sync.WaitGroup
	for _, ref := range g.imageRefs() {
		p := &imagePull{done: make(chan struct{})}
		g.images[ref.image] = p
		pulls.Add(1)
		go func() {
			defer pulls.Done()
			defer close(p.done)
			g.update(func(st *GroupStatus) {
				st.event(g.e.opts.Now(), "Normal", "Pulling", "", "Pulling image "+ref.image)
			})
			start := time.Now()
			sp := trace.Begin(ctx, "image.ensure "+ref.image)
			err := g.e.backend.EnsureImage(pullCtx, ref.image, ref.policy, auth)
			p.setResult(err)
			sp.End(err)
			if err == nil {
				g.update(func(st *GroupStatus) {
					st.event(g.e.opts.Now(), "Normal", "Pulled", "", fmt.Sprintf("Image %s is present (%s)", ref.image, time.Since(start).Round(time.Millisecond)))
				})
			}
		}()
	}
	if feed != nil {
		go func() {
			pulls.Wait()
			feed.Close()
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
	cfg.New = g.fresh.Swap(false)
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
