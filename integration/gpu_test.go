//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/host"
	"leci/runtime"
)

// cdiDevices writes a CDI spec of n nvidia.com/gpu devices whose nodes are
// character devices the test makes (with /dev/null's numbers), each with
// an environment variable, and returns the spec directory.
func cdiDevices(t *testing.T, n int) string {
	t.Helper()
	nodes, specs := t.TempDir(), t.TempDir()
	var devs strings.Builder
	for i := 0; i < n; i++ {
		node := filepath.Join(nodes, fmt.Sprintf("gpu%d", i))
		if err := unix.Mknod(node, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatalf("mknod %s: %v", node, err)
		}
		fmt.Fprintf(&devs, "  - name: \"%d\"\n    containerEdits:\n      deviceNodes: [{path: /dev/leci-gpu%d, hostPath: %s}]\n      env: [LECI_GPU_%d=held]\n", i, i, node, i)
	}
	spec := "cdiVersion: \"0.6.0\"\nkind: nvidia.com/gpu\ncontainerEdits:\n  env: [LECI_GPU_DRIVER=test]\ndevices:\n" + devs.String()
	if err := os.WriteFile(filepath.Join(specs, "leci-test-gpus.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	return specs
}

// A container asking for a GPU gets one whole CDI device that no other
// group holds, with the spec's edits applied (the node, usable; the
// environment); a group asking for more than are free is refused at
// create, and by the checks a DryRun runs; a deleted group's devices are
// free again.
func TestGPUsThroughCDI(t *testing.T) {
	specDir := cdiDevices(t, 2)
	hr := newHarness(t, func(c *host.Config) { c.CDISpecDirs = []string{specDir} })
	gpuGroup := func(name string, gpus int) string {
		return `
ContainerGroupName: ` + name + `
TerminationGracePeriodSeconds: 1
Container:
  - Name: app
    Image: ` + image + `
    Gpu: ` + fmt.Sprint(gpus) + `
    Command: [sh, -c, "ls /dev | grep leci-gpu; env | grep LECI_GPU | sort; for d in /dev/leci-gpu*; do echo x > $d && echo wrote $d; done; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
`
	}
	create := func(yaml string) (string, error) {
		var req api.CreateContainerGroupRequest
		if err := api.Decode([]byte(yaml), api.FormatYAML, &req); err != nil {
			t.Fatal(err)
		}
		if err := req.Normalize(); err != nil {
			t.Fatal(err)
		}
		if errs := hr.cfg.Check(&req); len(errs) > 0 {
			return "", errs
		}
		return hr.h.Engine.Create(context.Background(), &req)
	}
	noStock := func(err error) bool {
		var e *api.Error
		return errors.As(err, &e) && e.Code == runtime.CodeNoStock
	}

	first, err := create(gpuGroup("first", 1))
	if err != nil {
		t.Fatal(err)
	}
	hr.waitPhase(first, api.GroupRunning)
	want := "leci-gpu0\nLECI_GPU_0=held\nLECI_GPU_DRIVER=test\nwrote /dev/leci-gpu0\n"
	if got := waitLogPrefix(hr, first, want); got != want {
		t.Errorf("first group's container saw:\n%s\nwant:\n%s", got, want)
	}
	if _, err := create(gpuGroup("two", 2)); !noStock(err) {
		t.Errorf("two GPUs with one free: %v; want %s", err, runtime.CodeNoStock)
	}
	second, err := create(gpuGroup("second", 1))
	if err != nil {
		t.Fatalf("the last GPU: %v", err)
	}
	st := hr.waitPhase(second, api.GroupRunning)
	if got := st.GPUs["app"]; len(got) != 1 || got[0] != "nvidia.com/gpu=1" {
		t.Errorf("second group holds %v, want nvidia.com/gpu=1", got)
	}
	held := false
	for _, e := range runtime.Describe(st).Events {
		held = held || (e.Reason == "AssignedGPUs" && e.Name == "app" && e.Message == "Assigned nvidia.com/gpu=1")
	}
	if !held {
		t.Errorf("Describe does not show the GPU held: %+v", runtime.Describe(st).Events)
	}
	// The second group's container sees its own device only, under its
	// own name.
	want = "leci-gpu1\nLECI_GPU_1=held\nLECI_GPU_DRIVER=test\nwrote /dev/leci-gpu1\n"
	if got := waitLogPrefix(hr, second, want); got != want {
		t.Errorf("second group's container saw:\n%s\nwant:\n%s", got, want)
	}
	if _, err := create(gpuGroup("third", 1)); !noStock(err) {
		t.Errorf("a GPU with none free: %v; want %s", err, runtime.CodeNoStock)
	}
	// A DryRun says so too, here through `leci run` on the same root.
	dry := "DryRun: true\n" + gpuGroup("dry", 1)
	code, _, errOut := runCmd(t, hr.leci(dry, "run", "--cdi-spec-dir", specDir, "-f", "-", "--format", "yaml"))
	if code != 2 || !strings.Contains(errOut, runtime.CodeNoStock+": Gpu: not enough free GPUs: 1 asked, 0 of 2 nvidia.com/gpu free") {
		t.Errorf("DryRun of a GPU with none free: exit %d, %q; want 2 and %s", code, errOut, runtime.CodeNoStock)
	}
	hr.delete(first)
	third, err := create(gpuGroup("third", 1))
	if err != nil {
		t.Fatalf("a GPU once the first group is gone: %v", err)
	}
	hr.waitPhase(third, api.GroupRunning)
	hr.delete(second)
	code, _, errOut = runCmd(t, hr.leci(dry, "run", "--cdi-spec-dir", specDir, "-f", "-", "--format", "yaml"))
	if code != 0 || !strings.Contains(errOut, "DryRunOperation") {
		t.Errorf("DryRun of a GPU with one free: exit %d, %q; want 0 and DryRunOperation", code, errOut)
	}
	hr.delete(third)
}

// waitLogPrefix polls the log of a group's app container until it starts
// with want, for at most 20 s, and returns what it holds then.
func waitLogPrefix(hr *harness, id, want string) string {
	hr.t.Helper()
	got := ""
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got = hr.logSoFar(id, "app", 1); strings.HasPrefix(got, want) {
			return got
		}
	}
	return got
}
