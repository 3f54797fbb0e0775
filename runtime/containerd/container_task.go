package containerd

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"syscall"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/api/types"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/typeurl/v2"
	"github.com/moby/sys/signal"

	"leci/internal/trace"
	"leci/pod"
)

const (
	sigkill = syscall.SIGKILL
	sigterm = syscall.SIGTERM
)

// StartContainer creates the container's task with its output going to its
// log, arms the wait, and starts it. The channel yields the exit once and is
// closed; it is closed without an exit only if containerd could not be
// waited on for waitRetryFor or the task was removed meanwhile, and the
// engine then learns the state from ListContainers. The exited task stays
// until RemoveContainer, so its output is drained and its status readable.
func (b *Backend) StartContainer(ctx context.Context, id string) (_ <-chan pod.Exit, retErr error) {
	log := b.log.With("container", id)
	began := time.Now()
	made, err := b.loadMade(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx, ctr, task := b.conn.WithNamespace(ctx), made.ctr, made.task
	var cgroupsPath string
	if made.spec.Linux != nil {
		cgroupsPath = made.spec.Linux.CgroupsPath
	}
	if task == nil {
		sp := trace.Begin(ctx, "task.new")
		task, err = b.newTaskFor(ctx, made)
		sp.End(err)
		if err != nil {
			return nil, fmt.Errorf("create task %s: %w", id, err)
		}
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := b.deleteTaskOf(cctx, ctr, task, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("roll back task", "err", err)
			}
		}
	}()
	// The wait outlives this call, and is armed before the start so that
	// an exit right after it is not missed.
	wctx, cancelWait := context.WithCancel(context.WithoutCancel(ctx))
	exited, err := task.Wait(wctx)
	if err != nil {
		cancelWait()
		return nil, fmt.Errorf("wait for task %s: %w", id, err)
	}
	// Taken before the call: the process may have run and exited by the
	// time Start returns.
	started := time.Now()
	sp := trace.Begin(ctx, "task.start")
	err = task.Start(ctx)
	sp.End(err)
	if err != nil {
		cancelWait()
		return nil, fmt.Errorf("start task %s: %w", id, err)
	}
	log.Debug("started container", "pid", task.Pid(), "took", time.Since(began).Round(time.Millisecond))

	return b.watch(wctx, cancelWait, ctr, exited, started, cgroupsPath), nil
}

// ioFor is the task's IO: its log, with a terminal when it has one.
func (b *Backend) ioFor(ext containerExtension) cio.Creator {
	creator := cio.NullIO
	if ext.LogPath != "" {
		if b.opts.LogIO == nil {
			return func(string) (cio.IO, error) {
				return nil, errors.New("the container has a log path, and the backend no log writer (BackendOptions.LogIO)")
			}
		}
		creator = b.opts.LogIO(ext.LogPath)
	}
	if ext.TTY {
		return terminalIO(creator)
	}
	return creator
}

// terminalIO asks the shim for a terminal, whose output it then copies to
// the same place. The runc shim (1.6 as 2.x) copies a terminal only to a
// FIFO or a binary logger, not to a file: that is refused here, with a
// clearer error than the shim's.
func terminalIO(c cio.Creator) cio.Creator {
	return func(id string) (cio.IO, error) {
		i, err := c(id)
		if err != nil {
			return nil, err
		}
		if u, err := url.Parse(i.Config().Stdout); err == nil && u.Scheme == "file" {
			i.Close()
			return nil, fmt.Errorf("a terminal's output cannot go to a plain log file (%s): the shim needs a binary logger or FIFOs", u.Path)
		}
		return ttyIO{i}, nil
	}
}

type ttyIO struct{ cio.IO }

func (t ttyIO) Config() cio.Config {
	c := t.IO.Config()
	c.Terminal = true
	return c
}

