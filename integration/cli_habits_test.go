//go:build integration

package integration

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"leci/api"
)

// The habits docker and kubectl users bring, through a daemon: exec keeps
// the command's exit code and streams apart, ps lists, filters and
// formats, wait waits, delete --wait returns once the groups are gone.
func TestCLIHabitsThroughDaemon(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	client := func(stdin string, args ...string) (int, string, string) {
		t.Helper()
		cmd := hr.leci(stdin, args...)
		cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
		return runCmd(t, cmd)
	}
	create := func(req string) string {
		t.Helper()
		code, out, errOut := client(req, "create", "-f", "-", "--input-format", "yaml")
		if code != 0 {
			t.Fatalf("create: %d %s", code, errOut)
		}
		return strings.TrimSpace(out)
	}
	long := create("ContainerGroupName: habits\nTerminationGracePeriodSeconds: 1\nTag: [{Key: suite, Value: it}]\nContainer:\n" +
		"  - {Name: app, Image: " + image + ", Command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.1; done\"]}\n")
	quick := create("ContainerGroupName: quick\nRestartPolicy: Never\nContainer:\n  - {Name: job, Image: " + image + ", Command: [sh, -c, 'echo done']}\n")
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			client("", "delete", "--wait", long, quick)
		}
	})

	// wait.
	if code, out, errOut := client("", "wait", quick); code != 0 || out != quick+" Succeeded\n" {
		t.Errorf("wait %s: %d %q %q, want 0 and Succeeded", quick, code, out, errOut)
	}
	if code, out, errOut := client("", "wait", "--for", "ready", "habits", "--timeout", "60s"); code != 0 || out != long+" Running\n" {
		t.Errorf("wait --for ready: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := client("", "wait", "--for", "exit", long, "--timeout", "1s"); code != 1 || !strings.Contains(errOut, "within 1s") {
		t.Errorf("wait --for exit on a running group, --timeout 1s: %d %q, want 1", code, errOut)
	}

	// exec, without -i or -t.
	if code, out, errOut := client("", "exec", long, "--", "sh", "-c", "echo out; echo err >&2; exit 7"); code != 7 || out != "out\n" || errOut != "err\n" {
		t.Errorf("exec sh -c 'exit 7': %d %q %q, want 7 with out and err apart", code, out, errOut)
	}
	if code, out, errOut := client("", "exec", "habits", "echo", "hi"); code != 0 || out != "hi\n" {
		t.Errorf("exec without --: %d %q %q", code, out, errOut)
	}
	code, out, errOut := client("", "exec", "-e", "GREETING=hi", "-e", "HOME=/elsewhere", "-w", "/tmp", "-u", "1000:1001", long, "--",
		"sh", "-c", `echo $GREETING $HOME $(pwd) $(id -u):$(id -g)`)
	if code != 0 || out != "hi /elsewhere /tmp 1000:1001\n" {
		t.Errorf("exec -e -w -u: %d %q %q", code, out, errOut)
	}
	// More than the 1 MiB a synchronous exec returns, all of it.
	if code, out, errOut := client("", "exec", long, "--", "sh", "-c", "head -c 3000000 /dev/zero | tr '\\0' x"); code != 0 || len(out) != 3000000 {
		t.Errorf("exec printing 3 MB: %d, %d bytes, %q", code, len(out), errOut)
	}
	if code, _, errOut := client("", "exec", long, "--", "/no/such/command"); code == 0 {
		t.Errorf("exec of a missing command: %d %q, want non-zero", code, errOut)
	}

	// ps.
	ids := func(out string) []string {
		f := strings.Fields(out)
		slices.Sort(f)
		return f
	}
	both := ids(long + " " + quick)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"ps", "-q"}, []string{long}},
		{[]string{"ps", "-q", "-a"}, both},
		{[]string{"ls", "-qa"}, both},
		{[]string{"ps", "-q", "--filter", "status=Succeeded"}, []string{quick}},
		{[]string{"ps", "-q", "-a", "--filter", "name=quick"}, []string{quick}},
		{[]string{"ps", "-q", "--filter", "tag:suite=it"}, []string{long}},
		{[]string{"ps", "-q", "--filter", "tag:suite=other"}, nil},
	} {
		code, out, errOut := client("", tc.args...)
		if got := ids(out); code != 0 || !slices.Equal(got, tc.want) {
			t.Errorf("%v: %d %q %q, want %q", tc.args, code, got, errOut, tc.want)
		}
	}
	code, out, errOut = client("", "ps", "-a", "--format", "{{.ContainerGroupName}} {{.Status}} {{(index .Containers 0).Name}}")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	slices.Sort(lines)
	if code != 0 || !slices.Equal(lines, []string{"habits Running app", "quick Succeeded job"}) {
		t.Errorf("ps --format: %d %q %q", code, out, errOut)
	}
	code, out, _ = client("", "ps", "-o", "yaml")
	if code != 0 || !strings.Contains(out, "ContainerGroupId: "+long) || strings.Contains(out, quick) {
		t.Errorf("ps -o yaml: %d %q", code, out)
	}
	code, out, _ = client("", "ps", "-o", "wide")
	if code != 0 || !strings.Contains(out, "IMAGES") || !strings.Contains(out, long) {
		t.Errorf("ps -o wide: %d %q", code, out)
	}

	// describe: a summary by default.
	code, out, errOut = client("", "describe", quick)
	squeezed := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{"Status: Succeeded", "job: Image: " + image, "State: Terminated Reason: Completed Exit Code: 0",
		"Ready: false Restart Count: 0", "Conditions: Type Status Reason", "Events: Type Reason Age Count Message"} {
		if code != 0 || !strings.Contains(squeezed, want) {
			t.Errorf("describe %s: %d, lacks %q:\n%s%s", quick, code, want, out, errOut)
		}
	}

	// events -w follows the group until it is deleted.
	watch := hr.leci("", "events", "-w", long, "--format", "{{.Reason}}")
	watch.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	var watched lockedOutput
	watch.Stdout = &watched
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}

	// delete --wait.
	if code, out, errOut := client("", "rm", "--wait", long, quick); code != 0 || !slices.Equal(ids(out), both) {
		t.Errorf("rm --wait: %d %q %q", code, out, errOut)
	}
	deleted = true
	if code, out, errOut := client("", "ps", "-aq"); code != 0 || out != "" {
		t.Errorf("ps -aq after delete --wait: %d %q %q, want nothing", code, out, errOut)
	}
	watchDone := make(chan error, 1)
	go func() { watchDone <- watch.Wait() }()
	select {
	case err := <-watchDone:
		if err != nil || !strings.Contains(watched.String(), "Started\n") {
			t.Errorf("events -w: %v, printed %q; want Started", err, watched.String())
		}
	case <-time.After(10 * time.Second):
		watch.Process.Kill()
		t.Errorf("events -w still runs after its group was deleted; printed %q", watched.String())
	}
}

