package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"leci/api"
	"leci/pod"
	"leci/runtime"
)

// stdinContainer is the one app container of req with Stdin, which
// leci run -i forwards its standard input to; anything else is a usage
// error (exit 2), found before the group is made.
func stdinContainer(req *api.CreateContainerGroupRequest) (string, error) {
	var names []string
	for _, c := range req.Container {
		if c.Stdin {
			names = append(names, c.Name)
		}
	}
	switch len(names) {
	case 1:
		return names[0], nil
	case 0:
		return "", usageErrorf("leci run -i forwards its standard input to the group's container with Stdin: true, and this group has none")
	}
	return "", usageErrorf("leci run -i forwards its standard input to the group's one container with Stdin: true, and this group has %d (%v); attach to one with leci attach -i -c NAME", len(names), names)
}

// forwardStdin attaches in to the stdin of container of group id once the
// container runs, for its first run: the output is shown by the run
// itself. It returns at once; the attach ends with the run, or with ctx.
func forwardStdin(ctx context.Context, eng *runtime.Engine, id, container string, in io.Reader, stderr io.Writer, log *slog.Logger) {
	go func() {
		watchCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		updates, err := eng.Watch(watchCtx, id)
		if err != nil {
			return
		}
		for st := range updates {
			for _, c := range st.Containers {
				if c.Name != container {
					continue
				}
				if c.Current.State == api.StateTerminated {
					return // it ended before it could be attached to
				}
				if c.Current.State != api.StateRunning {
					continue
				}
				cancel()
				if _, err := eng.Attach(ctx, id, container, pod.ExecIO{Stdin: in}); err != nil && ctx.Err() == nil {
					fmt.Fprintf(stderr, "leci: forward standard input to %s: %v\n", container, err)
				}
				log.Debug("standard input forwarded", "container", container)
				return
			}
		}
	}()
}
