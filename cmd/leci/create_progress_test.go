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
	unix := "unix://" + e.sock
	code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", unix)
	if code != 0 || !strings.HasPrefix(out, "eci-") || errOut != "" {
		t.Errorf("create: %d %q %q, want the id and nothing else", code, out, errOut)
	}

	// A token seen before answers its group, which pulls nothing more:
	// the stream ends at once. A token of another request is refused as
	// the action refuses it.
	wait := []string{"create", "-f", "-", "--input-format", "yaml", "--host", unix, "--wait", "running", "--client-token", "tok-1"}
	code, first, errOut := e.leci(t, webYAML, wait...)
	if code != 0 || !strings.Contains(errOut, "Pull complete") {
		t.Fatalf("create --wait --client-token: %d %q %q", code, first, errOut)
	}
	code, again, errOut := e.leci(t, webYAML, wait...)
	if code != 0 || again != first || strings.Contains(errOut, "Pull complete") || !strings.Contains(errOut, ": Running") {
		t.Errorf("create --wait with the token again: %d %q %q, want %q and no pull", code, again, errOut, first)
	}
	code, out, errOut = e.leci(t, strings.Replace(webYAML, "Name: side", "Name: other", 1), wait...)
	if code != exitUsage || out != "" || !strings.Contains(errOut, "ERROR ") {
		t.Errorf("create --wait with the token of another request: %d %q %q, want it refused", code, out, errOut)
	}
}
