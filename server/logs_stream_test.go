package server

import (
	"net/url"
	"testing"
	"time"

	"leci/api"
	"leci/runtime"
)

func TestParseLogStream(t *testing.T) {
	ls, err := parseLogStream(url.Values{"ContainerGroupId": {"eci-1"}, "Tail": {"0"}, "SinceTime": {"2026-01-02T03:04:05.5Z"}, "Follow": {"true"}})
	if err != nil || ls.tail != -1 || !ls.follow || !ls.since.Equal(time.Date(2026, 1, 2, 3, 4, 5, 5e8, time.UTC)) {
		t.Errorf("parse: %+v %v; want Tail 0 as no lines, Follow, SinceTime", ls, err)
	}
	if ls, err := parseLogStream(url.Values{"ContainerGroupId": {"eci-1"}}); err != nil || ls.tail != 0 || ls.follow {
		t.Errorf("defaults: %+v %v; want every line, no follow", ls, err)
	}
	for _, q := range []url.Values{
		{},
		{"ContainerGroupId": {"eci-1"}, "Tail": {"-2"}},
		{"ContainerGroupId": {"eci-1"}, "UntilTime": {"yesterday"}},
		{"ContainerGroupId": {"eci-1"}, "Follow": {"maybe"}},
	} {
		if _, err := parseLogStream(q); err == nil {
			t.Errorf("%v: no error", q)
		}
	}
}

// A follow waits for a container's next instance only when its restart
// policy will run it again.
func TestRestarts(t *testing.T) {
	ended := func(code int, init bool) runtime.ContainerStatus {
		return runtime.ContainerStatus{Init: init, Current: runtime.ContainerState{State: api.StateTerminated, ExitCode: code}}
	}
	for _, tc := range []struct {
		policy string
		c      runtime.ContainerStatus
		want   bool
	}{
		{"Always", ended(0, false), true},
		{"OnFailure", ended(0, false), false},
		{"OnFailure", ended(1, false), true},
		{"Never", ended(1, false), false},
		{"Always", ended(0, true), false},
		{"Always", ended(1, true), true},
		{"Never", ended(1, true), false},
	} {
		if got := restarts(tc.policy, tc.c); got != tc.want {
			t.Errorf("%s, init %v, exit %d: %v, want %v", tc.policy, tc.c.Init, tc.c.Current.ExitCode, got, tc.want)
		}
	}
}
