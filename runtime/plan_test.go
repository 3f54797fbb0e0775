package runtime

import (
	"slices"
	"testing"
	"time"

	"leci/api"
	"leci/probes"
)

func TestPlan(t *testing.T) {
	now := time.Unix(1000, 0)
	waiting := ContainerStatus{Current: ContainerState{State: api.StateWaiting}}
	running := ContainerStatus{Current: ContainerState{State: api.StateRunning}, Started: true}
	done := ContainerStatus{Current: ContainerState{State: api.StateTerminated}, Started: true}
	failed := ContainerStatus{Current: ContainerState{State: api.StateTerminated, ExitCode: 2}, Started: true}
	backingOff := ContainerStatus{Current: ContainerState{State: api.StateWaiting}, NextStart: now.Add(time.Second), Started: true}
	cases := []struct {
		name      string
		inits     []ContainerStatus
		apps      []ContainerStatus
		startInit int
		startApps []int
		wake      time.Time
		phase     api.GroupStatus
	}{
		{"first init first", []ContainerStatus{waiting, waiting}, []ContainerStatus{waiting}, 0, nil, time.Time{}, api.GroupPending},
		{"second init after first", []ContainerStatus{done, waiting}, []ContainerStatus{waiting}, 1, nil, time.Time{}, api.GroupPending},
		{"init running blocks", []ContainerStatus{running, waiting}, []ContainerStatus{waiting}, -1, nil, time.Time{}, api.GroupPending},
		{"init backing off", []ContainerStatus{backingOff}, []ContainerStatus{waiting}, -1, nil, now.Add(time.Second), api.GroupPending},
		{"failed init fails group", []ContainerStatus{failed}, []ContainerStatus{waiting}, -1, nil, time.Time{}, api.GroupFailed},
		{"apps after inits", []ContainerStatus{done}, []ContainerStatus{waiting, waiting}, -1, []int{0, 1}, time.Time{}, api.GroupPending},
		{"running", nil, []ContainerStatus{running, running}, -1, nil, time.Time{}, api.GroupRunning},
		{"restart pending stays running", nil, []ContainerStatus{running, backingOff}, -1, nil, now.Add(time.Second), api.GroupRunning},
		{"one still to start", nil, []ContainerStatus{running, waiting}, -1, []int{1}, time.Time{}, api.GroupPending},
		{"all done", nil, []ContainerStatus{done, done}, -1, nil, time.Time{}, api.GroupSucceeded},
		{"one failed", nil, []ContainerStatus{done, failed}, -1, nil, time.Time{}, api.GroupFailed},
		{"one failed one running", nil, []ContainerStatus{failed, running}, -1, nil, time.Time{}, api.GroupRunning},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := &GroupStatus{InitContainers: tc.inits, Containers: tc.apps}
			a := Plan(st, now)
			if a.StartInit != tc.startInit || !slices.Equal(a.StartApps, tc.startApps) || !a.WakeAt.Equal(tc.wake) || a.Phase != tc.phase {
				t.Errorf("Plan = init %d apps %v wake %v phase %s; want %d %v %v %s",
					a.StartInit, a.StartApps, a.WakeAt, a.Phase, tc.startInit, tc.startApps, tc.wake, tc.phase)
			}
		})
	}
}

func TestAfterExit(t *testing.T) {
	now := time.Unix(1000, 0)
	b := Backoff{Base: 10 * time.Second, Max: 300 * time.Second, ResetAfter: 10 * time.Minute}
	cases := []struct {
		policy  string
		init    bool
		code    int
		backoff int
		ran     time.Duration
		restart bool
		delay   time.Duration
	}{
		{api.RestartAlways, false, 0, 0, time.Second, true, 10 * time.Second},
		{api.RestartAlways, false, 1, 1, time.Second, true, 20 * time.Second},
		{api.RestartAlways, false, 1, 5, time.Second, true, 300 * time.Second},
		{api.RestartAlways, false, 1, 5, 11 * time.Minute, true, 10 * time.Second},
		{api.RestartOnFailure, false, 0, 0, time.Second, false, 0},
		{api.RestartOnFailure, false, 2, 0, time.Second, true, 10 * time.Second},
		{api.RestartNever, false, 2, 0, time.Second, false, 0},
		{api.RestartAlways, true, 0, 0, time.Second, false, 0},
		{api.RestartAlways, true, 1, 0, time.Second, true, 10 * time.Second},
		{api.RestartNever, true, 1, 0, time.Second, false, 0},
	}
	for _, tc := range cases {
		c := &ContainerStatus{Backoff: tc.backoff}
		restart, at, _ := AfterExit(tc.policy, tc.init, tc.code, c, tc.ran, b, now)
		if restart != tc.restart || (restart && at.Sub(now) != tc.delay) {
			t.Errorf("AfterExit(%s, init=%v, code=%d, backoff=%d, ran=%s) = %v after %s; want %v after %s",
				tc.policy, tc.init, tc.code, tc.backoff, tc.ran, restart, at.Sub(now), tc.restart, tc.delay)
		}
	}
}

// The engine's decisions for a container, across every restart policy,
// exit code and probe result: a probe result decides readiness and whether
// the container is killed (exit 137); the exit then decides the restart.
func TestDecisionTable(t *testing.T) {
	now := time.Unix(1000, 0)
	b := Backoff{Base: time.Second, Max: 8 * time.Second}
	type probeCase struct {
		name   string
		kind   probes.Kind
		result probes.Result
	}
	probeCases := []probeCase{
		{"no probe", 0, probes.Unknown},
		{"readiness success", probes.Readiness, probes.Success},
		{"readiness failure", probes.Readiness, probes.Failure},
		{"liveness success", probes.Liveness, probes.Success},
		{"liveness failure", probes.Liveness, probes.Failure},
		{"probe could not run", probes.Liveness, probes.Unknown},
	}
	for _, policy := range []string{api.RestartAlways, api.RestartOnFailure, api.RestartNever} {
		for _, init := range []bool{false, true} {
			for _, code := range []int{0, 1, 137} {
				for _, pc := range probeCases {
					if init && pc.kind != 0 {
						continue // init containers have no probes
					}
					eff := DecideProbe(pc.kind, pc.result)
					wantKill := pc.kind == probes.Liveness && pc.result == probes.Failure
					if eff.Kill != wantKill {
						t.Errorf("%s: kill = %v, want %v", pc.name, eff.Kill, wantKill)
					}
					wantReady := pc.kind == probes.Readiness && pc.result != probes.Unknown
					if eff.SetReady != wantReady || (wantReady && eff.Ready != (pc.result == probes.Success)) {
						t.Errorf("%s: ready effect %+v", pc.name, eff)
					}
					exit := code
					if eff.Kill {
						exit = 137
					}
					restart, at, _ := AfterExit(policy, init, exit, &ContainerStatus{}, time.Second, b, now)
					var want bool
					switch {
					case policy == api.RestartNever:
						want = false
					case policy == api.RestartAlways && !init:
						want = true
					default: // OnFailure, and init containers under Always
						want = exit != 0
					}
					if restart != want || (restart && !at.Equal(now.Add(time.Second))) {
						t.Errorf("policy %s init %v exit %d %s: restart %v at %v, want %v after 1s",
							policy, init, exit, pc.name, restart, at.Sub(now), want)
					}
				}
			}
		}
	}
}
