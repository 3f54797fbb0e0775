package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"leci/api"
	"leci/pod"
)

var fastBackoff = Backoff{Base: 5 * time.Millisecond, Max: 20 * time.Millisecond, ResetAfter: time.Minute}

func testRequest(policy string, inits []string, apps []string) *api.CreateContainerGroupRequest {
	req := &api.CreateContainerGroupRequest{ContainerGroupName: "test-group", RestartPolicy: policy}
	for _, n := range inits {
		req.InitContainer = append(req.InitContainer, api.InitContainer{ContainerCommon: api.ContainerCommon{Name: n, Image: "img:1"}})
	}
	for _, n := range apps {
		req.Container = append(req.Container, api.Container{ContainerCommon: api.ContainerCommon{Name: n, Image: "img:1"}})
	}
	req.SetDefaults()
	if err := req.Validate(); err != nil {
		panic(err)
	}
	return req
}

func newTestEngine(t *testing.T, b *fakeBackend, n *fakeNet) *Engine {
	if n == nil {
		n = &fakeNet{}
	}
	return testEngine(t, b, n, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff}, slog.New(slog.DiscardHandler))
}

// testEngine is New for a test that runs in a synctest bubble: when the
// test ends, the engine's goroutines and the fake's runs end with it, as
// the bubble requires.
func testEngine(t *testing.T, b Backend, n Networker, v Volumes, opts Options, log *slog.Logger) *Engine {
	e := New(b, n, v, opts, log)
	t.Cleanup(func() {
		e.Shutdown()
		e.cancel()
		if r, ok := b.(interface{ release() }); ok {
			r.release()
		}
	})
	return e
}

// waitFor watches the group until cond holds, failing after a bound.
func waitFor(t *testing.T, e *Engine, id string, cond func(GroupStatus) bool) GroupStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := e.Watch(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var last GroupStatus
	for st := range ch {
		last = st
		if cond(st) {
			return st
		}
	}
	t.Fatalf("condition not reached; last status: phase %s, init %+v, apps %+v", last.Phase, last.InitContainers, last.Containers)
	return last
}

func phaseIs(p api.GroupStatus) func(GroupStatus) bool {
	return func(st GroupStatus) bool { return st.Phase == p }
}

func TestInitContainersInOrderThenApps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["init-a"] = []int{0}
		b.scripts["init-b"] = []int{0}
		b.scripts["app"] = []int{0}
		b.scripts["side"] = []int{0}
		e := newTestEngine(t, b, nil)
		id, err := e.Create(context.Background(), testRequest(api.RestartNever, []string{"init-a", "init-b"}, []string{"app", "side"}))
		if err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, e, id, phaseIs(api.GroupSucceeded))
		got := b.starts()
		if len(got) != 4 || got[0] != "init-a" || got[1] != "init-b" {
			t.Fatalf("start order = %v, want init-a, init-b, then the apps", got)
		}
		for _, c := range append(st.InitContainers, st.Containers...) {
			if c.Current.State != api.StateTerminated || c.Current.Reason != ReasonCompleted || c.RestartCount != 0 {
				t.Errorf("%s: %+v restarts %d, want Terminated Completed once", c.Name, c.Current, c.RestartCount)
			}
		}
		if err := e.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if b.sandboxes != 0 || len(b.live) != 0 {
			t.Errorf("after delete: %d sandboxes, %d containers left", b.sandboxes, len(b.live))
		}
		if _, err := e.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after delete = %v, want ErrNotFound", err)
		}
	})
}

func TestFailedInitUnderNeverFailsGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["init"] = []int{3}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartNever, []string{"init"}, []string{"app"}))
		st := waitFor(t, e, id, phaseIs(api.GroupFailed))
		if got := b.starts(); !slices.Equal(got, []string{"init"}) {
			t.Errorf("starts = %v, want only init", got)
		}
		if c := st.Containers[0]; c.Started || c.Current.State != api.StateWaiting {
			t.Errorf("app = %+v, want never started", c)
		}
		if c := st.InitContainers[0]; c.Current.ExitCode != 3 || c.Current.Reason != ReasonError {
			t.Errorf("init = %+v, want Terminated Error code 3", c.Current)
		}
		e.Delete(context.Background(), id)
	})
}

func TestFailedInitUnderAlwaysRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["init"] = []int{1, 1, 0}
		b.scripts["app"] = []int{-1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, []string{"init"}, []string{"app"}))
		st := waitFor(t, e, id, phaseIs(api.GroupRunning))
		if got := b.starts(); !slices.Equal(got, []string{"init", "init", "init", "app"}) {
			t.Errorf("starts = %v, want init three times, then app", got)
		}
		if c := st.InitContainers[0]; c.RestartCount != 2 || c.Previous == nil || c.Previous.ExitCode != 1 {
			t.Errorf("init = restarts %d previous %+v, want 2 restarts after exit 1", c.RestartCount, c.Previous)
		}
		e.Delete(context.Background(), id)
	})
}

func TestRestartPolicies(t *testing.T) {
	cases := []struct {
		policy       string
		script       []int
		wantPhase    api.GroupStatus
		wantRestarts int
	}{
		{api.RestartNever, []int{1}, api.GroupFailed, 0},
		{api.RestartNever, []int{0}, api.GroupSucceeded, 0},
		{api.RestartOnFailure, []int{1, 1, 0}, api.GroupSucceeded, 2},
		{api.RestartOnFailure, []int{0}, api.GroupSucceeded, 0},
	}
	for _, tc := range cases {
		t.Run(tc.policy, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newFakeBackend()
				b.scripts["app"] = tc.script
				e := newTestEngine(t, b, nil)
				id, _ := e.Create(context.Background(), testRequest(tc.policy, nil, []string{"app"}))
				st := waitFor(t, e, id, func(st GroupStatus) bool { return st.Terminal() })
				if st.Phase != tc.wantPhase || st.Containers[0].RestartCount != tc.wantRestarts {
					t.Errorf("phase %s restarts %d, want %s and %d", st.Phase, st.Containers[0].RestartCount, tc.wantPhase, tc.wantRestarts)
				}
				e.Delete(context.Background(), id)
			})
		})
	}
}

func TestAlwaysRestartsEvenOnSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{0, 0, -1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, e, id, func(st GroupStatus) bool {
			return st.Containers[0].RestartCount == 2 && st.Containers[0].Current.State == api.StateRunning
		})
		if st.Phase != api.GroupRunning {
			t.Errorf("phase = %s, want Running", st.Phase)
		}
		e.Delete(context.Background(), id)
	})
}

func TestImagePullFailureWaitsAndRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.pullErr["img:1"] = pod.ErrImagePull
		b.scripts["app"] = []int{-1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		waitFor(t, e, id, func(st GroupStatus) bool { return st.Containers[0].Current.Reason == ReasonErrImagePull })
		waitFor(t, e, id, func(st GroupStatus) bool { return st.Containers[0].Current.Reason == ReasonImagePullBackOff })
		b.mu.Lock()
		b.pullErr["img:1"] = nil
		b.mu.Unlock()
		waitFor(t, e, id, phaseIs(api.GroupRunning))
		e.Delete(context.Background(), id)
	})
}

func TestImageNeverPull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.pullErr["img:1"] = pod.ErrImageNeverPull
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, e, id, func(st GroupStatus) bool { return st.Containers[0].Current.Reason == ReasonErrImageNeverPull })
		if st.Phase != api.GroupPending {
			t.Errorf("phase = %s, want Pending", st.Phase)
		}
		e.Delete(context.Background(), id)
	})
}

func TestCreateConfigError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.createFail["app"] = pod.ErrCreateConfig
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		waitFor(t, e, id, func(st GroupStatus) bool { return st.Containers[0].Current.Reason == ReasonCreateConfigError })
		e.Delete(context.Background(), id)
		if len(b.live) != 0 {
			t.Errorf("containers left: %v", b.live)
		}
	})
}

