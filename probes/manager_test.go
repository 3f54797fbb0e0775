package probes

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"leci/api"
	"leci/pod"
)

// managerFixture is a Manager with a scripted Execer, in a synctest
// bubble: its delays and periods pass at once, when every goroutine of the
// test waits.
type managerFixture struct {
	t  *testing.T
	m  *Manager
	ex *fakeExec

	mu       sync.Mutex
	observed []Update
}

func newManagerFixture(t *testing.T) *managerFixture {
	f := &managerFixture{t: t, ex: &fakeExec{}}
	f.m = NewManager(f.ex, slog.New(slog.DiscardHandler), Options{
		Observe: func(u Update) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.observed = append(f.observed, u)
		},
	})
	return f
}

// execProbe is a probe with the kubelet's defaults and mutations applied.
func execProbe(mutate func(*api.Probe)) *api.Probe {
	p := &api.Probe{
		Exec:             &api.ExecAction{Command: []string{"check"}},
		PeriodSeconds:    10,
		TimeoutSeconds:   1,
		SuccessThreshold: 1,
		FailureThreshold: 3,
	}
	if mutate != nil {
		mutate(p)
	}
	return p
}

// step lets d pass and waits for the workers to wait again.
func (f *managerFixture) step(d time.Duration) {
	f.t.Helper()
	time.Sleep(d)
	synctest.Wait()
}

// expectWorkers checks that n workers are left once every goroutine waits.
func (f *managerFixture) expectWorkers(n int) {
	f.t.Helper()
	synctest.Wait()
	f.m.mu.Lock()
	got := len(f.m.workers)
	f.m.mu.Unlock()
	if got != n {
		f.t.Fatalf("workers: got %d, want %d", got, n)
	}
}

// expectUpdate receives the next update, which must be want.
func (f *managerFixture) expectUpdate(key Key, want Result) Update {
	f.t.Helper()
	synctest.Wait()
	select {
	case u := <-f.m.Updates():
		if u.Key != key || u.Result != want {
			f.t.Fatalf("update: got %+v, want %s for %+v", u, want, key)
		}
		return u
	default:
		f.t.Fatalf("no update, want %s for %+v", want, key)
	}
	return Update{}
}

// expectNoUpdate checks that nothing was published once every goroutine
// waits.
func (f *managerFixture) expectNoUpdate() {
	f.t.Helper()
	synctest.Wait()
	select {
	case u := <-f.m.Updates():
		f.t.Fatalf("unexpected update %+v", u)
	default:
	}
}

func (f *managerFixture) expectGet(key Key, want Result) {
	f.t.Helper()
	if got, ok := f.m.Get(key); !ok || got != want {
		f.t.Fatalf("Get: got %s %v, want %s", got, ok, want)
	}
}

func TestReadinessThresholdsAndInitialDelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Readiness}
		f.m.Start(context.Background(), key, execProbe(func(p *api.Probe) { p.InitialDelaySeconds = 5 }), Target{ContainerID: "c1"})
		defer f.m.Stop(key)
		synctest.Wait()
		f.expectGet(key, Failure) // not ready until proven so

		f.step(4 * time.Second)
		if n := f.ex.count(); n != 0 {
			t.Fatalf("probed %d times before the initial delay", n)
		}
		f.step(time.Second)
		if n := f.ex.count(); n != 1 {
			t.Fatalf("probed %d times at the initial delay, want 1", n)
		}
		f.expectUpdate(key, Success)
		f.expectGet(key, Success)

		// Three failures in a row, the FailureThreshold, make it unready; the
		// first two change nothing.
		f.ex.set(exitWith(1, "down"))
		f.step(10 * time.Second)
		f.step(10 * time.Second)
		f.expectNoUpdate()
		f.expectGet(key, Success)
		f.step(10 * time.Second)
		if u := f.expectUpdate(key, Failure); u.Message != "command exited with code 1: down" {
			t.Errorf("message: got %q", u.Message)
		}
		f.expectGet(key, Failure)
		// Readiness goes on probing after a failure, publishing nothing while
		// the result stays the same.
		f.step(10 * time.Second)
		f.expectNoUpdate()
		if n := f.ex.count(); n != 5 {
			t.Errorf("probes: got %d, want 5", n)
		}

		f.ex.set(nil)
		f.step(10 * time.Second)
		f.expectUpdate(key, Success)
	})
}

func TestUnknownIsNotAFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Readiness}
		f.m.Start(context.Background(), key, execProbe(func(p *api.Probe) { p.FailureThreshold = 2 }), Target{ContainerID: "c1"})
		defer f.m.Stop(key)
		synctest.Wait()
		f.expectUpdate(key, Success)

		couldNotRun := func(context.Context, []string) (pod.ExecResult, error) {
			return pod.ExecResult{}, errors.New("task not found")
		}
		for range 4 {
			f.ex.set(couldNotRun)
			f.step(10 * time.Second)
		}
		f.expectNoUpdate()
		f.expectGet(key, Success)

		// Failure, unknown, failure: the unknown neither counts nor breaks the
		// streak, so the threshold of 2 is reached.
		f.ex.set(exitWith(1, ""))
		f.step(10 * time.Second)
		f.ex.set(couldNotRun)
		f.step(10 * time.Second)
		f.expectNoUpdate()
		f.ex.set(exitWith(1, ""))
		f.step(10 * time.Second)
		f.expectUpdate(key, Failure)

		f.mu.Lock()
		defer f.mu.Unlock()
		var unknown int
		for _, u := range f.observed {
			if u.Result == Unknown {
				unknown++
			}
		}
		if len(f.observed) != 8 || unknown != 5 {
			t.Errorf("observed: got %d results with %d unknown, want 8 with 5", len(f.observed), unknown)
		}
	})
}

func TestSuccessThreshold(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Readiness}
		// The API allows only 1; the worker still honours larger values.
		f.m.Start(context.Background(), key, execProbe(func(p *api.Probe) { p.SuccessThreshold = 2 }), Target{ContainerID: "c1"})
		defer f.m.Stop(key)
		synctest.Wait()
		f.expectNoUpdate()
		f.step(10 * time.Second)
		f.expectUpdate(key, Success)
	})
}

func TestLivenessHoldsAfterFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		key := Key{GroupID: "g", Container: "app", Attempt: 2, Kind: Liveness}
		f.ex.set(exitWith(1, "dead"))
		f.m.Start(context.Background(), key, execProbe(func(p *api.Probe) {
			p.InitialDelaySeconds = 1
			p.FailureThreshold = 2
		}), Target{ContainerID: "c2"})
		synctest.Wait()
		f.expectGet(key, Success) // alive until proven dead

		f.step(time.Second)
		f.expectNoUpdate()
		f.step(10 * time.Second)
		f.expectUpdate(key, Failure)
		f.expectGet(key, Failure)

		// On hold: no probe, however long the wait; the worker stays
		// until it is stopped.
		f.step(time.Hour)
		if n := f.ex.count(); n != 2 {
			t.Errorf("probes: got %d, want 2 (none after the failure)", n)
		}
		f.expectNoUpdate()

		f.expectWorkers(1)
		f.m.Stop(key)
		if _, ok := f.m.Get(key); ok {
			t.Error("Get after Stop: still a result")
		}
		f.expectWorkers(0)
		// The next attempt is a new worker that starts alive.
		next := key
		next.Attempt = 3
		f.ex.set(nil)
		f.m.Start(context.Background(), next, execProbe(nil), Target{ContainerID: "c3"})
		defer f.m.Stop(next)
		f.expectGet(next, Success)
		synctest.Wait()
		f.expectNoUpdate()
	})
}

func TestInitialDelayCountsFromStartedAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Readiness}
		started := time.Now().Add(-25 * time.Second)
		f.m.Start(context.Background(), key, execProbe(func(p *api.Probe) { p.InitialDelaySeconds = 30 }), Target{ContainerID: "c1", StartedAt: started})
		defer f.m.Stop(key)
		synctest.Wait()
		f.step(4 * time.Second)
		if n := f.ex.count(); n != 0 {
			t.Fatalf("probed %d times before the delay", n)
		}
		f.step(time.Second)
		f.expectUpdate(key, Success)
	})
}

func TestStopAbortsProbeInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		ended := make(chan error, 1)
		release := make(chan struct{})
		f.ex.set(func(ctx context.Context, _ []string) (pod.ExecResult, error) {
			<-ctx.Done()
			ended <- ctx.Err()
			<-release // the exec returns only after Stop has
			return pod.ExecResult{}, ctx.Err()
		})
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Liveness}
		// A long timeout: only the stop can end this exec.
		f.m.Start(context.Background(), key, execProbe(func(p *api.Probe) { p.TimeoutSeconds = 3600 }), Target{ContainerID: "c1"})
		synctest.Wait()
		if f.ex.count() != 1 {
			t.Fatalf("%d probes in flight, want 1", f.ex.count())
		}
		// Stop does not wait for the exec: were it to, the bubble would
		// deadlock here, since the exec returns only after release.
		f.m.Stop(key)
		f.m.Stop(key) // idempotent
		synctest.Wait()
		select {
		case err := <-ended:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("exec ended with %v, want cancelled", err)
			}
		default:
			t.Fatal("the exec in flight was not cancelled")
		}
		close(release)
		f.expectWorkers(0)
		f.expectNoUpdate()
		if _, ok := f.m.Get(key); ok {
			t.Error("Get after Stop: still a result")
		}
	})
}

func TestStopAllAndDuplicates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		ctx := context.Background()
		keys := []Key{
			{GroupID: "a", Container: "x", Attempt: 1, Kind: Readiness},
			{GroupID: "a", Container: "x", Attempt: 1, Kind: Liveness},
			{GroupID: "b", Container: "x", Attempt: 1, Kind: Readiness},
		}
		p := execProbe(func(p *api.Probe) { p.InitialDelaySeconds = 100 })
		for _, k := range keys {
			f.m.Start(ctx, k, p, Target{ContainerID: "c"})
		}
		f.m.Start(ctx, keys[0], p, Target{ContainerID: "c"}) // already running: nothing
		f.m.Start(ctx, Key{GroupID: "c", Kind: Kind(9)}, p, Target{})
		f.m.Start(ctx, Key{GroupID: "c", Kind: Readiness}, nil, Target{})
		f.expectWorkers(3)

		f.m.StopAll("a")
		f.m.StopAll("a")
		f.m.StopAll("nothing")
		f.expectWorkers(1)
		for i, k := range keys {
			_, ok := f.m.Get(k)
			if want := i == 2; ok != want {
				t.Errorf("Get(%+v) after StopAll(a): got %v, want %v", k, ok, want)
			}
		}
		f.m.Stop(keys[2])
		f.expectWorkers(0)
	})
}

func TestWorkersEndWithTheirContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		ctx, cancel := context.WithCancel(context.Background())
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Readiness}
		f.m.Start(ctx, key, execProbe(nil), Target{ContainerID: "c"})
		synctest.Wait()
		f.expectWorkers(1)
		cancel()
		f.expectWorkers(0)
		if _, ok := f.m.Get(key); ok {
			t.Fatal("the worker's result outlived its context")
		}
	})
}

func TestPeriodIsStartToStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newManagerFixture(t)
		key := Key{GroupID: "g", Container: "web", Attempt: 1, Kind: Readiness}
		f.m.Start(context.Background(), key, execProbe(nil), Target{ContainerID: "c"})
		defer f.m.Stop(key)
		synctest.Wait()
		for i := 2; i <= 4; i++ {
			f.step(9 * time.Second)
			if n := f.ex.count(); n != i-1 {
				t.Fatalf("probes after %d periods less a second: got %d, want %d", i-1, n, i-1)
			}
			f.step(time.Second)
			if n := f.ex.count(); n != i {
				t.Fatalf("probes after %d periods: got %d, want %d", i-1, n, i)
			}
		}
	})
}
