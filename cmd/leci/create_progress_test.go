package main

import (
	"strings"
	"testing"
)

// TestCreateWaitShowsPulls: create --wait prints the group's id, then its
// pulls as plain lines (standard error is no terminal here), then its way
// to running; over TCP the streaming create is signed as any request.
// Without --wait no pull is followed.
func TestCreateWaitShowsPulls(t *testing.T) {
	e := newClientEnv(t)
	t.Setenv(envAccessKey, "cliak:clisecret")
	for _, host := range []string{"unix://" + e.sock, "tcp://" + e.tcp} {
		code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host, "--wait", "running")
		if code != 0 || !strings.HasPrefix(out, "eci-") || strings.Count(out, "\n") != 1 {
			t.Fatalf("create --wait via %s: %d %q %q", host, code, out, errOut)
		}
		pulled := strings.Index(errOut, "0123456789ab: Pull complete\n")
		running := strings.Index(errOut, ": Running")
		if !strings.Contains(errOut, "0123456789ab: Downloading\n") || pulled < 0 || running < pulled {
			t.Errorf("create --wait via %s showed\n%s\nwant the layer's lines, then Running", host, errOut)
		}
		if strings.Contains(errOut, "1/2") || strings.Contains(errOut, "[") {
			t.Errorf("create --wait via %s drew byte counts off a terminal:\n%s", host, errOut)
		}
	}
	code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", "unix://"+e.sock)
	if code != 0 || !strings.HasPrefix(out, "eci-") || errOut != "" {
		t.Errorf("create: %d %q %q, want the id and nothing else", code, out, errOut)
	}
}
