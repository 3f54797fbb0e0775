package runtime

import (
	"slices"
	"testing"
	"time"

	"leci/api"
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
