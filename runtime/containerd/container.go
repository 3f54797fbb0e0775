package containerd

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	tasktypes "github.com/containerd/containerd/api/types/task"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"

	"leci/internal/trace"
	"leci/pod"
)

// CreateContainer creates a container of the sandbox's group from its image,
// which must be present (EnsureImage): a fresh writable snapshot named after
// the container, and a spec from containerSpecOpts; what a create cut short
// left under the name is removed, and the create made again. Nothing runs
// until StartContainer. A request the backend cannot honour wraps
// pod.ErrCreateConfig; whatever was made is removed again on failure.
func (b *Backend) CreateContainer(ctx context.Context, sb pod.Sandbox, cfg pod.ContainerConfig) error {
	if err := checkID("container", cfg.ID); err != nil {
		return err
	}
	if cfg.GroupID == "" {
		cfg.GroupID = sb.GroupID
	}
	ctx = b.conn.WithNamespace(ctx)
	err := b.createContainer(ctx, sb, cfg)
	if !errdefs.IsAlreadyExists(err) {
		return err
	}
	// A crash of leci part way through a create of the same container
	// left a snapshot or a container under its name. Looked for only
	// now: a create with nothing in its way asks containerd nothing more.
	if err := b.removeLeftover(ctx, cfg); err != nil {
		return err
	}
	return b.createContainer(ctx, sb, cfg)
}

// createContainer is CreateContainer, once; it fails with an error that
// wraps errdefs.ErrAlreadyExists when something is under the container's
// name.
func (b *Backend) createContainer(ctx context.Context, sb pod.Sandbox, cfg pod.ContainerConfig) (retErr error) {
	log := b.log.With("group", cfg.GroupID, "container", cfg.ID)
	began := time.Now()
	cl := b.conn.Client()

	img, meta, err := b.conn.imageForCreate(ctx, cfg.Image)
	if err != nil {
		return fmt.Errorf("container %s: %w", cfg.ID, err)
	}
	ociImg := meta.config

	// The lease keeps the snapshot from the garbage collector until the
	// container holds it.
	ctx, done, err := cl.WithLease(ctx, creationLease(cfg.ID)...)
	if err != nil {
		return fmt.Errorf("container %s: %w", cfg.ID, err)
	}
	defer func() {
		release := func() error {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			err := done(cctx)
			if err != nil {
				log.Warn("release lease", "err", err)
			}
			return err
		}
		if retErr != nil {
			release()
			return
		}
		// Once the container holds its snapshot, the lease holds nothing
		// the container needs, and its delete (a synced write to
		// containerd's database, some 10 ms) is not waited for. Should
		// this process end first, removeContainer releases it.
		r := &leaseRelease{done: make(chan struct{})}
		b.leaseReleases.Store(cfg.ID, r)
		go func() {
			defer close(r.done)
			r.ok = release() == nil
		}()
	}()

	// The snapshot is prepared here, not by client.WithNewSnapshot, so that
	// it is removed when the rest fails (a spec error included), and only
	// if this call made it.
	snapshots := cl.SnapshotService(snapshotter)
	sp := trace.Begin(ctx, "snapshot.prepare")
	rootfs, err := prepareSeenThrough(ctx, snapshots, cfg.ID, meta.chainID, snapshotOfGroup(cfg.GroupID))
	if errdefs.IsNotFound(err) {
		// Its layers are not unpacked (an image imported or pulled by
		// another client, or its snapshots removed): unpacked now, once.
		if uerr := b.conn.ensureUnpacked(ctx, img); uerr != nil {
			err = uerr
		} else {
			rootfs, err = prepareSeenThrough(ctx, snapshots, cfg.ID, meta.chainID, snapshotOfGroup(cfg.GroupID))
		}
	}
	sp.End(err)
	if err != nil {
		return fmt.Errorf("container %s: prepare snapshot: %w", cfg.ID, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := snapshots.Remove(cctx, cfg.ID); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("roll back snapshot", "err", err)
			}
		}
	}()

	specOpts := append(containerSpecOpts(ociImg.Config, sb, cfg), withShimKey(b.shims.next(shimGroup(cfg.GroupID, cfg.Kind))))
	if quota, ok := b.cg.V1CPUQuota(sb.CgroupParent); ok {
		specOpts = append(specOpts, withCPUQuotaCap(quota))
	}
	ext := containerExtension{LogPath: cfg.LogPath, TTY: cfg.TTY, StopSignal: ociImg.Config.StopSignal, Stdin: cfg.Stdin, StdinOnce: cfg.Stdin && cfg.StdinOnce}
	sp = trace.Begin(ctx, "container.new")
	defer func() { sp.End(retErr) }()
	ctr, err := newContainerSeenThrough(ctx, cl, cfg.ID,
		client.WithImageName(img.Name()),
		// Before the spec: the user options read /etc/passwd from it.
		withPreparedSnapshot(cfg.ID),
		client.WithRuntime(b.opts.Runtime, nil),
		client.WithContainerLabels(containerLabels(cfg.Labels, map[string]string{
			pod.LabelGroupID:   cfg.GroupID,
			pod.LabelContainer: cfg.Name,
			pod.LabelKind:      cfg.Kind,
			pod.LabelAttempt:   strconv.Itoa(cfg.Attempt),
		})),
		withExtension(ext),
		client.WithNewSpec(withRootfsMounts(cfg.ID, rootfs, specOpts)...),
	)
	if err != nil {
		return fmt.Errorf("create container %s: %w", cfg.ID, err)
	}
	// The record NewContainer returns holds the spec it stored.
	if spec, err := loadedSpec(ctx, ctr); err == nil {
		b.made.put(cfg.ID, madeContainer{ctr: ctr, spec: spec, ext: ext, rootfs: rootfs})
	}
	log.Debug("created container", "image", img.Name(), "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// RemoveContainer kills and deletes the container's task, then the
// container with its snapshot, and its cgroup if runc left it. A container
// already gone is no error.
func (b *Backend) RemoveContainer(ctx context.Context, id string) error {
	if err := checkID("container", id); err != nil {
		return err
	}
	b.made.forget(id)
	ctx = b.conn.WithNamespace(ctx)
	if ctr, ok := b.stopped.get(id); ok {
		return b.removeContainer(ctx, ctr)
	}
	ctr, err := b.conn.Client().LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load container %s: %w", id, err)
	}
	return b.removeContainer(ctx, ctr)
}

