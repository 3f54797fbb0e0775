package runtime

import (
	"context"
	"log/slog"
	"time"

	"leci/pod"
)

// Available tells whether the engine can act on groups now: nil when its
// backend answers, else an error wrapping pod.ErrUnavailable.
//
// While the backend is away the engine keeps what it knows: reads (Get,
// List, Watch, the log files) work, and the groups' containers run on. What
// would need the backend (Create, Delete, Restart, Exec) is refused with this
// error before anything is done, so that nothing is half done or lost; the
// supervisors pick up the exits that happened meanwhile once it is back.
func (e *Engine) Available(ctx context.Context) error {
	if p, ok := e.backend.(pod.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// availablePoll is how often awaitAvailable asks the backend again.
const availablePoll = time.Second

// awaitAvailable waits until the backend answers again; false when ctx
// ended first.
func (e *Engine) awaitAvailable(ctx context.Context, log *slog.Logger) bool {
	log.Warn("container runtime unreachable; waiting for it")
	t := time.NewTicker(availablePoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
		if e.Available(ctx) == nil {
			log.Info("container runtime is back")
			return true
		}
	}
}