// StopContainer sends the stop signal (the image's, else SIGTERM), waits up
// to grace, then kills every process of the container, and returns once it
// has exited. A container that is not running is already stopped.
func (b *Backend) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	if err := checkID("container", id); err != nil {
		return err
	}
	ctx = b.conn.WithNamespace(ctx)
	log := b.log.With("container", id)
	ctr, err := b.conn.Client().LoadContainer(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load container %s: %w", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("load task %s: %w", id, err)
	}
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) || err == nil && st.Status == client.Stopped {
		return nil
	}
	if err != nil {
		return fmt.Errorf("task %s status: %w", id, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	exited, err := task.Wait(wctx)
	if err != nil {
		return fmt.Errorf("wait for task %s: %w", id, err)
	}

	// A created task never ran its process; there is nothing to be graceful to.
	if st.Status != client.Created && grace > 0 {
		sig := b.stopSignal(ctx, ctr)
		if err := task.Kill(ctx, sig); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
			return fmt.Errorf("signal task %s: %w", id, err)
		}
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-exited:
			return nil
		case <-t.C:
			log.Info("grace period over, killing", "grace", grace)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := task.Kill(ctx, sigkill, client.WithKillAll); err != nil && !errdefs.IsNotFound(err) && !errdefs.IsFailedPrecondition(err) {
		return fmt.Errorf("kill task %s: %w", id, err)
	}
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Backend) stopSignal(ctx context.Context, ctr client.Container) syscall.Signal {
	ext, err := extensionOf(ctx, ctr)
	if err != nil || ext.StopSignal == "" {
		return sigterm
	}
	sig, err := signal.ParseSignal(ext.StopSignal)
	if err != nil {
		b.log.Warn("image stop signal", "container", ctr.ID(), "signal", ext.StopSignal, "err", err)
		return sigterm
	}
	return sig
}

// PrepareStart creates the container's task (its shim, runc's create,
// the log writer), so that StartContainer only starts it; nothing of the
// container's own runs before that.
func (b *Backend) PrepareStart(ctx context.Context, id string) error {
	made, ok := b.made.get(id)
	if !ok {
		var err error
		if made, err = b.loadContainer(ctx, id); err != nil {
			return err
		}
	}
	ctx = b.conn.WithNamespace(ctx)
	sp := trace.Begin(ctx, "task.new")
	task, err := b.newTaskFor(ctx, made)
	sp.End(err)
	if err != nil {
		return fmt.Errorf("create task %s: %w", id, err)
	}
	made.task = task
	b.made.put(id, made)
	return nil
}

// loadMade returns what a start needs of container id: what this process
// made of it, or else its record, spec, extension and the task PrepareStart
// made (nil when there is none) as containerd has them.
func (b *Backend) loadMade(ctx context.Context, id string) (madeContainer, error) {
	if made, ok := b.made.take(id); ok {
		return made, nil
	}
	made, err := b.loadContainer(ctx, id)
	if err != nil {
		return made, err
	}
	made.task, err = b.preparedTask(b.conn.WithNamespace(ctx), made.ctr)
	return made, err
}

// loadContainer loads container id's record, spec and extension.
func (b *Backend) loadContainer(ctx context.Context, id string) (madeContainer, error) {
	ctx, ctr, ext, err := b.loadWithExtension(ctx, id)
	if err != nil {
		return madeContainer{}, err
	}
	spec, err := loadedSpec(ctx, ctr)
	if err != nil {
		return madeContainer{}, fmt.Errorf("container %s: %w", id, err)
	}
	return madeContainer{ctr: ctr, spec: spec, ext: ext}, nil
}

// preparedTask returns the task PrepareStart made for ctr, nil when there
// is none. A task in another state is not one to start: an error.
func (b *Backend) preparedTask(ctx context.Context, ctr client.Container) (client.Task, error) {
	task, err := ctr.Task(ctx, nil) // its output goes through the shim's log writer
	if errdefs.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load task %s: %w", ctr.ID(), err)
	}
	st, err := task.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("task %s status: %w", ctr.ID(), err)
	}
	if st.Status != client.Created {
		return nil, fmt.Errorf("task %s is %s, not created: %w", ctr.ID(), st.Status, errdefs.ErrFailedPrecondition)
	}
	return task, nil
}

// loadedSpec is ctr's spec from the record it was just loaded with,
// without asking containerd for the record again.
func loadedSpec(ctx context.Context, ctr client.Container) (*oci.Spec, error) {
	info, err := ctr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return nil, err
	}
	var spec oci.Spec
	if err := typeurl.UnmarshalTo(info.Spec, &spec); err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	return &spec, nil
}

// createTask is ctr.NewTask for a container this process made, whose
// record (spec and runtime) and snapshot mounts it holds: the client's
// NewTask would read the record three times and the mounts once more
// before its create, on the path from a create to a running container.
// containerd takes the spec and runtime from the record itself.
func (b *Backend) createTask(ctx context.Context, ctr client.Container, spec *oci.Spec, rootfs []mount.Mount, ioc cio.Creator) (_ client.Task, retErr error) {
	pio, err := ioc(ctr.ID())
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			pio.Cancel()
			pio.Close()
		}
	}()
	cfg := pio.Config()
	req := &tasksapi.CreateTaskRequest{
		ContainerID: ctr.ID(),
		Terminal:    cfg.Terminal,
		Stdin:       cfg.Stdin,
		Stdout:      cfg.Stdout,
		Stderr:      cfg.Stderr,
	}
	for _, m := range rootfs {
		opts := m.Options
		if spec.Linux != nil && spec.Linux.MountLabel != "" {
			opts = append(slices.Clip(opts), fmt.Sprintf("context=%q", spec.Linux.MountLabel))
		}
		req.Rootfs = append(req.Rootfs, &types.Mount{Type: m.Type, Source: m.Source, Target: m.Target, Options: opts})
	}
	if _, err := b.conn.Client().TaskService().Create(ctx, req); err != nil {
		return nil, errgrpc.ToNative(err)
	}
	// The task as the client knows it. Its output goes to a log writer
	// the shim runs, or to FIFOs whose ends the caller holds: the client
	// has nothing of it to keep.
	return ctr.Task(ctx, nil)
}
