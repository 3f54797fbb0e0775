package containerd

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestUnreachable(t *testing.T) {
	refused := status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial unix /x.sock: connect: connection refused"`)
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"gRPC status, as a broken wait stream gives it", refused, true},
		{"wrapped gRPC status", fmt.Errorf("load container x: %w", refused), true},
		{"as the client translates it", errgrpc.ToNative(refused), true},
		{"wrapped errdefs class", fmt.Errorf("task: %w", errdefs.ErrUnavailable), true},
		{"not found: containerd answered", errgrpc.ToNative(status.Error(codes.NotFound, "no such task")), false},
		{"internal: containerd answered", status.Error(codes.Internal, "shim broke"), false},
		{"plain error", errors.New("something else"), false},
	} {
		if got := unreachable(tc.err); got != tc.want {
			t.Errorf("%s: unreachable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// An exit watcher gives up only after waitRetryFor of failures with
// containerd answering; time in which containerd cannot be reached, however
// long, does not count.
func TestWaitFailuresIgnoreOutages(t *testing.T) {
	away := status.Error(codes.Unavailable, "connection refused")
	broken := status.Error(codes.Internal, "wait broke")
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

	var w waitFailures
	for i := 0; i < 600; i++ { // ten minutes of outage, a try a second
		if w.giveUp(away, at.Add(time.Duration(i)*time.Second)) {
			t.Fatalf("gave up %d s into an outage of containerd", i)
		}
	}
	// containerd answers again, but the wait keeps failing.
	start := at.Add(600 * time.Second)
	if w.giveUp(broken, start.Add(waitRetryFor-time.Second)) {
		t.Error("gave up before waitRetryFor of failures with containerd answering")
	}
	if !w.giveUp(broken, start.Add(waitRetryFor+time.Second)) {
		t.Error("did not give up after waitRetryFor of failures with containerd answering")
	}

	// An outage in the middle starts the count again.
	w = waitFailures{}
	w.giveUp(broken, at)
	w.giveUp(away, at.Add(waitRetryFor/2))
	if w.giveUp(broken, at.Add(waitRetryFor+time.Second)) {
		t.Error("an outage did not start the count again")
	}
}
