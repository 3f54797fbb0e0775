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

// settleOrphanShimsInBackground is removeOrphanShims for a daemon starting,
// maybe right after one was killed: containerd may not have forgotten the
// shims yet, and the daemon does not wait for it.
func settleOrphanShimsInBackground(ctx context.Context, env *host.Host, log *slog.Logger) {
	if env.Conn == nil {
		return
	}
	go func() {
		if err := env.Conn.SettleOrphanShims(ctx); err != nil && ctx.Err() == nil {
			log.Warn("stop orphaned shims", "err", err)
		}
	}()
}
