package main

import (
	"context"
	"log/slog"

	"leci/host"
)

// removeOrphanShims stops the containerd shims that containerd forgot when
// a leci was killed while it created a task: they would otherwise run for
// ever, each with the log writer of a task that is gone.
func removeOrphanShims(ctx context.Context, env *host.Host, log *slog.Logger) {
	if env.Conn == nil {
		return
	}
	if err := env.Conn.RemoveOrphanShims(ctx); err != nil {
		log.Warn("stop orphaned shims", "err", err)
	}
}
