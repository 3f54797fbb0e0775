package main

import (
	"strings"
	"testing"
)

// leci exec -i runs the command in a WebSocket session, over the unix socket
// and over TCP: the input reaches the command, its end ends it, and leci
// exits with the command's exit code.
func TestClientExecSession(t *testing.T) {
	e := newClientEnv(t)
	t.Setenv(envAccessKey, "cliak:clisecret")
	for _, host := range []string{"unix://" + e.sock, "tcp://" + e.tcp} {
		code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host)
		if code != 0 {
			t.Fatalf("create: %d %s", code, errOut)
		}
		id := strings.TrimSpace(out)

		code, out, errOut = e.leci(t, "hello\nworld\n", "exec", "-i", id, "-c", "side", "--host", host, "--", "cat")
		if code != 0 || out != "hello\nworld\n" || errOut != "side: tty=false\n" {
			t.Errorf("%s: exec -i cat: %d %q %q", host, code, out, errOut)
		}
		code, _, errOut = e.leci(t, "", "exec", "-i", id, "--host", host, "--", "exit", "7")
		if code != 7 || errOut != "web: tty=false\n" {
			t.Errorf("%s: exec -i exit 7: %d %q, want 7", host, code, errOut)
		}
		// -t without a terminal runs without one, as kubectl does.
		code, _, errOut = e.leci(t, "", "exec", "-t", id, "--host", host, "--", "exit", "3")
		if code != 3 || !strings.Contains(errOut, "not a terminal") || !strings.Contains(errOut, "web: tty=false") {
			t.Errorf("%s: exec -t exit 3 without a terminal: %d %q", host, code, errOut)
		}
		// -e, -w and -u reach the backend.
		code, out, errOut = e.leci(t, "", "exec", id, "-e", "A=1", "-e", "B=x=y", "-w", "/tmp", "-u", "1000:1000", "--host", host, "--", "settings")
		if code != 0 || out != `env=["A=1" "B=x=y"] workdir="/tmp" user="1000:1000"`+"\n" {
			t.Errorf("%s: exec -e -w -u: %d %q %q", host, code, out, errOut)
		}
		if code, _, errOut := e.leci(t, "", "exec", id, "-e", "=1", "--host", host, "--", "settings"); code != exitUsage {
			t.Errorf("%s: exec -e =1: %d %q, want 2", host, code, errOut)
		}
		code, _, errOut = e.leci(t, "", "exec", "-i", id, "-c", "nope", "--host", host, "--", "cat")
		if code == 0 || !strings.Contains(errOut, "InvalidContainerName.NotFound") {
			t.Errorf("%s: exec -i in a missing container: %d %q", host, code, errOut)
		}
	}
}