// removeContainer removes one container (a sandbox too) and what belongs
// to it.
func (b *Backend) removeContainer(ctx context.Context, ctr client.Container) error {
	id := ctr.ID()
	b.made.forget(id)
	_, stopped := b.stopped.get(id)
	spec, err := loadedSpec(ctx, ctr)
	if err != nil {
		return fmt.Errorf("container %s: %w", id, err)
	}
	sp := trace.Begin(ctx, "task.delete")
	err = b.deleteTask(ctx, ctr, stopped)
	sp.End(err)
	if err != nil {
		return err
	}
	sp = trace.Begin(ctx, "container.delete")
	err = deleteRecord(ctx, b.conn.Client(), ctr)
	sp.End(err)
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	if !b.leaseReleased(ctx, id) {
		if err := b.releaseCreationLeases(ctx, b.conn.Client(), id); err != nil {
			b.log.Warn("release the lease of the container's create", "container", id, "err", err)
		}
	}
	// runc deletes the cgroup with the task; one is left only when that
	// went wrong, and it must not keep the group's cgroup from going.
	if spec.Linux != nil && spec.Linux.CgroupsPath != "" {
		if err := b.cg.RemoveTree(spec.Linux.CgroupsPath); err != nil {
			b.log.Warn("remove container cgroup", "container", id, "err", err)
		}
	}
	b.removeStdio(id)
	b.stopped.forget(id)
	b.log.Debug("removed container", "container", id)
	return nil
}