// A container's name held by something not of its group (the backend
// says ErrNameTaken) keeps the container waiting, and the engine leaves
// that something alone rather than remove it as its own half-made run.
func TestNameTakenIsLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.createFail["app"] = fmt.Errorf("create: %w", pod.ErrNameTaken)
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		taken := id + "-app-1"
		b.mu.Lock()
		b.live[taken] = &fakeContainer{cfg: pod.ContainerConfig{ID: taken, GroupID: "eci-another"}, stop: make(chan struct{})}
		b.mu.Unlock()
		waitFor(t, e, id, func(st GroupStatus) bool {
			return st.Containers[0].Current.Reason == ReasonCreateContainerErr && st.Containers[0].Backoff >= 3
		})
		b.mu.Lock()
		_, kept := b.live[taken]
		b.mu.Unlock()
		if !kept {
			t.Errorf("%s, which is not the group's, was removed", taken)
		}
		e.Delete(context.Background(), id)
	})
}

func TestSetupFailureFailsGroupAndDeleteCleans(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		n := &fakeNet{fail: errors.New("no bridge")}
		e := newTestEngine(t, b, n)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, e, id, phaseIs(api.GroupFailed))
		if st.Message == "" {
			t.Error("failed group has no message")
		}
		if err := e.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if n.teardowns != 1 {
			t.Errorf("teardowns = %d, want 1 (delete undoes setup even when it failed)", n.teardowns)
		}
	})
}

func TestDeleteStopsRunningContainers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["a"] = []int{-1}
		b.scripts["b"] = []int{-1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"a", "b"}))
		waitFor(t, e, id, phaseIs(api.GroupRunning))
		if err := e.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if len(b.stopped) != 2 || len(b.live) != 0 || b.sandboxes != 0 {
			t.Errorf("stopped %v, live %d, sandboxes %d; want both stopped, nothing left", b.stopped, len(b.live), b.sandboxes)
		}
	})
}

func TestActiveDeadlineExpiresGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		e := newTestEngine(t, b, nil)
		req := testRequest(api.RestartAlways, nil, []string{"app"})
		req.ActiveDeadlineSeconds = 1
		id, _ := e.Create(context.Background(), req)
		st := waitFor(t, e, id, phaseIs(api.GroupExpired))
		if c := st.Containers[0]; c.Current.State != api.StateTerminated || c.Current.ExitCode != 137 || c.RestartCount != 0 {
			t.Errorf("app = %+v restarts %d, want stopped once (137) and not restarted", c.Current, c.RestartCount)
		}
		found := false
		for _, ev := range st.Events {
			found = found || ev.Reason == ReasonDeadlineExceeded
		}
		if !found {
			t.Errorf("no DeadlineExceeded event in %+v", st.Events)
		}
		e.Delete(context.Background(), id)
	})
}

func TestDeleteRecordsHowContainersEnded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		waitFor(t, e, id, phaseIs(api.GroupRunning))
		ch, _ := e.Watch(context.Background(), id)
		e.Delete(context.Background(), id)
		var last GroupStatus
		for st := range ch {
			last = st
		}
		if last.Phase != api.GroupTerminating || last.Containers[0].Current.ExitCode != 137 {
			t.Errorf("last status: %s, app %+v; want Terminating with the app's exit 137", last.Phase, last.Containers[0].Current)
		}
	})
}

