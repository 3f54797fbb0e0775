package seethrough

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A caller that goes away while the create runs gets its context's error,
// and what the create made is removed.
func TestCreateUndoesWhatACallerThatLeftGot(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var removed []string
	got, err := Create(ctx, time.Minute, func(cctx context.Context) (string, error) {
		cancel() // the caller hangs up while the server makes the thing
		if cctx.Err() != nil {
			t.Error("the create's context ended with its caller's")
		}
		return "ctr-1", nil
	}, func(uctx context.Context, made string) error {
		if uctx.Err() != nil {
			t.Error("the removal's context has ended")
		}
		removed = append(removed, made)
		return nil
	})
	if !errors.Is(err, context.Canceled) || got != "" {
		t.Errorf("Create = %q, %v; want nothing and context.Canceled", got, err)
	}
	if len(removed) != 1 || removed[0] != "ctr-1" {
		t.Errorf("removed %q, want [ctr-1]", removed)
	}
}

func TestCreateLeavesWhatAPresentCallerGot(t *testing.T) {
	undone := false
	undo := func(context.Context, string) error { undone = true; return nil }
	got, err := Create(context.Background(), time.Minute, func(context.Context) (string, error) { return "ctr-1", nil }, undo)
	if err != nil || got != "ctr-1" || undone {
		t.Errorf("Create = %q, %v, undone %v; want ctr-1, no error, nothing undone", got, err, undone)
	}
	// A create that failed made nothing: its error is the answer, even
	// when the caller has gone too.
	ctx, cancel := context.WithCancel(context.Background())
	refused := errors.New("name in use")
	_, err = Create(ctx, time.Minute, func(context.Context) (string, error) { cancel(); return "", refused }, undo)
	if !errors.Is(err, refused) || undone {
		t.Errorf("Create = %v, undone %v; want the create's own error, nothing undone", err, undone)
	}
}

func TestCreateReportsARemovalThatFailed(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	busy := errors.New("device busy")
	_, err := Create(ctx, time.Minute, func(context.Context) (int, error) { cancel(); return 7, nil },
		func(context.Context, int) error { return busy })
	if !errors.Is(err, context.Canceled) || !errors.Is(err, busy) {
		t.Errorf("Create = %v; want both the caller's error and the removal's", err)
	}
}

// A caller already gone makes nothing: a task's create would start a shim
// only for the undo to stop it.
func TestCreateMakesNothingForACallerAlreadyGone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	created, undone := false, false
	_, err := Create(ctx, time.Minute, func(context.Context) (int, error) { created = true; return 1, nil },
		func(context.Context, int) error { undone = true; return nil })
	if !errors.Is(err, context.Canceled) || created || undone {
		t.Errorf("Create = %v, created %v, undone %v; want context.Canceled and nothing made", err, created, undone)
	}
}
