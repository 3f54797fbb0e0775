//go:build integration

package integration

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"leci/api"
	"leci/host"
)

// leci runs the leci binary on the harness's root, runtime, containerd
// namespace, network and cgroup root.
func (hr *harness) leci(stdin string, args ...string) *exec.Cmd {
	cmd := exec.Command(leciBinary, append(globalFlags(hr.cfg), args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

func runCmd(t *testing.T, cmd *exec.Cmd) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func TestRunJobSucceeds(t *testing.T) {
	hr := newHarness(t)
	final := filepath.Join(t.TempDir(), "final.json")
	code, out, errOut := runCmd(t, hr.leci("", "run", "-f", "../examples/job-init.yaml", "--final-status", final))
	if code != 0 {
		t.Fatalf("exit %d, want 0\n%s", code, errOut)
	}
	if want := "job| fetched\njob| prepared\njob| done\n"; out != want {
		t.Errorf("stdout = %q, want %q", out, want)
	}
	for _, s := range []string{"init container fetch: Terminated (Completed, exit code 0)", "group Succeeded"} {
		if !strings.Contains(errOut, s) {
			t.Errorf("stderr lacks %q:\n%s", s, errOut)
		}
	}
	g, data := readFinalStatus(t, final)
	if g.Status != api.GroupSucceeded || len(g.InitContainers) != 2 || g.IntranetIP == "" ||
		g.InitContainers[0].Command[0] != "sh" || g.Containers[0].CurrentState.State != api.StateTerminated {
		t.Errorf("final status = %s", data)
	}
}

func TestRunExitCodes(t *testing.T) {
	hr := newHarness(t)
	failing := "ContainerGroupName: failing\nRestartPolicy: Never\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, 'echo bye; exit 4']}\n"
	if code, out, errOut := runCmd(t, hr.leci(failing, "run", "-f", "-")); code != 1 || out != "app| bye\n" {
		t.Errorf("failing group: exit %d stdout %q, want 1 and the output\n%s", code, out, errOut)
	}
	invalid := "ContainerGroupName: Bad_Name\nContainer:\n  - {Name: app}\n"
	code, _, errOut := runCmd(t, hr.leci(invalid, "run", "-f", "-"))
	if code != 2 || !strings.Contains(errOut, "ERROR InvalidParameter: ContainerGroupName") || !strings.Contains(errOut, "ERROR MissingParameter: Container.1.Image") {
		t.Errorf("invalid request: exit %d, want 2 with ERROR lines\n%s", code, errOut)
	}
	disk := "ContainerGroupName: disk\nContainer:\n  - {Name: app, Image: " + image + "}\nVolume:\n  - {Name: d, Type: DiskVolume, DiskVolume: {DiskId: d-1}}\n"
	if code, _, errOut := runCmd(t, hr.leci(disk, "run", "-f", "-")); code != 2 || !strings.Contains(errOut, "DiskVolume.NotSupport") {
		t.Errorf("unsupported volume: exit %d, want 2 with DiskVolume.NotSupport\n%s", code, errOut)
	}
}

func TestRunTimeoutAndSignal(t *testing.T) {
	hr := newHarness(t)
	forever := "ContainerGroupName: forever\nTerminationGracePeriodSeconds: 1\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, 'trap \"exit 0\" TERM; while true; do sleep 0.1; done']}\n"
	start := time.Now()
	code, _, errOut := runCmd(t, hr.leci(forever, "run", "-f", "-", "--timeout", "2s"))
	if code != 1 || !strings.Contains(errOut, "timed out") || time.Since(start) > 10*time.Second {
		t.Errorf("timeout: exit %d after %s, want 1 soon after 2 s\n%s", code, time.Since(start), errOut)
	}
	cmd := hr.leci(forever, "run", "-f", "-")
	// Read while leci writes to it: a buffer with a lock (the race
	// detector found the plain one).
	var errBuf lockedBuffer
	cmd.Stderr = &errBuf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errBuf.String(), "group Running") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(errBuf.String(), "interrupted") {
		t.Errorf("SIGTERM: %v, want exit 1 after deleting the group\n%s", err, errBuf.String())
	}
}

// Two leci run on one root at once: each runs its own group.
func TestTwoRunsOnOneRoot(t *testing.T) {
	hr := newHarness(t)
	var wg sync.WaitGroup
	codes := make([]int, 2)
	outs := make([]string, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := "ContainerGroupName: twin-" + string(rune('a'+i)) + "\nRestartPolicy: Never\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, 'echo $POD_IP'], EnvironmentVar: [{Key: POD_IP, FieldRef: {FieldPath: status.podIP}}]}\n"
			codes[i], outs[i], _ = runCmd(t, hr.leci(req, "run", "-f", "-"))
		}()
	}
	wg.Wait()
	if codes[0] != 0 || codes[1] != 0 || outs[0] == outs[1] || !strings.HasPrefix(outs[0], "app| 10.214.") {
		t.Errorf("two runs: exits %v, outputs %q; want both 0 with different addresses", codes, outs)
	}
}

// leci, built as make build builds it, runs its groups' log writers and
// sandbox processes from the leci-helper it carries, written out once to
// <root>/bin; a second run on the root uses that file again.
func TestRunWritesOutLeciHelper(t *testing.T) {
	hr := newHarness(t)
	// A shared PID namespace: the group has a sandbox process, its PID 1.
	req := "ContainerGroupName: helped\nRestartPolicy: Never\nShareProcessNamespace: true\nContainer:\n  - {Name: app, Image: " + image + ", Command: [sh, -c, 'echo out; echo err >&2']}\n"
	var installed os.FileInfo
	for run := range 2 {
		code, out, errOut := runCmd(t, hr.leci(req, "run", "-f", "-"))
		if code != 0 || !strings.Contains(out, "app| out\n") || !strings.Contains(out, "app| err\n") {
			t.Fatalf("run %d: exit %d, stdout %q; want 0 and both lines\n%s", run, code, out, errOut)
		}
		helpers, err := filepath.Glob(filepath.Join(hr.cfg.Root, "bin", "leci-helper-*"))
		if err != nil || len(helpers) != 1 {
			t.Fatalf("run %d: %s/bin holds %q (%v), want one leci-helper", run, hr.cfg.Root, helpers, err)
		}
		got, err := os.ReadFile(helpers[0])
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(helperBinary)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("run %d: %s is not the leci-helper built with leci", run, helpers[0])
		}
		fi, err := os.Stat(helpers[0])
		if err != nil {
			t.Fatal(err)
		}
		if installed != nil && !os.SameFile(installed, fi) {
			t.Errorf("run %d wrote %s again", run, helpers[0])
		}
		installed = fi
		if testRuntime == host.RuntimeContainerd {
			sandbox, err := os.Stat(filepath.Join(hr.cfg.Root, "sandbox-rootfs", "leci"))
			if err != nil || !os.SameFile(sandbox, fi) {
				t.Errorf("run %d: the sandbox's /leci is not %s (%v)", run, helpers[0], err)
			}
		}
	}
}