// deleteTask kills the container's task if it runs and deletes it, after
// the exit watcher (if this process runs one) has read the exit; stopped
// says that one did, and the task's state is then not asked for.
//
// A task containerd reports as not found may still be one it lists: when
// the caller of a task's delete goes away (a leci killed) after the shim
// dropped the task but before containerd heard back, containerd keeps its
// record of the task and of the shim, which then serves nothing and is
// never told to shut down; asked for the task's state, the shim answers
// NotFound. A delete by ID is what clears that record and stops that shim,
// so it is sent all the same.
func (b *Backend) deleteTask(ctx context.Context, ctr client.Container, stopped bool) error {
	id := ctr.ID()
	if stopped {
		// An exit watcher of this process read its exit: the task is
		// stopped for good, and is deleted by its ID.
		b.waitWatchers(ctx, id)
		if err := b.deleteTaskOf(ctx, ctr, nil); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete task %s: %w", id, err)
		}
		return nil
	}
	got, err := taskProcess(ctx, b.conn.Client(), id)
	if err != nil {
		return err
	}
	if got == nil {
		if err := b.deleteTaskOf(ctx, ctr, nil); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("delete the record of task %s: %w", id, err)
		}
		return nil
	}
	var task client.Task // loaded only to be killed: a stopped one is deleted by its ID
	if got.GetStatus() != tasktypes.Status_STOPPED {
		if task, err = ctr.Task(ctx, nil); errdefs.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("load task %s: %w", id, err)
		}
		if err := killAndWait(ctx, task); err != nil {
			return fmt.Errorf("kill task %s: %w", id, err)
		}
	}
	b.waitWatchers(ctx, id)
	if err := b.deleteTaskOf(ctx, ctr, task); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("delete task %s: %w", id, err)
	}
	return nil
}

// deleteRecord deletes ctr's snapshot, then its record: what ctr.Delete
// with WithSnapshotCleanup does, without its two reads first (of the task,
// to refuse a running one, and of the record), as ctr's task is deleted
// and its record loaded.
func deleteRecord(ctx context.Context, cl *client.Client, ctr client.Container) error {
	info, err := ctr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return err
	}
	if info.SnapshotKey != "" {
		err := cl.SnapshotService(cmp.Or(info.Snapshotter, snapshotter)).Remove(ctx, info.SnapshotKey)
		if err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove snapshot %s: %w", info.SnapshotKey, err)
		}
	}
	return cl.ContainerService().Delete(ctx, ctr.ID())
}

// killAndWait SIGKILLs every process of the task and waits for its exit.
func killAndWait(ctx context.Context, task client.Task) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited, err := task.Wait(ctx)
	if err != nil {
		return err
	}
	if err := task.Kill(ctx, sigkill, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
		return err
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ListContainers lists the containers leci made for groupID ("" for all
// groups), sandboxes included, with their tasks' state.
func (b *Backend) ListContainers(ctx context.Context, groupID string) ([]pod.ContainerInfo, error) {
	ctx = b.conn.WithNamespace(ctx)
	cl := b.conn.Client()
	filter := fmt.Sprintf("labels.%q", pod.LabelGroupID)
	if groupID != "" {
		filter = groupFilter(groupID)
	}
	records, err := cl.ContainerService().List(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	tasks := map[string]*tasktypes.Process{}
	if groupID == "" {
		// Every task: one call rather than one per container.
		resp, err := cl.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		for _, t := range resp.Tasks {
			tasks[t.ID] = t
		}
	} else {
		for _, r := range records {
			if _, ok := b.stopped.get(r.ID); ok {
				continue // its exit was read here: not running
			}
			t, err := taskProcess(ctx, cl, r.ID)
			if err != nil {
				return nil, err
			}
			if t != nil {
				tasks[r.ID] = t
			}
		}
	}
	out := make([]pod.ContainerInfo, 0, len(records))
	for _, r := range records {
		info := pod.InfoFromLabels(r.ID, r.Labels)
		if t, ok := tasks[r.ID]; ok {
			info.Running = t.Status == tasktypes.Status_RUNNING
			info.PID = int(t.Pid)
		}
		out = append(out, info)
	}
	return out, nil
}

// taskProcess is the state of container id's task, nil if it has none.
//
// A group's tasks are asked for one by one, never by listing every task:
// containerd answers a list by asking every shim of the namespace for the
// state of each of its tasks, which costs as much as there are groups.
func taskProcess(ctx context.Context, cl *client.Client, id string) (*tasktypes.Process, error) {
	got, err := cl.TaskService().Get(ctx, &tasksapi.GetRequest{ContainerID: id})
	if err = errgrpc.ToNative(err); errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	return got.GetProcess(), nil
}

// groupFilter selects a group's containers.
func groupFilter(groupID string) string {
	return fmt.Sprintf("labels.%q==%q", pod.LabelGroupID, groupID)
}