// leci run, stopped by --timeout or SIGTERM, ends with how its containers
// ended, in the --final-status file and on standard error: Terminated, the
// process's own exit code, or 137 when the grace period ran out.
func TestRunFinalStatusAfterStop(t *testing.T) {
	hr := newHarness(t)
	dir := t.TempDir()
	readFinal := func(path string) api.ContainerGroupDetail {
		t.Helper()
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var g api.ContainerGroupDetail
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		return g
	}

	// --timeout: the container exits 3 on SIGTERM.
	final := filepath.Join(dir, "timeout.json")
	req := "ContainerGroupName: stopped\nTerminationGracePeriodSeconds: 5\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, \"trap 'exit 3' TERM; while true; do sleep 0.1; done\"]}\n"
	code, _, errOut := runCmd(t, hr.leci(req, "run", "-f", "-", "--timeout", "2s", "--final-status", final))
	g := readFinal(final)
	st := g.Containers[0].CurrentState
	if code != 1 || g.Status != api.GroupFailed || st.State != api.StateTerminated || st.ExitCode != 3 || st.Reason != "Error" {
		t.Errorf("--timeout: exit %d, final %s %+v; want 1, Failed, app Terminated with exit code 3\n%s", code, g.Status, st, errOut)
	}
	last := lastLines(errOut, 2)
	if !strings.Contains(last, "container app: Terminated (Error, exit code 3)") || !strings.Contains(last, "Failed (timed out after 2s)") {
		t.Errorf("--timeout: the last lines of stderr are %q, want app's end and the group's", last)
	}

	// SIGTERM: the container ignores it and is killed after the grace period.
	final = filepath.Join(dir, "sigterm.json")
	req = "ContainerGroupName: killed\nTerminationGracePeriodSeconds: 1\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, \"trap '' TERM; while true; do sleep 0.1; done\"]}\n"
	cmd := hr.leci(req, "run", "-f", "-", "--final-status", final)
	var errBuf lockedOutput
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(errBuf.String(), "container app: Running") && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	g = readFinal(final)
	st = g.Containers[0].CurrentState
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || st.State != api.StateTerminated || st.ExitCode != 137 {
		t.Errorf("SIGTERM: %v, final %s %+v; want exit 1, app Terminated with exit code 137\n%s", err, g.Status, st, errBuf.String())
	}
	if last := lastLines(errBuf.String(), 2); !strings.Contains(last, "container app: Terminated (Error, exit code 137)") || !strings.Contains(last, "(interrupted)") {
		t.Errorf("SIGTERM: the last lines of stderr are %q", last)
	}
}

