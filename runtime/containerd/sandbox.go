package containerd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/internal/nsfile"
	"leci/internal/trace"
	"leci/pod"
)

// StartSandbox creates the group's cgroup with the group's limits and the
// group's IPC and UTS namespaces, held as files (internal/nsfile) with the
// group's hostname set: containers join them by path, so no process has to
// run, or start, for them. Only a group that shares its PID namespace gets
// a sandbox process, the PID 1 of that namespace (a PID namespace ends with
// its first process), which joins the group's namespaces like any
// container.
//
// What a leci that stopped left is taken over (for a group that is not
// cfg.New, which has nothing to take over): namespaces already pinned
// are kept, a sandbox process running in the same network namespace is
// adopted, one that is not running is removed and started anew. A group
// whose sandbox process held its namespaces (as every group's did before
// namespaces were files) keeps it.
func (b *Backend) StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (_ pod.Sandbox, retErr error) {
	if err := checkID("group", cfg.GroupID); err != nil {
		return pod.Sandbox{}, err
	}
	ctx = b.conn.WithNamespace(ctx)
	log := b.log.With("group", cfg.GroupID)
	began := time.Now()

	if !cfg.New {
		if sb, ok, err := b.adoptSandbox(ctx, cfg); err != nil || ok {
			return sb, err
		}
	}
	groupCg := b.groupCgroup(cfg.GroupID)
	sp := trace.Begin(ctx, "sandbox.cgroup")
	rollbackCg, err := b.cg.CreateGroupRollback(groupCg, cfg.Resources, log)
	defer rollbackCg(&retErr)
	sp.End(err)
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("group %s: %w", cfg.GroupID, err)
	}
	ns := b.sandboxNamespaces(cfg.GroupID)
	if !ns.Pinned() {
		// A crash between the two pins leaves one: it holds nothing yet.
		if err := ns.Unpin(); err != nil {
			return pod.Sandbox{}, fmt.Errorf("group %s: %w", cfg.GroupID, err)
		}
		sp := trace.Begin(ctx, "sandbox.namespaces")
		err := nsfile.PinIPCUTS(ns, cfg.Hostname)
		sp.End(err)
		if err != nil {
			return pod.Sandbox{}, fmt.Errorf("group %s: %w", cfg.GroupID, err)
		}
		defer func() {
			if retErr != nil {
				if err := ns.Unpin(); err != nil {
					log.Warn("roll back the group's namespaces", "err", err)
				}
			}
		}()
	}
	sb := pod.Sandbox{
		GroupID:      cfg.GroupID,
		NetNSPath:    cfg.NetNSPath,
		IPCPath:      ns.IPC,
		UTSPath:      ns.UTS,
		CgroupParent: groupCg,
		Sysctls:      cfg.Sysctls,
	}
	if !cfg.SharePID {
		log.Debug("group namespaces ready", "took", time.Since(began).Round(time.Millisecond))
		return sb, nil
	}
	pid, err := b.startPIDSandbox(ctx, cfg, sb)
	if err != nil {
		return pod.Sandbox{}, err
	}
	sb.PID, sb.PIDPath = pid, fmt.Sprintf("/proc/%d/ns/pid", pid)
	log.Info("started sandbox", "pid", pid, "took", time.Since(began).Round(time.Millisecond))
	return sb, nil
}

// startPIDSandbox starts the process that is PID 1 of the group's shared
// PID namespace, in the group's other namespaces, and returns its PID.
func (b *Backend) startPIDSandbox(ctx context.Context, cfg pod.SandboxConfig, sb pod.Sandbox) (_ int, retErr error) {
	id := sandboxID(cfg.GroupID)
	log := b.log.With("group", cfg.GroupID)
	sp := trace.Begin(ctx, "sandbox.process")
	defer func() { sp.End(retErr) }()
	rootfs, err := b.ensureSandboxRootfs()
	if err != nil {
		return 0, err
	}
	cl := b.conn.Client()
	labels := containerLabels(cfg.Labels, map[string]string{
		pod.LabelGroupID: cfg.GroupID,
		pod.LabelKind:    pod.KindSandbox,
	})
	ctr, err := newContainerSeenThrough(ctx, cl, id,
		client.WithRuntime(b.opts.Runtime, nil),
		client.WithContainerLabels(labels),
		client.WithNewSpec(append(sandboxSpecOpts(rootfs, b.opts.SandboxArgs, sb, path.Join(sb.CgroupParent, sandboxCgroup)), withShimKey(b.shims.next(cfg.GroupID)))...),
	)
	if err != nil {
		return 0, fmt.Errorf("create sandbox %s: %w", id, err)
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

	spec, err := ctr.Spec(ctx)
	if err != nil {
		return 0, fmt.Errorf("sandbox %s: %w", id, err)
	}
	task, err := b.newTask(ctx, ctr, spec, nil, cio.NullIO)
	if err != nil {
		return 0, fmt.Errorf("create sandbox task %s: %w", id, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := b.deleteTaskOf(cctx, ctr, task, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("roll back sandbox task", "err", err)
			}
		}
	}()
	if err := task.Start(ctx); err != nil {
		return 0, fmt.Errorf("start sandbox %s: %w", id, err)
	}
	return int(task.Pid()), nil
}

// sandboxNamespaces are the files that hold a group's IPC and UTS
// namespaces.
func (b *Backend) sandboxNamespaces(groupID string) nsfile.IPCUTS {
	dir := filepath.Join(b.opts.Root, sandboxNSDir, groupID)
	return nsfile.IPCUTS{IPC: filepath.Join(dir, "ipc"), UTS: filepath.Join(dir, "uts")}
}

// sandboxNSDir, under leci's root, holds the groups' namespace files.
const sandboxNSDir = "sandboxes"

// sandboxOf describes the running sandbox process of cfg, pid. When the
// group's IPC and UTS namespaces are files, the process is in them (it
// joined them); otherwise it holds them itself (a group started before
// namespaces were files).
func (b *Backend) sandboxOf(cfg pod.SandboxConfig, pid int) pod.Sandbox {
	sb := pod.SandboxAt(cfg.GroupID, pid, cfg.NetNSPath, b.groupCgroup(cfg.GroupID), cfg.SharePID)
	if ns := b.sandboxNamespaces(cfg.GroupID); ns.Pinned() {
		sb.IPCPath, sb.UTSPath = ns.IPC, ns.UTS
	}
	sb.Sysctls = cfg.Sysctls
	return sb
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
// sandbox process if any, the namespace files, and the group's cgroup with
// everything below it. What is
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
	b.shims.forget(groupID)
	ns := b.sandboxNamespaces(groupID)
	if err := ns.Unpin(); err != nil {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	if err := os.Remove(filepath.Dir(ns.IPC)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	if err := b.cg.RemoveTree(b.groupCgroup(groupID)); err != nil {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	log.Info("removed sandbox")
	return nil
}
