package gpu

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	oci "github.com/opencontainers/runtime-spec/specs-go"
)

// testPool is a pool of two nvidia.com/gpu devices (and one of another
// kind) whose nodes are the host's /dev/null.
func testPool(t *testing.T) Pool {
	t.Helper()
	dir := t.TempDir()
	spec := `cdiVersion: "0.6.0"
kind: nvidia.com/gpu
containerEdits:
  env: [SPEC_WIDE=1]
devices:
  - name: "0"
    containerEdits:
      deviceNodes: [{path: /dev/gpu0, hostPath: /dev/null}]
      env: [GPU0=1]
  - name: "1"
    containerEdits:
      deviceNodes: [{path: /dev/gpu1, hostPath: /dev/null}]
      mounts: [{hostPath: /etc/hostname, containerPath: /gpu1-info, options: [ro, bind]}]
`
	other := `cdiVersion: "0.6.0"
kind: example.com/fpga
devices:
  - name: a
    containerEdits: {env: [FPGA=1]}
`
	for name, data := range map[string]string{"gpu.yaml": spec, "fpga.yaml": other} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return Pool{SpecDirs: []string{dir}, Kind: DefaultKind, StateDir: filepath.Join(t.TempDir(), "gpus"),
		Owned: func(group string) bool { return group != "gone" }}
}

func TestReserveRelease(t *testing.T) {
	p := testPool(t)
	devs, err := p.Devices()
	if err != nil || !slices.Equal(devs, []string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"}) {
		t.Fatalf("Devices = %v, %v", devs, err)
	}
	a, err := p.Reserve("a", 1)
	if err != nil || !slices.Equal(a, []string{"nvidia.com/gpu=0"}) {
		t.Fatalf("Reserve(a, 1) = %v, %v", a, err)
	}
	if _, err := p.Reserve("b", 2); !errors.Is(err, ErrNotEnough) {
		t.Errorf("Reserve(b, 2) with one free: %v, want ErrNotEnough", err)
	}
	if err := p.Check(2); !errors.Is(err, ErrNotEnough) {
		t.Errorf("Check(2): %v", err)
	}
	b, err := p.Reserve("b", 1)
	if err != nil || !slices.Equal(b, []string{"nvidia.com/gpu=1"}) {
		t.Fatalf("Reserve(b, 1) = %v, %v; want the device a does not hold", b, err)
	}
	if err := p.Check(1); !errors.Is(err, ErrNotEnough) {
		t.Errorf("Check(1) with none free: %v", err)
	}
	p.Release("a")
	if free, total, _ := p.Free(); !slices.Equal(free, []string{"nvidia.com/gpu=0"}) || total != 2 {
		t.Errorf("after a's release: free %v of %d", free, total)
	}
}

// A device held by a group that is gone is free again once its holding
// is old enough not to be a create under way.
func TestStaleHolding(t *testing.T) {
	p := testPool(t)
	if _, err := p.Reserve("gone", 2); err != nil {
		t.Fatal(err)
	}
	if err := p.Check(1); err == nil {
		t.Fatal("a fresh holding of a group not yet known is free")
	}
	old := p.stateFile("nvidia.com/gpu=0")
	past := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(old, past, past); err != nil {
		t.Fatal(err)
	}
	got, err := p.Reserve("new", 1)
	if err != nil || !slices.Equal(got, []string{"nvidia.com/gpu=0"}) {
		t.Errorf("Reserve over a stale holding = %v, %v", got, err)
	}
}

func TestInjectAndResolve(t *testing.T) {
	p := testPool(t)
	s := &oci.Spec{Process: &oci.Process{}, Linux: &oci.Linux{}}
	if err := p.Inject(s, []string{"nvidia.com/gpu=0"}); err != nil {
		t.Fatal(err)
	}
	if len(s.Linux.Devices) != 1 || s.Linux.Devices[0].Path != "/dev/gpu0" || s.Linux.Devices[0].Major != 1 || s.Linux.Devices[0].Minor != 3 {
		t.Errorf("devices %+v; want /dev/gpu0 with /dev/null's numbers", s.Linux.Devices)
	}
	if !slices.Contains(s.Process.Env, "GPU0=1") || !slices.Contains(s.Process.Env, "SPEC_WIDE=1") {
		t.Errorf("env %v", s.Process.Env)
	}
	e, err := p.Resolve([]string{"nvidia.com/gpu=0", "nvidia.com/gpu=1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Devices) != 2 || e.Devices[1] != (Device{Path: "/dev/gpu1", HostPath: "/dev/null", Permissions: "rwm"}) {
		t.Errorf("devices %+v", e.Devices)
	}
	if !slices.Equal(e.Env, []string{"SPEC_WIDE=1", "GPU0=1"}) || len(e.Mounts) != 1 || e.Mounts[0].ContainerPath != "/gpu1-info" || e.Hooks != 0 {
		t.Errorf("edits %+v", e)
	}
	if _, err := p.Resolve([]string{"nvidia.com/gpu=7"}); err == nil {
		t.Error("an unknown device resolves")
	}
}
