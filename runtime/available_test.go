package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"

	"leci/api"
	"leci/pod"
)

// awayBackend is the fake backend with a runtime that can be made
// unreachable.
type awayBackend struct {
	*fakeBackend
	mu  sync.Mutex
	err error
}

func (b *awayBackend) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *awayBackend) setAway(away bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = nil
	if away {
		b.err = fmt.Errorf("%w: containerd at /x.sock does not answer", pod.ErrUnavailable)
	}
}

// memRecorder keeps the last status saved of each group.
type memRecorder struct {
	mu     sync.Mutex
	groups map[string]GroupStatus
}

func (r *memRecorder) Save(st GroupStatus) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups[st.ID] = st
	return nil
}

func (r *memRecorder) Remove(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.groups, id)
	return nil
}

func (r *memRecorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.groups[id]
	return ok
}

// While the runtime is away, the engine refuses what needs it, with an
// error wrapping pod.ErrUnavailable, and changes nothing; reads go on. Once
// it is back, everything works again.
func TestRuntimeAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &awayBackend{fakeBackend: newFakeBackend()}
		b.scripts["app"] = []int{-1}
		rec := &memRecorder{groups: map[string]GroupStatus{}}
		e := testEngine(t, b, &fakeNet{}, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff, Recorder: rec}, slog.New(slog.DiscardHandler))
		ctx := context.Background()

		id, err := e.Create(ctx, testRequest("Always", nil, []string{"app"}))
		if err != nil {
			t.Fatal(err)
		}
		// Recorded before the id was answered, so a crash cannot lose it.
		if !rec.has(id) {
			t.Errorf("group %s was not recorded when Create returned", id)
		}
		waitFor(t, e, id, phaseIs(api.GroupRunning))

		b.setAway(true)
		if _, err := e.Create(ctx, testRequest("Always", nil, []string{"app"})); !errors.Is(err, pod.ErrUnavailable) {
			t.Errorf("Create while away: %v, want ErrUnavailable", err)
		}
		if n := len(e.List()); n != 1 {
			t.Errorf("%d groups after a refused create, want 1", n)
		}
		if err := e.Delete(ctx, id); !errors.Is(err, pod.ErrUnavailable) {
			t.Errorf("Delete while away: %v, want ErrUnavailable", err)
		}
		if err := e.Restart(ctx, id); !errors.Is(err, pod.ErrUnavailable) {
			t.Errorf("Restart while away: %v, want ErrUnavailable", err)
		}
		if _, err := e.Exec(ctx, id, "app", []string{"true"}, 100); !errors.Is(err, pod.ErrUnavailable) {
			t.Errorf("Exec while away: %v, want ErrUnavailable", err)
		}
		if err := e.Delete(ctx, "eci-unknown"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete of an unknown group while away: %v, want ErrNotFound", err)
		}
		st, err := e.Get(id)
		if err != nil || st.Phase != api.GroupRunning || st.Containers[0].RestartCount != 0 {
			t.Fatalf("group while away: %v %+v, want Running with no restart", err, st.Containers)
		}
		if !rec.has(id) {
			t.Errorf("group %s left the record while away", id)
		}
		b.mu.Lock()
		stopped := len(b.stopped)
		b.mu.Unlock()
		if stopped != 0 {
			t.Errorf("%d containers stopped while away, want none", stopped)
		}

		b.setAway(false)
		if err := e.Delete(ctx, id); err != nil {
			t.Fatalf("Delete once back: %v", err)
		}
		if rec.has(id) || len(e.List()) != 0 {
			t.Errorf("group left after delete")
		}
	})
}

// outageBackend is awayBackend whose runtime goes away while the next
// sandbox starts.
type outageBackend struct {
	*awayBackend
	attempts chan struct{}
}

func (b *outageBackend) StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (pod.Sandbox, error) {
	select {
	case b.attempts <- struct{}{}:
		b.setAway(true)
		return pod.Sandbox{}, fmt.Errorf("start sandbox: %w", pod.ErrUnavailable)
	default:
		return b.awayBackend.StartSandbox(ctx, cfg)
	}
}

// A runtime that goes away while a group is being set up does not fail the
// group: what was made is undone, and the group is set up again once the
// runtime is back.
func TestSetupInterruptedByOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &outageBackend{awayBackend: &awayBackend{fakeBackend: newFakeBackend()}, attempts: make(chan struct{}, 1)}
		b.scripts["app"] = []int{-1}
		n := &fakeNet{}
		e := testEngine(t, b, n, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff}, slog.New(slog.DiscardHandler))
		id, err := e.Create(context.Background(), testRequest("Always", nil, []string{"app"}))
		if err != nil {
			t.Fatal(err)
		}
		// The first sandbox start fails as containerd goes away.
		waitFor(t, e, id, func(st GroupStatus) bool {
			for _, ev := range st.Events {
				if ev.Reason == "FailedCreatePodSandBox" {
					return true
				}
			}
			return false
		})
		if st, _ := e.Get(id); st.Phase == api.GroupFailed {
			t.Fatalf("group failed while the runtime was away: %s", st.Message)
		}
		b.setAway(false)
		st := waitFor(t, e, id, phaseIs(api.GroupRunning))
		if st.Containers[0].RestartCount != 0 {
			t.Errorf("restarts %d, want 0", st.Containers[0].RestartCount)
		}
		if err := e.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
}