func TestDescribeHidesEnvironment(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		req := testRequest(api.RestartNever, nil, []string{"app", "secret"})
		req.Container[0].EnvironmentVar = []api.EnvironmentVar{{Key: "A", Value: "1"}}
		req.Container[1].EnvironmentVar = []api.EnvironmentVar{{Key: "TOKEN", Value: "hunter2"}}
		req.Container[1].EnvironmentVarHide = true
		b := newFakeBackend()
		b.scripts["app"], b.scripts["secret"] = []int{0}, []int{0}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), req)
		st := waitFor(t, e, id, phaseIs(api.GroupSucceeded))
		d := Describe(st)
		if len(d.Containers[0].EnvironmentVars) != 1 || len(d.Containers[1].EnvironmentVars) != 0 {
			t.Errorf("env shown: %+v / %+v; want the hidden one empty", d.Containers[0].EnvironmentVars, d.Containers[1].EnvironmentVars)
		}
		if d.Status != api.GroupSucceeded || d.Containers[1].CurrentState.Reason != ReasonCompleted || d.IntranetIP != "10.89.0.7" {
			t.Errorf("describe = %+v", d)
		}
		e.Delete(context.Background(), id)
	})
}

func TestRestartRunsInitAgain(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["init"] = []int{0}
		b.scripts["app"] = []int{-1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, []string{"init"}, []string{"app"}))
		waitFor(t, e, id, phaseIs(api.GroupRunning))
		if err := e.Restart(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, e, id, func(st GroupStatus) bool {
			return st.Phase == api.GroupRunning && st.Containers[0].RestartCount == 1
		})
		if got := b.starts(); !slices.Equal(got, []string{"init", "app", "init", "app"}) {
			t.Errorf("starts = %v, want init and app twice", got)
		}
		if p := st.Containers[0].Previous; p == nil || p.ExitCode != 137 {
			t.Errorf("app previous = %+v, want the stopped run (137)", p)
		}
		e.Delete(context.Background(), id)
	})
}

// A restarted leci adopts a running group: nothing of it is removed,
// stopped or started again, its container keeps its run, and its exits are
// still handled.
func TestAdoptAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["init"] = []int{0}
		b.scripts["app"] = []int{-1}
		root := t.TempDir()
		opts := Options{Root: root, Backoff: fastBackoff}
		first := testEngine(t, b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		id, _ := first.Create(context.Background(), testRequest(api.RestartOnFailure, []string{"init"}, []string{"app"}))
		st := waitFor(t, first, id, phaseIs(api.GroupRunning))
		synctest.Wait() // the ended init run is removed
		first.Shutdown()
		b.mu.Lock()
		removed, stopped := len(b.removed), len(b.stopped)
		b.mu.Unlock()

		second := testEngine(t, b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		if err := second.Adopt(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // adoption is done: every goroutine of it waits
		b.mu.Lock()
		removedNow, stoppedNow := b.removed[removed:], b.stopped[stopped:]
		b.mu.Unlock()
		if len(removedNow) != 0 || len(stoppedNow) != 0 {
			t.Errorf("adoption removed %v and stopped %v, want nothing", removedNow, stoppedNow)
		}
		if got := b.starts(); !slices.Equal(got, []string{"init", "app"}) {
			t.Errorf("starts after adoption = %v, want nothing started again", got)
		}
		now, _ := second.Get(id)
		if c := now.Containers[0]; c.ID != st.Containers[0].ID || c.RestartCount != 0 || c.Current.State != api.StateRunning || now.Phase != api.GroupRunning {
			t.Errorf("after adoption: %s, app run %s %s with %d restarts; want Running, run %s running, no restart",
				now.Phase, c.ID, c.Current.State, c.RestartCount, st.Containers[0].ID)
		}
		// The adopted container exits 137 (stopped): OnFailure restarts it.
		b.StopContainer(context.Background(), st.Containers[0].ID, 0)
		waitFor(t, second, id, func(st GroupStatus) bool { return st.Containers[0].RestartCount == 1 })
		if err := second.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
}

// A delete that cuts short the resume of an adopted group, before it
// watches the containers' exits, still records how they ended, and does
// not wait for exits nobody watches.
func TestDeleteDuringAdoptionRecordsTheExits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		root := t.TempDir()
		opts := Options{Root: root, Backoff: fastBackoff}
		first := testEngine(t, b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		id, _ := first.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, first, id, phaseIs(api.GroupRunning))
		first.Shutdown()

		b.mu.Lock()
		b.holdWait = map[string]bool{"app": true}
		b.mu.Unlock()
		second := testEngine(t, b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		if err := second.Adopt(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the resume waits for containerd's answer
		updates, err := second.Watch(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		last := make(chan GroupStatus, 1)
		go func() {
			var st GroupStatus
			for st = range updates {
			}
			last <- st
		}()
		began := time.Now()
		if err := second.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took >= time.Second {
			t.Errorf("the delete took %v: it waited for an exit nobody watched", took)
		}
		end := <-last
		if c := end.Containers[0]; c.Current.State != api.StateTerminated || c.Current.ExitCode != 137 {
			t.Errorf("app ended %s with exit code %d; want Terminated, 137 (stopped)", c.Current.State, c.Current.ExitCode)
		}
	})
}

// A group that was being deleted when leci stopped is deleted on adoption.
func TestAdoptFinishesDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		e := newTestEngine(t, b, nil)
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, e, id, phaseIs(api.GroupRunning))
		e.Shutdown()
		st.Phase = api.GroupTerminating
		n := &fakeNet{}
		second := testEngine(t, b, n, fakeVolumes{}, e.opts, slog.New(slog.DiscardHandler))
		if err := second.Adopt(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		// The delete waits out the grace period for exits no one
		// watches: in the bubble, that time passes at once.
		for len(second.List()) > 0 {
			time.Sleep(time.Second)
		}
		synctest.Wait()
		if len(second.List()) != 0 || len(b.live) != 0 || n.teardowns != 1 {
			t.Errorf("after adoption: %d groups, %d containers, %d teardowns; want the delete finished", len(second.List()), len(b.live), n.teardowns)
		}
	})
}

