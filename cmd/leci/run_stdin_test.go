package main

import (
	"errors"
	"strings"
	"testing"

	"leci/api"
)

// leci run -i needs exactly one app container with Stdin.
func TestStdinContainer(t *testing.T) {
	ctr := func(name string, stdin bool) api.Container {
		c := api.Container{Stdin: stdin}
		c.Name = name
		return c
	}
	req := &api.CreateContainerGroupRequest{Container: []api.Container{ctr("web", false), ctr("cat", true)}}
	if name, err := stdinContainer(req); err != nil || name != "cat" {
		t.Errorf("one Stdin container: %q %v, want cat", name, err)
	}
	for _, tc := range []struct {
		what string
		req  *api.CreateContainerGroupRequest
	}{
		{"none", &api.CreateContainerGroupRequest{Container: []api.Container{ctr("web", false)}}},
		{"two", &api.CreateContainerGroupRequest{Container: []api.Container{ctr("a", true), ctr("b", true)}}},
	} {
		_, err := stdinContainer(tc.req)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != exitUsage || !strings.Contains(err.Error(), "Stdin") {
			t.Errorf("%s: %v, want a usage error (exit %d) naming Stdin", tc.what, err, exitUsage)
		}
	}
}
