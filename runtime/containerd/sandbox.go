package containerd

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/pod"
)

// StartSandbox creates the group's cgroup with the group's limits and starts
// the group's sandbox. A sandbox already running for the group (leci
// restarted) is adopted when it is in the same network namespace; one that
// is not running is removed and started anew.
func (b *Backend) StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (_ pod.Sandbox, retErr error) {
	if err := checkID("group", cfg.GroupID); err != nil {
		return pod.Sandbox{}, err
	}
	ctx = b.conn.WithNamespace(ctx)
	log := b.log.With("group", cfg.GroupID)
	id := sandboxID(cfg.GroupID)
	began := time.Now()

	if sb, ok, err := b.adoptSandbox(ctx, cfg); err != nil || ok {
		return sb, err
	}
	rootfs, err := b.ensureSandboxRootfs()
	if err != nil {
		return pod.Sandbox{}, err
	}

	groupCg := b.groupCgroup(cfg.GroupID)
	// Registered first: creating can fail half way.
	defer func() {
		if retErr != nil {
			if err := b.cg.RemoveTree(groupCg); err != nil {
				log.Warn("roll back group cgroup", "err", err)
			}
		}
	}()
	if err := b.cg.CreateGroup(groupCg, cfg.Resources); err != nil {
		return pod.Sandbox{}, fmt.Errorf("group %s: %w", cfg.GroupID, err)
	}

	cl := b.conn.Client()
	labels := containerLabels(cfg.Labels, map[string]string{
		pod.LabelGroupID: cfg.GroupID,
		pod.LabelKind:    pod.KindSandbox,
	})
	ctr, err := cl.NewContainer(ctx, id,
		client.WithRuntime(b.opts.Runtime, nil),
		client.WithContainerLabels(labels),
		client.WithNewSpec(sandboxSpecOpts(rootfs, b.opts.SandboxArgs, cfg, path.Join(groupCg, sandboxCgroup))...),
	)
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("create sandbox %s: %w", id, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := ctr.Delete(cctx); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("roll back sandbox container", "err", err)
			}
		}
	}()

	task, err := ctr.NewTask(ctx, cio.NullIO)
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("create sandbox task %s: %w", id, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if _, err := task.Delete(cctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("roll back sandbox task", "err", err)
			}
		}
	}()
	if err := task.Start(ctx); err != nil {
		return pod.Sandbox{}, fmt.Errorf("start sandbox %s: %w", id, err)
	}
	sb := b.sandboxOf(cfg, int(task.Pid()))
	log.Info("started sandbox", "pid", sb.PID, "took", time.Since(began).Round(time.Millisecond))
	return sb, nil
}

// sandboxOf describes the running sandbox of cfg whose process is pid.
func (b *Backend) sandboxOf(cfg pod.SandboxConfig, pid int) pod.Sandbox {
	return pod.SandboxAt(cfg.GroupID, pid, cfg.NetNSPath, b.groupCgroup(cfg.GroupID), cfg.SharePID)
}

// adoptSandbox returns the group's sandbox if it is running in cfg's
// network namespace. A sandbox that is not running is removed; one running
// elsewhere is an error, for the caller to remove it first.
func (b *Backend) adoptSandbox(ctx context.Context, cfg pod.SandboxConfig) (pod.Sandbox, bool, error) {
	id := sandboxID(cfg.GroupID)
	ctr, err := b.conn.Client().LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return pod.Sandbox{}, false, nil
	}
	if err != nil {
		return pod.Sandbox{}, false, fmt.Errorf("load sandbox %s: %w", id, err)
	}
	if task, err := ctr.Task(ctx, nil); err == nil {
		if st, err := task.Status(ctx); err == nil && st.Status == client.Running {
			spec, err := ctr.Spec(ctx)
			if err != nil {
				return pod.Sandbox{}, false, fmt.Errorf("sandbox %s: %w", id, err)
			}
			if got := namespacePath(spec, specs.NetworkNamespace); got != cfg.NetNSPath {
				return pod.Sandbox{}, false, fmt.Errorf("sandbox %s runs in network namespace %q, not %q: %w", id, got, cfg.NetNSPath, errdefs.ErrAlreadyExists)
			}
			b.log.Info("adopted running sandbox", "group", cfg.GroupID, "pid", task.Pid())
			return b.sandboxOf(cfg, int(task.Pid())), true, nil
		}
	}
	b.log.Info("removing stale sandbox", "group", cfg.GroupID)
	if err := b.removeContainer(ctx, ctr); err != nil {
		return pod.Sandbox{}, false, err
	}
	return pod.Sandbox{}, false, nil
}

func namespacePath(s *specs.Spec, t specs.LinuxNamespaceType) string {
	if s == nil || s.Linux == nil {
		return ""
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == t {
			return ns.Path
		}
	}
	return ""
}

// RemoveSandbox removes the group: containers of the group still there
// (the engine removes them first; this catches what a crash left), the
// sandbox, and the group's cgroup with everything below it. What is
// already gone is skipped, so a second call succeeds.
func (b *Backend) RemoveSandbox(ctx context.Context, groupID string) error {
	if err := checkID("group", groupID); err != nil {
		return err
	}
	ctx = b.conn.WithNamespace(ctx)
	log := b.log.With("group", groupID)
	cl := b.conn.Client()

	ctrs, err := cl.Containers(ctx, groupFilter(groupID))
	if err != nil {
		return fmt.Errorf("list containers of group %s: %w", groupID, err)
	}
	var errs []error
	var sandbox client.Container
	for _, c := range ctrs {
		if c.ID() == sandboxID(groupID) {
			sandbox = c
			continue
		}
		log.Warn("removing a container left in the group", "container", c.ID())
		errs = append(errs, b.removeContainer(ctx, c))
	}
	if sandbox != nil {
		errs = append(errs, b.removeContainer(ctx, sandbox))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := b.cg.RemoveTree(b.groupCgroup(groupID)); err != nil {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	log.Info("removed sandbox")
	return nil
}
