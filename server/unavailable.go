package server

import (
	"context"

	"leci/runtime"
)

// CodeServiceUnavailable answers, with HTTP 503, a request that needs the
// container runtime (create, delete, restart, exec) while it cannot be
// reached (containerd stopped or restarting). Nothing was done; the request
// may be sent again once the runtime is back. It is Alibaba Cloud's code for
// a temporary failure of a service.
const CodeServiceUnavailable = "ServiceUnavailable"

// Availability is implemented by a Groups whose runtime can go away while
// the daemon serves (*runtime.Engine: containerd stopped or restarting).
// Available answers nil when the runtime answers, else an error wrapping
// pod.ErrUnavailable.
type Availability interface {
	Available(ctx context.Context) error
}

var _ Availability = (*runtime.Engine)(nil)

// available tells whether the groups' runtime can be reached; a Groups that
// cannot tell is taken to be always there.
func (s *Server) available(ctx context.Context) error {
	if a, ok := s.opts.Groups.(Availability); ok {
		return a.Available(ctx)
	}
	return nil
}