// ownerBackend is a backend whose runtime makes the sandbox's network
// namespace (as Docker does): it checks that the sandbox starts before the
// network exists and without a namespace given.
type ownerBackend struct {
	*fakeBackend
	net *fakeNet
	// bad records what went wrong at a sandbox start.
	bad []string
	// lost, when set, makes the next sandbox start asked to adopt one
	// (given a namespace) answer ErrSandboxLost, as Docker's does when
	// the sandbox went with its namespace.
	lost bool
}

func (o *ownerBackend) OwnsNetNS() bool { return true }

func (o *ownerBackend) StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (pod.Sandbox, error) {
	if o.lost && cfg.NetNSPath != "" {
		o.lost = false
		return pod.Sandbox{}, fmt.Errorf("adopt sandbox: %w", pod.ErrSandboxLost)
	}
	o.net.mu.Lock()
	if o.net.setups != 0 {
		o.bad = append(o.bad, "network set up before the sandbox started")
	}
	o.net.mu.Unlock()
	if cfg.NetNSPath != "" {
		o.bad = append(o.bad, "sandbox given a namespace: "+cfg.NetNSPath)
	}
	sb, err := o.fakeBackend.StartSandbox(ctx, cfg)
	sb.NetNSPath = "/proc/4242/ns/net"
	return sb, err
}

func TestNetNSOwnerStartsSandboxBeforeNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{0}
		n := &fakeNet{}
		ob := &ownerBackend{fakeBackend: b, net: n}
		e := testEngine(t, ob, n, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff}, slog.New(slog.DiscardHandler))
		id, err := e.Create(context.Background(), testRequest(api.RestartNever, nil, []string{"app"}))
		if err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, e, id, phaseIs(api.GroupSucceeded))
		if len(ob.bad) != 0 {
			t.Errorf("sandbox start: %v", ob.bad)
		}
		if len(n.setupIns) != 1 || n.setupIns[0] != "/proc/4242/ns/net" {
			t.Errorf("SetupIn namespaces %v, want the sandbox's", n.setupIns)
		}
		if st.IPv4 != "10.89.0.7" || st.Host.Sandbox.NetNSPath != "/run/netns/"+id {
			t.Errorf("IP %q, sandbox netns %q: want the network's address and pinned path", st.IPv4, st.Host.Sandbox.NetNSPath)
		}
		if err := e.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
		if n.teardowns != 1 {
			t.Errorf("teardowns = %d, want 1", n.teardowns)
		}
	})
}

