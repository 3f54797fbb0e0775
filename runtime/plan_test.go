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

// The restart delays of the kubelet, written out from its behaviour
// (kuberuntime_manager.go doBackOff over flowcontrol.Backoff, 10 s initial,
// MaxContainerBackOff 300 s, an entry forgotten after 2×300 s): the first
// exit restarts at once; each later one waits 10 s, 20 s, 40 s, … 300 s; a
// run of 10 minutes starts the count over.
func TestAfterExitBacksOffAsTheKubelet(t *testing.T) {
	now := time.Unix(1000, 0)
	c := &ContainerStatus{}
	// Runs of a second each, exit 1 under Always.
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 300 * time.Second, 300 * time.Second, 300 * time.Second}
	for i, w := range want {
		restart, at, n := AfterExit(api.RestartAlways, false, 1, c, time.Second, DefaultBackoff, now)
		if !restart || at.Sub(now) != w {
			t.Fatalf("exit %d: restart %v after %s, want after %s", i+1, restart, at.Sub(now), w)
		}
		c.Backoff = n
	}
	// A run of 10 minutes: its exit is a first one again, then 10 s.
	for i, w := range []time.Duration{0, 10 * time.Second} {
		ran := time.Second
		if i == 0 {
			ran = 10 * time.Minute
		}
		restart, at, n := AfterExit(api.RestartAlways, false, 1, c, ran, DefaultBackoff, now)
		if !restart || at.Sub(now) != w {
			t.Fatalf("exit after a run of %s: restart %v after %s, want after %s", ran, restart, at.Sub(now), w)
		}
		c.Backoff = n
	}
}

// Which exits restart, as the kubelet's documentation states them: Always
// restarts every exit, OnFailure a non-zero one, Never none; an init
// container that fails restarts unless the policy is Never, and one that
// succeeds never restarts.
func TestAfterExitRestartPolicy(t *testing.T) {
	now := time.Unix(1000, 0)
	cases := []struct {
		policy  string
		init    bool
		code    int
		restart bool
	}{
		{api.RestartAlways, false, 0, true},
		{api.RestartAlways, false, 1, true},
		{api.RestartAlways, false, 137, true},
		{api.RestartOnFailure, false, 0, false},
		{api.RestartOnFailure, false, 1, true},
		{api.RestartOnFailure, false, 137, true},
		{api.RestartNever, false, 0, false},
		{api.RestartNever, false, 1, false},
		{api.RestartNever, false, 137, false},
		{api.RestartAlways, true, 0, false},
		{api.RestartAlways, true, 1, true},
		{api.RestartAlways, true, 137, true},
		{api.RestartOnFailure, true, 0, false},
		{api.RestartOnFailure, true, 1, true},
		{api.RestartOnFailure, true, 137, true},
		{api.RestartNever, true, 0, false},
		{api.RestartNever, true, 1, false},
		{api.RestartNever, true, 137, false},
	}
	for _, tc := range cases {
		restart, at, _ := AfterExit(tc.policy, tc.init, tc.code, &ContainerStatus{}, time.Second, DefaultBackoff, now)
		if restart != tc.restart || (restart && !at.Equal(now)) {
			t.Errorf("AfterExit(%s, init=%v, exit %d) = %v after %s; want %v at once",
				tc.policy, tc.init, tc.code, restart, at.Sub(now), tc.restart)
		}
	}
}

// What a probe result does, as the kubelet's documentation states it: a
// readiness result sets Ready (and nothing else); a liveness failure kills
// the container, a liveness success does nothing; a probe that could not
// run (an error, not a failure) changes nothing.
func TestDecideProbe(t *testing.T) {
	cases := []struct {
		name   string
		kind   probes.Kind
		result probes.Result
		want   ProbeEffect
	}{
		{"readiness success", probes.Readiness, probes.Success, ProbeEffect{SetReady: true, Ready: true}},
		{"readiness failure", probes.Readiness, probes.Failure, ProbeEffect{SetReady: true, Ready: false}},
		{"readiness could not run", probes.Readiness, probes.Unknown, ProbeEffect{}},
		{"liveness success", probes.Liveness, probes.Success, ProbeEffect{}},
		{"liveness failure", probes.Liveness, probes.Failure, ProbeEffect{Kill: true}},
		{"liveness could not run", probes.Liveness, probes.Unknown, ProbeEffect{}},
	}
	for _, tc := range cases {
		if got := DecideProbe(tc.kind, tc.result); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// A liveness failure kills the container with SIGKILL's 137, and its exit
// then follows the restart policy: Always and OnFailure restart it, Never
// leaves it terminated.
func TestLivenessKillThenRestartPolicy(t *testing.T) {
	now := time.Unix(1000, 0)
	for policy, want := range map[string]bool{api.RestartAlways: true, api.RestartOnFailure: true, api.RestartNever: false} {
		if !DecideProbe(probes.Liveness, probes.Failure).Kill {
			t.Fatal("a liveness failure does not kill")
		}
		if restart, _, _ := AfterExit(policy, false, 137, &ContainerStatus{}, time.Second, DefaultBackoff, now); restart != want {
			t.Errorf("%s after a liveness kill: restart %v, want %v", policy, restart, want)
		}
	}
}
