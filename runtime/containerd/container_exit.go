package containerd

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"

	"leci/pod"
)

const (
	// waitRetryFor is how long an exit watcher whose wait broke keeps trying
	// to wait again, while containerd answers but the wait fails, before it
	// gives up. Time in which containerd cannot be reached at all (stopped,
	// restarting) does not count: the container runs on under its shim, and
	// its exit is read once containerd is back, however long that takes.
	waitRetryFor = 2 * time.Minute
	// maxWaitRetryDelay caps the pause between two attempts to wait again,
	// so that an exit is seen about a second after containerd is back.
	maxWaitRetryDelay = time.Second
	// watcherGrace bounds how long RemoveContainer waits for the exit
	// watchers to read the exit before deleting the task anyway.
	watcherGrace = 5 * time.Second
)

// WaitContainer returns a channel that yields the exit of a container
// started before, by another leci process say (leci restarted and adopted
// it), like StartContainer's: once, then closed. It is not part of
// runtime.Backend. The exit's StartedAt is unknown and left zero; a
// container that has already exited yields its exit at once.
func (b *Backend) WaitContainer(ctx context.Context, id string) (<-chan pod.Exit, error) {
	if err := checkID("container", id); err != nil {
		return nil, err
	}
	ctx = b.conn.WithNamespace(ctx)
	ctr, err := b.conn.Client().LoadContainer(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("load container %s: %w", id, err)
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", id, err)
	}
	var cgroupsPath string
	if spec.Linux != nil {
		cgroupsPath = spec.Linux.CgroupsPath
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("load task %s: %w", id, err)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	exited, err := task.Wait(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("wait for task %s: %w", id, err)
	}
	return b.watch(wctx, cancel, ctr, exited, time.Time{}, cgroupsPath), nil
}

// watch turns the task's exit into a pod.Exit on the returned channel, in
// a goroutine that ends with the exit (or with giving up on it) and then
// cancels the wait's context.
func (b *Backend) watch(ctx context.Context, cancel context.CancelFunc, ctr client.Container, exited <-chan client.ExitStatus, started time.Time, cgroupsPath string) <-chan pod.Exit {
	out := make(chan pod.Exit, 1)
	done := b.watcherStarted(ctr.ID())
	go func() {
		defer cancel()
		defer close(out)
		defer done()
		if exit, ok := b.awaitExit(ctx, ctr, exited, started, cgroupsPath); ok {
			b.stopped.put(ctr)
			out <- exit
		}
	}()
	return out
}

// awaitExit waits for the task's exit and describes it. A wait that breaks
// (containerd restarted, the connection dropped) is made again: for as long
// as containerd cannot be reached, and for up to waitRetryFor while it
// answers but the wait fails. An exit that happened meanwhile is read from
// the shim, which keeps it. ok is false when no exit could be had.
func (b *Backend) awaitExit(ctx context.Context, ctr client.Container, exited <-chan client.ExitStatus, started time.Time, cgroupsPath string) (pod.Exit, bool) {
	log := b.log.With("container", ctr.ID())
	var (
		failures waitFailures
		delay    = 100 * time.Millisecond
	)
	for {
		st := <-exited
		if st.Error() == nil {
			code, at, _ := st.Result()
			if at.IsZero() {
				at = time.Now() // a shim that did not say
			}
			exit := pod.Exit{Code: int(code), StartedAt: started, FinishedAt: at}
			// The shim reports death by signal n as 128+n.
			if code > 128 && code <= 128+64 {
				exit.Signal = int(code - 128)
			}
			// Read now, before RemoveContainer can delete the cgroup (it waits
			// for this watcher).
			if n, err := b.cg.OOMKills(cgroupsPath); err == nil {
				exit.OOMKilled = n > 0
			} else {
				log.Debug("read OOM kill count", "err", err)
			}
			log.Debug("container exited", "code", exit.Code, "oom", exit.OOMKilled)
			return exit, true
		}
		err := st.Error()
		if b.conn.closed.Load() {
			// leci is stopping; the container runs on, and the next leci
			// watches it again.
			log.Debug("stopped waiting for the container's exit: the connection to containerd is closed", "err", err)
			return pod.Exit{}, false
		}
		log.Warn("waiting for exit failed, waiting again", "err", err)
		for {
			if failures.giveUp(err, time.Now()) {
				log.Error("gave up waiting for the container's exit", "err", err)
				return pod.Exit{}, false
			}
			time.Sleep(delay)
			delay = min(2*delay, maxWaitRetryDelay)
			var task client.Task
			task, err = ctr.Task(ctx, nil)
			if errdefs.IsNotFound(err) {
				log.Warn("task removed before its exit was seen")
				return pod.Exit{}, false
			}
			if err == nil {
				if exited, err = task.Wait(ctx); err == nil {
					failures = waitFailures{}
					log.Info("waiting for exit again")
					break
				}
			}
		}
	}
}

// waitFailures decides when an exit watcher whose wait keeps failing gives
// up: once the failures have lasted waitRetryFor with containerd answering.
// A failure to reach containerd at all starts the count again, so an outage
// of containerd, however long, never makes leci take a running container
// for dead (and start a second one beside it).
type waitFailures struct{ since time.Time }

// giveUp records a failure at now and tells whether to give up.
func (w *waitFailures) giveUp(err error, now time.Time) bool {
	if w.since.IsZero() || unreachable(err) {
		w.since = now
	}
	return now.Sub(w.since) > waitRetryFor
}

// watcherStarted counts a watcher of container id in; the returned func
// counts it out.
func (b *Backend) watcherStarted(id string) (done func()) {
	b.watchersMu.Lock()
	defer b.watchersMu.Unlock()
	wg := b.watchers[id]
	if wg == nil {
		wg = new(sync.WaitGroup)
		b.watchers[id] = wg
	}
	wg.Add(1)
	return wg.Done
}

// waitWatchers waits, for watcherGrace at most, for the container's exit
// watchers in this process to finish; the task is about to go.
func (b *Backend) waitWatchers(ctx context.Context, id string) {
	b.watchersMu.Lock()
	wg := b.watchers[id]
	delete(b.watchers, id)
	b.watchersMu.Unlock()
	if wg == nil {
		return
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()
	t := time.NewTimer(watcherGrace)
	defer t.Stop()
	select {
	case <-finished:
	case <-t.C:
		b.log.Warn("exit watcher did not finish; deleting the task anyway", "container", id)
	case <-ctx.Done():
	}
}