// While the network is set up (CNI ADD), the containers that start first
// are created and their tasks made (runc's create mounts the /etc files,
// which are filled in place with the address once it is known), but none
// starts before the network is there; the one whose environment holds the
// group's address is created only then. A group with a net.* sysctl,
// which runc applies at create and which may name the interface CNI ADD
// makes, has its tasks made once the network is there.
func TestContainersCreatedWhileNetworkIsSetUp(t *testing.T) {
	for _, tt := range []struct {
		name         string
		sysctl       string
		wantPrepared []string
	}{
		{"tasks made meanwhile", "kernel.shm_rmid_forced", []string{"app"}},
		{"a net sysctl waits for the network", "net.ipv4.conf.eth0.arp_ignore", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				b := newFakeBackend()
				b.scripts["app"] = []int{0}
				b.scripts["ip"] = []int{0}
				n := &fakeNet{gate: make(chan struct{}), entered: make(chan struct{})}
				e := newTestEngine(t, b, n)
				req := testRequest(api.RestartNever, nil, []string{"app", "ip"})
				req.Container[1].EnvironmentVar = []api.EnvironmentVar{{Key: "POD_IP", FieldRef: &api.FieldRef{FieldPath: api.FieldPathPodIP}}}
				req.SecurityContext = &api.PodSecurityContext{Sysctl: []api.Sysctl{{Name: tt.sysctl, Value: "1"}}}
				id, err := e.Create(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				<-n.entered
				synctest.Wait() // setup is now waiting for the network alone
				b.mu.Lock()
				created, prepared, started := slices.Clone(b.created), slices.Clone(b.prepared), slices.Clone(b.order)
				b.mu.Unlock()
				if !slices.Equal(created, []string{"app"}) || !slices.Equal(prepared, tt.wantPrepared) || len(started) != 0 {
					t.Fatalf("while the network was set up: created %v, prepared %v, started %v; want app created, %v prepared, none started", created, prepared, started, tt.wantPrepared)
				}
				close(n.gate)
				st := waitFor(t, e, id, phaseIs(api.GroupSucceeded))
				b.mu.Lock()
				created, prepared, started = slices.Clone(b.created), slices.Clone(b.prepared), slices.Clone(b.order)
				b.mu.Unlock()
				if !slices.Equal(created, []string{"app", "ip"}) || len(started) != 2 || !slices.Equal(prepared, []string{"app"}) {
					t.Errorf("created %v, prepared %v, started %v; want each created and started once, app prepared once", created, prepared, started)
				}
				for _, c := range st.Containers {
					if c.RestartCount != 0 || c.Current.ExitCode != 0 {
						t.Errorf("%s: %+v", c.Name, c)
					}
				}
				if err := e.Delete(context.Background(), id); err != nil {
					t.Error(err)
				}
			})
		})
	}
}

