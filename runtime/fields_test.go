package runtime

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"leci/api"
	"leci/internal/gpu"
)

// A cloud-only field the request sets is a warning event from the start.
func TestCreateNotesUnappliedFields(t *testing.T) {
	e := newTestEngine(t, newFakeBackend(), nil)
	req := testRequest(api.RestartNever, nil, []string{"app"})
	req.ZoneID, req.NtpServer = "cn-hangzhou-b", []string{"ntp.example.com"}
	id, err := e.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Delete(context.Background(), id)
	st, _ := e.Get(id)
	var got []string
	for _, ev := range st.Events {
		if ev.Reason == ReasonFieldNotApplied && ev.Type == "Warning" {
			got = append(got, ev.Message)
		}
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "ZoneId: recorded, not applied: ") || !strings.HasPrefix(got[1], "NtpServer: ") {
		t.Errorf("FieldNotApplied events %q", got)
	}
}

// Two groups cannot be created with one PrivateIpAddress; once the first
// is deleted, the address can be had.
func TestPrivateAddressReserved(t *testing.T) {
	e := newTestEngine(t, newFakeBackend(), nil)
	req := func() *api.CreateContainerGroupRequest {
		r := testRequest(api.RestartAlways, nil, []string{"app"})
		r.PrivateIPAddress = "10.89.0.9"
		return r
	}
	first, err := e.Create(context.Background(), req())
	if err != nil {
		t.Fatal(err)
	}
	var apiErr *api.Error
	if _, err := e.Create(context.Background(), req()); !errors.As(err, &apiErr) || apiErr.Code != CodeAddressInUse {
		t.Errorf("second create: %v, want %s", err, CodeAddressInUse)
	}
	e.Delete(context.Background(), first)
	second, err := e.Create(context.Background(), req())
	if err != nil {
		t.Fatalf("create after the first group's delete: %v", err)
	}
	e.Delete(context.Background(), second)
}

// GPUs: each app container gets its own devices, an init container the
// group's first; a group asking for more than are free is refused; a
// deleted group's devices are free again.
func TestGPUsReservedPerGroup(t *testing.T) {
	specs := t.TempDir()
	spec := "cdiVersion: \"0.6.0\"\nkind: nvidia.com/gpu\ndevices:\n"
	for _, n := range []string{"0", "1", "2"} {
		spec += "  - name: \"" + n + "\"\n    containerEdits: {env: [G" + n + "=1]}\n"
	}
	if err := os.WriteFile(filepath.Join(specs, "gpus.yaml"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	pool := &gpu.Pool{SpecDirs: []string{specs}, Kind: gpu.DefaultKind, StateDir: filepath.Join(root, "gpus")}
	e := New(newFakeBackend(), &fakeNet{}, fakeVolumes{}, Options{Root: root, Backoff: fastBackoff, GPUs: pool}, slog.New(slog.DiscardHandler))
	req := testRequest(api.RestartAlways, []string{"init"}, []string{"a", "b"})
	req.InitContainer[0].Gpu, req.Container[0].Gpu, req.Container[1].Gpu = 1, 1, 1
	id, err := e.Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := e.Get(id)
	want := map[string][]string{"init": {"nvidia.com/gpu=0"}, "a": {"nvidia.com/gpu=0"}, "b": {"nvidia.com/gpu=1"}}
	for name, devs := range want {
		if !slices.Equal(st.GPUs[name], devs) {
			t.Errorf("%s holds %v, want %v", name, st.GPUs[name], devs)
		}
	}
	two := testRequest(api.RestartAlways, nil, []string{"x"})
	two.Container[0].Gpu = 2
	var apiErr *api.Error
	if _, err := e.Create(context.Background(), two); !errors.As(err, &apiErr) || apiErr.Code != CodeNoStock || apiErr.Status != 403 {
		t.Errorf("two GPUs with one free: %v, want 403 %s", err, CodeNoStock)
	}
	e.Delete(context.Background(), id)
	if free, _, _ := pool.Free(); len(free) != 3 {
		t.Errorf("after delete, %d of 3 free", len(free))
	}
	// Without a pool, any GPU is refused rather than ignored.
	if _, err := newTestEngine(t, newFakeBackend(), nil).Create(context.Background(), two); !errors.As(err, &apiErr) || apiErr.Code != CodeNoStock {
		t.Errorf("GPUs on an engine without a pool: %v", err)
	}
}

func TestCheckResourcesAgainstHost(t *testing.T) {
	req := testRequest(api.RestartAlways, nil, []string{"app"})
	req.Cpu, req.Memory = 4, 8
	errs := checkResources(req, 2, 16)
	if len(errs) != 1 || errs[0].Code != api.CodeInvalidCPUMemory || errs[0].Field != "Cpu" {
		t.Errorf("4 vCPUs on a 2-CPU host: %v", errs)
	}
	if errs := checkResources(req, 8, 4); len(errs) != 1 || errs[0].Field != "Memory" {
		t.Errorf("8 GiB on a 4 GiB host: %v", errs)
	}
	if errs := checkResources(req, 8, 16); len(errs) != 0 {
		t.Errorf("within the host: %v", errs)
	}
}

func TestDescribeExpiredAndAllocated(t *testing.T) {
	req := testRequest(api.RestartAlways, nil, []string{"a", "b"})
	req.Container[0].Cpu, req.Container[0].Memory = 0.5, 1
	req.Container[1].Cpu, req.Container[1].Memory = 0.25, 0.5
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := GroupStatus{ID: "eci-x", Request: req, Phase: api.GroupExpired, CreatedAt: at, ExpiredAt: at.Add(time.Minute),
		Containers: make([]ContainerStatus, 2)}
	d := Describe(st)
	if d.ExpiredTime != "2026-01-02T03:05:05Z" || d.FailedTime != d.ExpiredTime {
		t.Errorf("ExpiredTime %q, FailedTime %q", d.ExpiredTime, d.FailedTime)
	}
	if d.Cpu != 0.75 || d.Memory != 1.5 {
		t.Errorf("Cpu %g, Memory %g; want the containers' 0.75, 1.5", d.Cpu, d.Memory)
	}
}

// A group keeps its latest 50 events.
func TestEventsCapped(t *testing.T) {
	var st GroupStatus
	now := time.Now()
	for i := range 60 {
		st.event(now, "Normal", "R", "", strings.Repeat("x", i+1))
	}
	if len(st.Events) != 50 || st.Events[0].Message != strings.Repeat("x", 11) {
		t.Errorf("%d events, first %q", len(st.Events), st.Events[0].Message)
	}
}
