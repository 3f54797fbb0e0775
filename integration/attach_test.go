//go:build integration

package integration

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"leci/api"
)

// A container with Stdin keeps its stdin open: a cat in it runs on,
// attaches write into it and see what it writes back from then on; with
// StdinOnce the first attach's end closes it, and cat ends.
func TestAttachStdin(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	req := "ContainerGroupName: attach\nRestartPolicy: Never\nTerminationGracePeriodSeconds: 1\nContainer:\n" +
		"  - {Name: cat, Image: " + image + ", Command: [cat], Stdin: true}\n" +
		"  - {Name: once, Image: " + image + ", Command: [cat], Stdin: true, StdinOnce: true}\n" +
		"  - {Name: plain, Image: " + image + ", Command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]}\n"
	out, err := d.client(req, "create", "-f", "-", "--wait", "running")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	id := strings.TrimSpace(out)
	// Deleted by the daemon, before it stops and the harness checks.
	t.Cleanup(func() {
		if _, err := d.client("", "delete", "--wait", id); err != nil {
			t.Errorf("delete: %v", err)
		}
		waitNoLogWriter(t, hr.cfg.Root)
	})

	// With nothing attached, cat reads no end of file: it still runs.
	time.Sleep(time.Second)
	g := d.describe(id)
	for _, c := range g.Containers {
		if c.CurrentState.State != api.StateRunning {
			t.Fatalf("%s is %s (exit %d) with nothing attached, want Running", c.Name, c.CurrentState.State, c.CurrentState.ExitCode)
		}
	}

	// Two attaches in turn, each of which sees its own line echoed: the
	// first one's end did not close cat's stdin.
	for _, line := range []string{"hello", "again"} {
		attachAndSee(t, d, id, "cat", line)
	}
	if st := containerOf(t, d.describe(id), "cat").CurrentState; st.State != api.StateRunning {
		t.Errorf("cat after two attaches: %s (exit %d), want Running", st.State, st.ExitCode)
	}

	// Attaching with input to a container without Stdin is refused.
	if out, err := d.client("x\n", "attach", "-i", id, "-c", "plain"); err == nil || !strings.Contains(err.Error(), "InvalidParameter") {
		t.Errorf("attach -i to a container without Stdin: %q %v, want an InvalidParameter error", out, err)
	}

	// StdinOnce: the end of the first attach's input is cat's: it echoes,
	// ends with 0, and leci attach exits with that code.
	cmd := hr.leci("hi\n", "attach", "-i", id, "-c", "once")
	cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	code, out, errOut := runCmd(t, cmd)
	if code != 0 || out != "hi\n" {
		t.Errorf("echo hi | leci attach -i -c once: %d %q %q, want 0 and hi", code, out, errOut)
	}
	st := containerOf(t, d.describe(id), "once").CurrentState
	if st.State != api.StateTerminated || st.ExitCode != 0 {
		t.Errorf("once after its first attach: %s (exit %d), want Terminated with 0", st.State, st.ExitCode)
	}
	if st := containerOf(t, d.describe(id), "cat").CurrentState; st.State != api.StateRunning {
		t.Errorf("cat: %s, want Running", st.State)
	}
}

// attachAndSee attaches to container with input, writes line and waits
// until it comes back on the attach's output; then it leaves.
func attachAndSee(t *testing.T, d *daemon, id, container, line string) {
	t.Helper()
	cmd := d.hr.leci("", "attach", "-i", id, "-c", container)
	cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	cmd.Stdin = nil // a pipe, written below
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outR, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut strings.Builder
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// Leaving an attach is ^C.
		cmd.Process.Signal(syscall.SIGINT)
		in.Close()
		cmd.Wait()
	}()
	seen := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(outR)
		var got []string
		for sc.Scan() {
			got = append(got, sc.Text())
			if sc.Text() == line {
				break
			}
		}
		seen <- strings.Join(got, "|")
		io.Copy(io.Discard, outR)
	}()
	if _, err := io.WriteString(in, line+"\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-seen:
		if !strings.HasSuffix(got, line) {
			t.Errorf("attach to %s: output %q, want %q echoed; stderr %q", container, got, line, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("attach to %s: %q not echoed in 30s; stderr %q", container, line, errOut.String())
	}
}

func containerOf(t *testing.T, g api.ContainerGroupDetail, name string) api.ContainerDetail {
	t.Helper()
	for _, c := range g.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("%s has no container %s", g.ContainerGroupID, name)
	return api.ContainerDetail{}
}

// waitNoLogWriter waits until no log writer of root runs: each ends with
// its container.
func waitNoLogWriter(t *testing.T, root string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var left []string
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, _ := os.ReadFile(p)
			if args := strings.Split(string(b), "\x00"); len(args) >= 3 && strings.HasSuffix(args[1], "log-writer") && strings.HasPrefix(args[2], root+"/") {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("log writers left: %v", left)
			return
		}
	}
}

// leci run -i forwards its standard input to the group's Stdin container:
// a cat with StdinOnce echoes it, and the group ends when cat does.
func TestRunStdin(t *testing.T) {
	hr := newHarness(t)
	file := filepath.Join(t.TempDir(), "g.yaml")
	req := "ContainerGroupName: run-stdin\nRestartPolicy: Never\nContainer:\n" +
		"  - {Name: cat, Image: " + image + ", Command: [cat], Stdin: true, StdinOnce: true}\n"
	if err := os.WriteFile(file, []byte(req), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, hr.leci("hi\nthere\n", "run", "-i", "-f", file))
	if code != 0 || out != "cat| hi\ncat| there\n" || !strings.Contains(errOut, "group Succeeded") {
		t.Errorf("leci run -i: %d %q\n%s\nwant 0, cat's two lines and Succeeded", code, out, errOut)
	}

	// No Stdin container: a usage error, before anything runs.
	noStdin := filepath.Join(t.TempDir(), "none.yaml")
	if err := os.WriteFile(noStdin, []byte("ContainerGroupName: none\nContainer:\n  - {Name: app, Image: "+image+", Command: [true]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCmd(t, hr.leci("", "run", "-i", "-f", noStdin))
	if code != 2 || !strings.Contains(errOut, "Stdin") {
		t.Errorf("leci run -i with no Stdin container: %d %q, want 2", code, errOut)
	}
}