// While an init container runs, the containers that follow it are created
// and prepared to start, but for one that mounts a SubPath (the init
// container may still make it); they start only once it has exited 0.
func TestNextContainersCreatedWhileInitRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		for _, name := range []string{"init", "app", "side", "sub"} {
			b.scripts[name] = []int{0}
		}
		hold := make(chan struct{})
		b.hold = map[string]chan struct{}{"init": hold}
		e := newTestEngine(t, b, nil)
		req := testRequest(api.RestartNever, []string{"init"}, []string{"app", "side", "sub"})
		req.Volume = []api.Volume{{Name: "v", Type: api.VolumeEmptyDir}}
		req.Container[2].VolumeMount = []api.VolumeMount{{Name: "v", MountPath: "/v", SubPath: "made-by-init"}}
		id, err := e.Create(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // init runs, held
		b.mu.Lock()
		created, prepared, started := slices.Clone(b.created), slices.Clone(b.prepared), slices.Clone(b.order)
		b.mu.Unlock()
		slices.Sort(created)
		slices.Sort(prepared)
		if want := []string{"app", "init", "side"}; !slices.Equal(created, want) || !slices.Equal(prepared, want) || !slices.Equal(started, []string{"init"}) {
			t.Fatalf("while init runs: created %v, prepared %v, started %v; want init, app and side created and prepared, init alone started", created, prepared, started)
		}
		close(hold)
		waitFor(t, e, id, phaseIs(api.GroupSucceeded))
		// The log file the prepared run's writer made is the run's log
		// still: its start did not make the run's configuration again.
		if _, err := os.Stat(LogPath(e.opts.Root, id, "app", 1)); err != nil {
			t.Errorf("the log of a run prepared ahead: %v", err)
		}
		b.mu.Lock()
		created, started = slices.Clone(b.created), slices.Clone(b.order)
		b.mu.Unlock()
		if len(created) != 4 || len(started) != 4 {
			t.Errorf("created %v, started %v; want each once", created, started)
		}
		if err := e.Delete(context.Background(), id); err != nil {
			t.Error(err)
		}
	})
}

// A network that fails its check when leci adopts a group is reported as
// an event and left to the containers that use it: nothing is removed or
// started again (a new setup would take their address away).
func TestAdoptWithFailedNetworkCheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		opts := Options{Root: t.TempDir(), Backoff: fastBackoff}
		first := testEngine(t, b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		id, _ := first.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, first, id, phaseIs(api.GroupRunning))
		first.Shutdown()

		n := &fakeNet{checkErr: errors.New("veth eth0 is gone")}
		second := testEngine(t, b, n, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		if err := second.Adopt(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		now, _ := second.Get(id)
		if !slices.ContainsFunc(now.Events, func(ev Event) bool { return ev.Reason == "NetworkCheckFailed" }) {
			t.Errorf("no NetworkCheckFailed event in %+v", now.Events)
		}
		b.mu.Lock()
		removed, starts := len(b.removed), len(b.order)
		b.mu.Unlock()
		if removed != 0 || starts != 1 || n.setups != 0 || n.teardowns != 0 || now.Containers[0].RestartCount != 0 {
			t.Errorf("after a failed check: %d removed, %d starts, %d setups, %d teardowns, %d restarts; want the group left as it was",
				removed, starts, n.setups, n.teardowns, now.Containers[0].RestartCount)
		}
		if err := second.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
}

// A sandbox that cannot be adopted because it went with its namespace (a
// runtime that owns the namespace says ErrSandboxLost) is started anew, and
// the group gets a new network: the old one is torn down first, so its
// address is not leaked.
func TestAdoptLostSandboxGetsNewNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		n := &fakeNet{}
		ob := &ownerBackend{fakeBackend: b, net: n}
		opts := Options{Root: t.TempDir(), Backoff: fastBackoff}
		first := testEngine(t, ob, n, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		id, _ := first.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		st := waitFor(t, first, id, phaseIs(api.GroupRunning))
		first.Shutdown()

		n2 := &fakeNet{}
		ob2 := &ownerBackend{fakeBackend: b, net: n2, lost: true}
		second := testEngine(t, ob2, n2, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		if err := second.Adopt(context.Background(), st); err != nil {
			t.Fatal(err)
		}
		now := waitFor(t, second, id, phaseIs(api.GroupRunning))
		synctest.Wait()
		if ob2.lost || n2.teardowns != 1 || n2.setups != 1 {
			t.Errorf("lost sandbox: asked %v, %d teardowns, %d setups; want one teardown of the old network, then one setup", !ob2.lost, n2.teardowns, n2.setups)
		}
		if now.Host.Sandbox.NetNSPath == "" {
			t.Errorf("the new sandbox has no namespace: %+v", now.Host.Sandbox)
		}
		if err := second.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
}

// A container that keeps failing is restarted as the kubelet restarts it:
// at once after its first exit, then after 10 s, 20 s, 40 s, … up to 300 s
// (the kubelet's doBackOff: no back-off entry at the first exit, so it
// starts the container and records one).
func TestCrashLoopBacksOffAsTheKubelet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{1}
		e := testEngine(t, b, &fakeNet{}, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: DefaultBackoff}, slog.New(slog.DiscardHandler))
		id, _ := e.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
			160 * time.Second, 300 * time.Second, 300 * time.Second}
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		b.mu.Lock()
		starts := slices.Clone(b.startedAt)
		b.mu.Unlock()
		if len(starts) < len(want)+1 {
			t.Fatalf("%d starts in 20 minutes, want at least %d", len(starts), len(want)+1)
		}
		for i, w := range want {
			if got := starts[i+1].Sub(starts[i]); got != w {
				t.Errorf("restart %d came %s after the exit before it, want %s", i+1, got, w)
			}
		}
		st, _ := e.Get(id)
		if c := st.Containers[0]; c.Current.Reason != ReasonCrashLoopBackOff && c.Current.State != api.StateRunning {
			t.Errorf("app is %+v, want running or in CrashLoopBackOff", c.Current)
		}
		if err := e.Delete(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
}

