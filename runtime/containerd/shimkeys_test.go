package containerd

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"

	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"leci/pod"
)

func TestShimKeysShareAShimWhileATaskKeepsItUp(t *testing.T) {
	s := newShimKeys()
	first := s.next("eci-1")
	if other := s.next("eci-2"); other == first {
		t.Fatalf("two groups share the key %q", first)
	}
	// Three containers of a new group created at once: one shim.
	var dones []func(bool)
	for _, id := range []string{"init", "app1", "app2"} {
		key, done := s.beginCreate("eci-1", id)
		if key != first {
			t.Fatalf("task %s under %q, want the key its spec was made with, %q", id, key, first)
		}
		dones = append(dones, done)
	}
	for _, done := range dones {
		done(true)
	}
	// The init container's task goes; the apps keep the shim up.
	s.deleting(context.Background(), "init")
	if key, done := s.beginCreate("eci-1", "app1-restart"); key != first {
		t.Errorf("a restart while the shim serves two tasks went to %q, want %q", key, first)
	} else {
		done(true)
	}
	for _, id := range []string{"app1", "app2", "app1-restart"} {
		s.deleting(context.Background(), id)
	}
	// The last task went, so its shim is exiting: the next task gets a shim
	// of its own.
	if key := s.next("eci-1"); key == first {
		t.Errorf("after the shim's last task was deleted, the group's key is still %q", key)
	}
}

// A group's init containers share a shim, and its app containers another;
// forget drops both keys of a removed group.
func TestShimKeysInitContainersApart(t *testing.T) {
	s := newShimKeys()
	app := s.next(shimGroup("eci-1", pod.KindApp))
	init := s.next(shimGroup("eci-1", pod.KindInit))
	if app == init {
		t.Fatalf("init and app containers share the key %q", app)
	}
	if again := s.next(shimGroup("eci-1", pod.KindInit)); again != init {
		t.Errorf("a second init container gets %q, want its group's init key %q", again, init)
	}
	s.forget("eci-1")
	if len(s.current) != 0 {
		t.Errorf("keys kept after the group was forgotten: %v", s.current)
	}
}

func TestShimKeysLastDeleteWaitsForACreationOnTheShim(t *testing.T) {
	synctest.Test(t, testLastDeleteWaits)
}

func testLastDeleteWaits(t *testing.T) {
	s := newShimKeys()
	key, done := s.beginCreate("eci-1", "a")
	done(true)
	key2, done2 := s.beginCreate("eci-1", "b") // under way
	if key2 != key {
		t.Fatalf("second task under %q, want %q", key2, key)
	}
	deleted := make(chan struct{})
	go func() {
		s.deleting(context.Background(), "a")
		close(deleted)
	}()
	synctest.Wait()
	select {
	case <-deleted:
		t.Fatal("the shim's last task was deleted while a task was being created on it")
	default:
	}
	done2(true)
	<-deleted
	// b now keeps the shim up.
	if k, done := s.beginCreate("eci-1", "c"); k != key {
		t.Errorf("with b's task up, c went to %q, want %q", k, key)
	} else {
		done(false)
	}
}

func TestShimKeysFailedCreationRetiresAnUnusedShim(t *testing.T) {
	s := newShimKeys()
	key, done := s.beginCreate("eci-1", "a")
	done(false) // the shim may have started and is going away
	if k := s.next("eci-1"); k == key {
		t.Errorf("after a failed creation on a shim with no task, the key is still %q", k)
	}
	s.deleting(context.Background(), "a") // never created: nothing to do
	s.forget("eci-1")
	if len(s.current) != 0 || len(s.byTask) != 0 {
		t.Errorf("kept after the group was removed: %v %v", s.current, s.byTask)
	}
}

// TestIsShimClosed: the error a task delete returns when its shim stopped
// under it, as it crosses containerd's gRPC API, is told apart from others.
func TestIsShimClosed(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{ttrpc.ErrClosed, true},
		{fmt.Errorf("delete: %w", ttrpc.ErrClosed), true},
		{errgrpc.ToNative(status.Error(codes.Unknown, "ttrpc: closed")), true},
		{errgrpc.ToNative(status.Error(codes.NotFound, "task x not found")), false},
		{errors.New("context deadline exceeded"), false},
	} {
		if got := isShimClosed(c.err); got != c.want {
			t.Errorf("isShimClosed(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