// lastLines is the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// leci logs -f streams from the daemon: a container writing 10,000 lines
// a second loses none, all lines come first with no --tail, and the stream
// ends by itself once the container has ended for good. --all-containers
// --prefix shows every container's lines, each marked.
func TestLogsFollowStreams(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	client := func(stdin string, args ...string) *exec.Cmd {
		cmd := hr.leci(stdin, args...)
		cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
		return cmd
	}
	const lines = 30000 // 10,000 a second for three seconds
	req := "ContainerGroupName: chatty\nRestartPolicy: Never\nContainer:\n" +
		"  - {Name: app, Image: " + image + ", Command: [sh, -c, 'echo first; sleep 3; for s in 1 2 3; do seq $(( (s-1)*10000+1 )) $((s*10000)); sleep 1; done']}\n" +
		"  - {Name: side, Image: " + image + ", Command: [sh, -c, 'echo from side; sleep 1; echo side again']}\n"
	code, out, errOut := runCmd(t, client(req, "create", "-f", "-", "--input-format", "yaml", "--wait", "running"))
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	t.Cleanup(func() { runCmd(t, client("", "delete", "--wait", id)) })
	// "first" is written before leci logs starts: all lines come first.
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if _, out, _ := runCmd(t, client("", "logs", id)); out != "" {
			break
		}
	}
	start := time.Now()
	code, out, errOut = runCmd(t, client("", "logs", "-f", id))
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || len(got) != lines+1 || got[0] != "first" {
		t.Fatalf("logs -f: exit %d, %d lines (want %d) after %s; stderr %q", code, len(got), lines+1, time.Since(start), errOut)
	}
	for i, l := range got[1:] {
		if l != strconv.Itoa(i+1) {
			t.Fatalf("logs -f: line %d is %q, want %d", i+2, l, i+1)
		}
	}
	code, out, errOut = runCmd(t, client("", "logs", "--all-containers", "--prefix", "--tail", "1", id))
	if code != 0 || out != "[group/chatty/app] 30000\n[group/chatty/side] side again\n" {
		t.Errorf("logs --all-containers --prefix --tail 1: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, client("", "logs", "--since", "1h", "--tail", "2", id))
	if code != 0 || out != "29999\n30000\n" {
		t.Errorf("logs --since 1h --tail 2: %d %q", code, out)
	}
}

// A foreground leci run is visible, with no daemon, to ps, describe, logs,
// exec and delete on the same root; leci run -d hands its group to the
// daemon, and says clearly that it needs one when none runs.
func TestRunVisibleWithoutDaemon(t *testing.T) {
	hr := newHarness(t)
	req := "ContainerGroupName: foreground\nTerminationGracePeriodSeconds: 1\nContainer:\n" +
		"  - {Name: app, Image: " + image + ", Command: [sh, -c, \"echo hello; trap 'exit 0' TERM; while true; do sleep 0.1; done\"]}\n"
	run := hr.leci(req, "run", "-f", "-")
	var runErr lockedOutput
	run.Stderr = &runErr
	if err := run.Start(); err != nil {
		t.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- run.Wait() }()
	t.Cleanup(func() {
		if run.ProcessState == nil {
			run.Process.Signal(syscall.SIGTERM)
			<-runDone
		}
	})
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(runErr.String(), "container app: Running"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not start:\n%s", runErr.String())
		}
	}
	// No LECI_HOST, no --host: the daemon's default socket, then the runs.
	client := func(args ...string) (int, string, string) {
		t.Helper()
		cmd := hr.leci("", args...)
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "LECI_HOST=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		return runCmd(t, cmd)
	}
	code, out, errOut := client("ps", "--format", "{{.ContainerGroupId}} {{.ContainerGroupName}} {{.Status}}")
	var id string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[1] == "foreground" && f[2] == "Running" {
			id = f[0]
		}
	}
	if code != 0 || id == "" {
		t.Fatalf("ps: %d %q %q, want the foreground group Running", code, out, errOut)
	}
	if code, out, errOut := client("describe", "foreground"); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "Status:") {
		t.Errorf("describe: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := client("logs", id); code != 0 || out != "hello\n" {
		t.Errorf("logs: %d %q %q", code, out, errOut)
	}
	if code, out, errOut := client("exec", "foreground", "--", "sh", "-c", "echo in; exit 4"); code != 4 || out != "in\n" {
		t.Errorf("exec: %d %q %q, want 4", code, out, errOut)
	}
	if code, _, errOut := client("create", "-f", "../examples/job-init.yaml", "--host", "unix://"+filepath.Join(hr.cfg.Root, "runs", id+".sock")); code == 0 {
		t.Errorf("a create on a run's socket: %d %q, want it refused", code, errOut)
	}

	// leci delete ends the run: it reports how the container ended.
	if code, out, errOut := client("delete", id); code != 0 || strings.TrimSpace(out) != id {
		t.Errorf("delete: %d %q %q", code, out, errOut)
	}
	select {
	case err := <-runDone:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(runErr.String(), "container app: Terminated (Completed, exit code 0)") ||
			!strings.Contains(runErr.String(), "(deleted)") {
			t.Errorf("the deleted run: %v\n%s", err, runErr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the run did not end after leci delete:\n%s", runErr.String())
	}
	if socks, _ := filepath.Glob(filepath.Join(hr.cfg.Root, "runs", "*.sock")); len(socks) != 0 {
		t.Errorf("the run left %q", socks)
	}

	// run -d: no daemon, then one.
	none := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	code, _, errOut = runCmd(t, hr.leci(req, "run", "-d", "-f", "-", "--host", none))
	if code != 1 || !strings.Contains(errOut, "start `leci daemon`") {
		t.Errorf("run -d with no daemon: %d %q, want 1 and what to do", code, errOut)
	}
	d := hr.startDaemon()
	code, out, errOut = runCmd(t, hr.leci(req, "run", "-d", "-f", "-", "--host", "unix://"+d.sock))
	id = strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(id, "eci-") {
		t.Fatalf("run -d: %d %q %q", code, out, errOut)
	}
	cmd := hr.leci("", "wait", "--for", "running", id)
	cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	if code, out, errOut := runCmd(t, cmd); code != 0 || out != id+" Running\n" {
		t.Errorf("wait for the group of run -d: %d %q %q", code, out, errOut)
	}
	cmd = hr.leci("", "delete", "--wait", id)
	cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	if code, _, errOut := runCmd(t, cmd); code != 0 {
		t.Errorf("delete --wait: %d %q", code, errOut)
	}
}
