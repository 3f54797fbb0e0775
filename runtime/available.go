package runtime

import "context"

// Pinger is implemented by a backend whose runtime can go away while leci
// runs (containerd stopped or restarting). Ping answers nil when the runtime
// answers, else an error wrapping pod.ErrUnavailable.
//
// It is optional, not part of Backend: a backend without it is taken to be
// always there.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Available tells whether the engine can act on groups now: nil when its
// backend answers, else an error wrapping pod.ErrUnavailable.
//
// While the backend is away the engine keeps what it knows: reads (Get,
// List, Watch, the log files) work, and the groups' containers run on. What
// would need the backend (Create, Delete, Restart, Exec) is refused with this
// error before anything is done, so that nothing is half done or lost; the
// supervisors pick up the exits that happened meanwhile once it is back.
func (e *Engine) Available(ctx context.Context) error {
	if p, ok := e.backend.(Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}
