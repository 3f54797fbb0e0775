package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"leci/api"
	"leci/pod"
)

// StdinOpener is implemented by a backend that keeps the stdin of a
// container with Stdin open for as long as it runs, and lets an attach
// write into it.
type StdinOpener interface {
	// OpenStdin returns a writer into the running container's stdin. Its
	// Close ends this attach's input; on a container with StdinOnce it
	// also closes the container's stdin, so that its process reads end of
	// file (what the kubelet does when the first attach ends).
	OpenStdin(ctx context.Context, id string) (io.WriteCloser, error)
}

// spentStdins are the runs of StdinOnce containers (by backend ID) whose
// one attach with input has been given: their stdin closes when it ends,
// and a later attach may watch the output but not write.
type spentStdins struct {
	mu    sync.Mutex
	spent map[string]bool
}

// take reports whether id's stdin was still unused, and marks it used.
func (s *spentStdins) take(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.spent[id] {
		return false
	}
	if s.spent == nil {
		s.spent = map[string]bool{}
	}
	s.spent[id] = true
	return true
}

// Attach attaches to the current run of a running app container of a
// group ("" for the first one), as kubectl attach and docker attach do:
// what it writes to stdout and stderr from now on goes to aio.Stdout and
// aio.Stderr, line by line as its log gets it, and aio.Stdin, when not
// nil, goes to its stdin, which the container must keep open (Stdin).
// Detaching (ctx done) ends the attach, not the container; it then
// returns ctx's error. When the run ends, Attach returns its exit code.
// aio's Cmd, TTY and Resize are not used: the container has its own.
func (e *Engine) Attach(ctx context.Context, id, container string, aio pod.ExecIO) (int, error) {
	g, err := e.group(id)
	if err != nil {
		return 0, err
	}
	spec, c, err := g.appContainer(container)
	if err != nil {
		return 0, err
	}
	if c.Current.State != api.StateRunning {
		return 0, fmt.Errorf("%s/%s: %w", id, c.Name, ErrNotRunning)
	}
	if aio.Stdin != nil && !spec.Stdin {
		return 0, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: "Stdin",
			Message: fmt.Sprintf("container %s has no stdin to attach to: its Stdin is false", c.Name)}
	}
	if e.opts.FollowLog == nil {
		return 0, &api.Error{Code: "NotImplemented", Status: http.StatusNotImplemented, Message: "this engine cannot follow a container's output"}
	}
	if err := e.Available(ctx); err != nil {
		return 0, err
	}
	var stdin io.WriteCloser
	if aio.Stdin != nil {
		opener, ok := e.backend.(StdinOpener)
		if !ok {
			return 0, &api.Error{Code: "NotImplemented", Status: http.StatusNotImplemented, Message: "this runtime backend cannot attach to a container's stdin"}
		}
		if spec.StdinOnce && !e.stdinSpent.take(c.ID) {
			return 0, &api.Error{Code: api.ErrIncorrectStatus.Code, Status: http.StatusBadRequest, Field: "Stdin",
				Message: fmt.Sprintf("the stdin of container %s was closed when its first attach ended (StdinOnce); attach without Stdin to watch its output", c.Name)}
		}
		if stdin, err = opener.OpenStdin(ctx, c.ID); err != nil {
			return 0, fmt.Errorf("attach to the stdin of %s/%s: %w", id, c.Name, err)
		}
	}

	// The output is followed from the log's end before any input goes in,
	// so that what the input makes the container write is not missed.
	followCtx, stopFollow := context.WithCancel(ctx)
	defer stopFollow()
	opened := make(chan struct{})
	markOpened := sync.OnceFunc(func() { close(opened) })
	followed := make(chan error, 1)
	go func() {
		err := e.opts.FollowLog(followCtx, g.logPath(c.Name, c.Attempt), aio.Stdout, aio.Stderr, markOpened)
		markOpened() // a follow that failed before it opened the log
		followed <- err
	}()
	<-opened
	if stdin != nil {
		go func() {
			// Ends when aio.Stdin does: its end, or the caller closing it
			// once the attach is over.
			_, _ = io.Copy(stdin, aio.Stdin)
			if err := stdin.Close(); err != nil {
				g.log.Debug("close an attach's stdin", "container", c.Name, "err", err)
			}
		}()
	}
	select {
	case err := <-followed:
		if err != nil && ctx.Err() == nil {
			return 0, fmt.Errorf("follow the output of %s/%s: %w", id, c.Name, err)
		}
	case <-ctx.Done():
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return g.runExitCode(ctx, c.Name, c.Attempt)
}

// appContainer returns the spec and status of an app container of the
// group ("" for the first).
func (g *group) appContainer(name string) (*api.Container, ContainerStatus, error) {
	st := g.snapshot()
	for i := range g.req.Container {
		spec := &g.req.Container[i]
		if name != "" && spec.Name != name {
			continue
		}
		for _, c := range st.Containers {
			if c.Name == spec.Name {
				return spec, c, nil
			}
		}
	}
	return nil, ContainerStatus{}, fmt.Errorf("container %s of %s: %w", name, g.id, ErrNotFound)
}

// runExitCode waits until the group's status shows the end of the
// container's run attempt, and returns its exit code.
func (g *group) runExitCode(ctx context.Context, name string, attempt int) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for st := range g.watch(ctx) {
		for _, c := range st.Containers {
			switch {
			case c.Name != name:
			case c.Attempt == attempt && c.Current.State != api.StateRunning && c.Current.State != api.StateWaiting:
				return c.Current.ExitCode, nil
			case c.Attempt != attempt && c.Previous != nil:
				return c.Previous.ExitCode, nil
			}
		}
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	return 0, errors.New("the group was deleted before its container's exit was known")
}
