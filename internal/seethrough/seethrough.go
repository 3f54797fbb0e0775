// Package seethrough runs a create that the server finishes even when its
// caller goes away, so that what it makes is never left behind.
//
// A container runtime's API server (dockerd, containerd and its shims)
// goes on with a create whose client hung up: the container or task it
// makes then appears after whatever removal the caller tried, and stays
// (a group deleted while one of its containers restarts). Create waits for
// the answer whatever happens to its caller, and undoes what was made if
// the caller has gone meanwhile.
package seethrough

import (
	"context"
	"fmt"
	"time"
)

// Create calls create with a context that ctx's end does not cancel,
// bounded by timeout. If ctx ended meanwhile and create made something,
// undo removes it (bounded by timeout too) and ctx's error is returned;
// undo treats a thing already gone as removed. A caller gone before the
// create begins gets ctx's error, and nothing is made: there is nothing
// to see through.
func Create[T any](ctx context.Context, timeout time.Duration, create func(context.Context) (T, error), undo func(context.Context, T) error) (T, error) {
	var none T
	if err := ctx.Err(); err != nil {
		return none, err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	made, err := create(cctx)
	if err != nil || ctx.Err() == nil {
		return made, err
	}
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer ucancel()
	if uerr := undo(uctx, made); uerr != nil {
		return none, fmt.Errorf("%w (and what was made meanwhile was not removed: %w)", ctx.Err(), uerr)
	}
	return none, ctx.Err()
}
