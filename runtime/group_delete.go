package runtime

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"time"

	"leci/api"
	"leci/internal/trace"
	"leci/pod"
)

// teardownHost undoes setup: the sandbox, the network and the volumes go
// at once (none needs another), each whether or not the others succeed.
func (g *group) teardownHost(ctx context.Context) error {
	return g.teardownAfter(ctx, nil)
}

// teardownAfter is teardownHost for a group whose containers are stopped
// but may not be removed yet: removeContainers, when not nil, removes
// them, and the sandbox (which holds their cgroups) and the volumes (which
// they mount) go once it is done, while the network goes at once.
func (g *group) teardownAfter(ctx context.Context, removeContainers func() error) error {
	removed := make(chan struct{})
	var removeErr error
	go func() {
		defer close(removed)
		if removeContainers != nil {
			removeErr = removeContainers()
		}
	}()
	steps := []struct {
		name        string
		needRemoved bool
		do          func() error
	}{
		{"sandbox.remove", true, func() error { return g.e.backend.RemoveSandbox(ctx, g.id) }},
		{"network.teardown", false, func() error { return g.e.net.Teardown(ctx, g.id) }},
		{"volumes.cleanup", true, func() error { return g.e.vols.Cleanup(ctx, filepath.Join(g.dir, "volumes")) }},
	}
	errs := make([]error, len(steps))
	var wg sync.WaitGroup
	for i, step := range steps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if step.needRemoved {
				<-removed
			}
			sp := trace.Begin(ctx, step.name)
			errs[i] = step.do()
			sp.End(errs[i])
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, removeErr)...)
}

// eachContainer runs fn for every container of containers but the
// sandbox, all at once, and joins their errors.
func eachContainer(containers []pod.ContainerInfo, fn func(c pod.ContainerInfo) error) error {
	errs := make([]error, len(containers))
	var wg sync.WaitGroup
	for i, c := range containers {
		if c.Kind == pod.KindSandbox {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(c)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// delete stops the supervisor, then every container within the grace
// period, and removes everything the group made, each step whether or not
// the ones before it succeeded.
func (g *group) delete(ctx context.Context) error {
	g.deleteOnce.Do(func() {
		ctx = trace.WithGroup(trace.WithRecorder(ctx, g.e.opts.Trace), g.id)
		whole := trace.Begin(ctx, "group.delete")
		g.cancel()
		<-g.done
		g.aheads.Wait() // what they create is listed below
		g.watchUnwatched(ctx)
		g.e.probes.StopAll(g.id)
		g.update(func(st *GroupStatus) { st.Phase = api.GroupTerminating })
		grace := time.Duration(*g.req.TerminationGracePeriodSeconds) * time.Second
		var errs []error
		containers, err := g.e.backend.ListContainers(ctx, g.id)
		errs = append(errs, err)
		// Every running container stops first, all at once; until then the
		// group keeps its network (a preStop hook may need it).
		errs = append(errs, eachContainer(containers, func(c pod.ContainerInfo) error {
			if !c.Running {
				return nil // ended; maybe being removed in the background
			}
			sp := trace.Begin(ctx, "container.stop "+c.Name)
			err := g.stopContainer(ctx, c.Name, c.Kind, c.ID, grace)
			sp.End(err)
			return err
		}))
		g.recordStopped(2 * time.Second)
		// Then nothing runs in the group: the network goes while the
		// containers are removed. Only once everything under it is
		// unmounted may the group's directory go: removing through a
		// mount would delete what it shows (a host directory, say).
		err = g.teardownAfter(ctx, func() error {
			// After the removals of ended runs, which would race these.
			g.removals.Wait()
			return eachContainer(containers, func(c pod.ContainerInfo) error {
				if _, done := g.removed.Load(c.ID); done {
					return nil // an ended run, listed before its removal finished
				}
				sp := trace.Begin(ctx, "container.remove "+c.Name)
				err := g.e.backend.RemoveContainer(ctx, c.ID)
				sp.End(err)
				return err
			})
		})
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, os.RemoveAll(g.dir))
		}
		g.deleteErr = errors.Join(errs...)
		if r := g.e.opts.Recorder; r != nil && g.deleteErr == nil {
			if err := r.Remove(g.id); err != nil {
				g.deleteErr = err
			}
		}
		whole.End(g.deleteErr)
		close(g.gone)
	})
	return g.deleteErr
}
