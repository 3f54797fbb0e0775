package runtime

import (
	"time"

	"leci/api"
	"leci/probes"
)

// Backoff is the restart delay policy: Base doubled per failure, up to Max;
// a run that lasts ResetAfter forgets the failures. The kubelet's values
// are the default; tests use a fast profile.
type Backoff struct {
	Base       time.Duration
	Max        time.Duration
	ResetAfter time.Duration
}

// DefaultBackoff is the kubelet's: 10 s doubling to 300 s, reset after 10 min.
var DefaultBackoff = Backoff{Base: 10 * time.Second, Max: 300 * time.Second, ResetAfter: 10 * time.Minute}

// Delay is the wait before the next start after n failures (n ≥ 1).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Actions is what a round of the supervisor must do.
type Actions struct {
	// StartInit is the index of the init container to start, or -1.
	StartInit int
	// StartApps are the indexes of the app containers to start.
	StartApps []int
	// WakeAt is the earliest time a container waiting on backoff may start
	// (zero when none waits).
	WakeAt time.Time
	// Phase is the group's phase after this round.
	Phase api.GroupStatus
}

// Plan decides, from the request, the status and the time alone, what to
// start and what phase the group is in:
//
//  1. Init containers run one at a time, in order: the first one that has
//     not completed is started when it is waiting and its backoff is over.
//     A failed init container that will not restart fails the group.
//  2. When every init container has completed, every app container that is
//     waiting and past its backoff is started.
//  3. The phase: Failed or Succeeded once every app container has
//     terminated for good (Failed if any exited non-zero), Running once
//     every app container has started, Pending before; Expired, with
//     nothing started, once the group's deadline has passed.
func Plan(st *GroupStatus, now time.Time) Actions {
	a := Actions{StartInit: -1, Phase: api.GroupPending}
	if !st.ExpiredAt.IsZero() {
		// Past its ActiveDeadlineSeconds a group starts nothing again.
		a.Phase = api.GroupExpired
		return a
	}
	wake := func(t time.Time) {
		if !t.IsZero() && (a.WakeAt.IsZero() || t.Before(a.WakeAt)) {
			a.WakeAt = t
		}
	}
	for i := range st.InitContainers {
		c := &st.InitContainers[i]
		switch c.Current.State {
		case api.StateTerminated:
			if c.Current.ExitCode == 0 {
				continue
			}
			// An init container that failed and will not restart.
			a.Phase = api.GroupFailed
			return a
		case api.StateRunning:
			return a
		default:
			if c.NextStart.After(now) {
				wake(c.NextStart)
			} else {
				a.StartInit = i
			}
			return a
		}
	}
	allStarted, allDone, anyFailed := true, true, false
	for i := range st.Containers {
		c := &st.Containers[i]
		if !c.Started {
			allStarted = false
		}
		switch c.Current.State {
		case api.StateTerminated:
			if c.Current.ExitCode != 0 {
				anyFailed = true
			}
		case api.StateRunning:
			allDone = false
		default:
			allDone = false
			if c.NextStart.After(now) {
				wake(c.NextStart)
			} else {
				a.StartApps = append(a.StartApps, i)
			}
		}
	}
	switch {
	case allDone && anyFailed:
		a.Phase = api.GroupFailed
	case allDone:
		a.Phase = api.GroupSucceeded
	case allStarted:
		a.Phase = api.GroupRunning
	}
	return a
}

// AfterExit decides what follows the exit of a container that ran for
// ran: whether it restarts under the group's restart policy (init
// containers restart only on failure, and never under Never), when, and
// the failure count that sets the delay.
//
// The delay is the kubelet's: its first exit restarts a container at once
// (doBackOff finds no back-off entry for it, starts it, and records one of
// Base); each later exit waits the recorded delay, which doubles at every
// start up to Max. A run that lasted ResetAfter forgets the entry, and its
// exit counts as a first one again.
func AfterExit(policy string, init bool, exitCode int, c *ContainerStatus, ran time.Duration, b Backoff, now time.Time) (restart bool, at time.Time, backoff int) {
	switch {
	case policy == api.RestartNever:
		return false, time.Time{}, c.Backoff
	case init || policy == api.RestartOnFailure:
		if exitCode == 0 {
			return false, time.Time{}, c.Backoff
		}
	}
	n := c.Backoff + 1
	if b.ResetAfter > 0 && ran >= b.ResetAfter {
		n = 1
	}
	if n == 1 {
		return true, now, n
	}
	return true, now.Add(b.Delay(n - 1)), n
}

// ProbeEffect is what a change of a probe's result does to a running
// container: readiness sets Ready, a liveness failure kills the container
// (and AfterExit then applies the restart policy to its exit), and a result
// that could not be had (Unknown) changes nothing.
type ProbeEffect struct {
	SetReady bool // Ready is to be set to Ready
	Ready    bool
	Kill     bool
}

// DecideProbe is the effect of a probe result.
func DecideProbe(kind probes.Kind, result probes.Result) ProbeEffect {
	switch {
	case result == probes.Unknown:
		return ProbeEffect{}
	case kind == probes.Readiness:
		return ProbeEffect{SetReady: true, Ready: result == probes.Success}
	case kind == probes.Liveness && result == probes.Failure:
		return ProbeEffect{Kill: true}
	}
	return ProbeEffect{}
}