// After a reboot the group's namespace is gone, and its containers with it:
// adopted, a running group gets a new network (the old one torn down, so
// that its address is released) and its containers start again; an ended
// group keeps its final status and only releases its network.
func TestAdoptAfterReboot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		b.scripts["job"] = []int{3}
		opts := Options{Root: t.TempDir(), Backoff: fastBackoff}
		first := testEngine(t, b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		running, _ := first.Create(context.Background(), testRequest(api.RestartAlways, nil, []string{"app"}))
		ended, _ := first.Create(context.Background(), testRequest(api.RestartNever, nil, []string{"job"}))
		runningSt := waitFor(t, first, running, phaseIs(api.GroupRunning))
		endedSt := waitFor(t, first, ended, phaseIs(api.GroupFailed))
		first.Shutdown()
		// The reboot: every container is gone from the runtime.
		b.release()
		synctest.Wait()
		b.mu.Lock()
		clear(b.live)
		b.mu.Unlock()

		n := &fakeNet{checkErr: fmt.Errorf("group: /run/netns/x: %w", pod.ErrNetNSGone)}
		second := testEngine(t, b, n, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		if err := second.Adopt(context.Background(), runningSt); err != nil {
			t.Fatal(err)
		}
		st := waitFor(t, second, running, func(st GroupStatus) bool {
			return st.Phase == api.GroupRunning && st.Containers[0].RestartCount == 1 && st.Containers[0].Current.State == api.StateRunning
		})
		if n.teardowns != 1 || n.setups != 1 || !slices.ContainsFunc(st.Events, func(ev Event) bool { return ev.Reason == "SandboxChanged" }) {
			t.Errorf("running group after the reboot: %d teardowns, %d setups, events %+v; want its network torn down and set up anew", n.teardowns, n.setups, st.Events)
		}

		n2 := &fakeNet{checkErr: n.checkErr}
		third := testEngine(t, b, n2, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
		if err := third.Adopt(context.Background(), endedSt); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		got, _ := third.Get(ended)
		if got.Phase != api.GroupFailed || got.Containers[0].Current.ExitCode != 3 || n2.teardowns != 1 || n2.setups != 0 {
			t.Errorf("ended group after the reboot: %s, exit %d, %d teardowns, %d setups; want Failed with exit 3, its network released, none set up",
				got.Phase, got.Containers[0].Current.ExitCode, n2.teardowns, n2.setups)
		}
		second.Delete(context.Background(), running)
		third.Delete(context.Background(), ended)
	})
}
