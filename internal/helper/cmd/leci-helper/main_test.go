package main

import "testing"

// The command lines are the shim's and the sandbox's, nothing else: what
// they do is logs' and pause's to test.
func TestRunExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want int
	}{
		{nil, 2},
		{[]string{"version"}, 2},
		{[]string{"log-writer"}, 2},
		{[]string{"log-writer", "/a.log", "extra"}, 2},
		{[]string{"pause", "extra"}, 2},
		// The right command line, wrongly run: the log path must be
		// absolute, so this fails before it touches any fd.
		{[]string{"log-writer", "relative.log"}, 1},
	} {
		if got := run(tc.args); got != tc.want {
			t.Errorf("run(%q) = %d, want %d", tc.args, got, tc.want)
		}
	}
}
