package cgroup

import (
	"leci/internal/mountinfo"

	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leci/pod"
)

// hybridMountinfo is this kind of host: v1 controllers, an empty v2
// hierarchy at /sys/fs/cgroup/unified.
const hybridMountinfo = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 31 0:32 /sub /mnt/mem\040copy rw,relatime - cgroup cgroup rw,memory
`

const unifiedMountinfo = `25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`

func TestParseCgroupMounts(t *testing.T) {
	table, err := mountinfo.Parse(strings.NewReader(hybridMountinfo))
	ms := parseMounts(table)
	if err != nil {
		t.Fatal(err)
	}
	cg := &FS{mounts: ms}
	if len(ms) != 5 {
		t.Fatalf("mounts = %+v, want 5 (the second memory mount is the same hierarchy)", ms)
	}
	if m, ok := cg.v1("memory"); !ok || m.Mountpoint != "/sys/fs/cgroup/memory" {
		t.Errorf("memory = %+v, %v", m, ok)
	}
	if m, ok := cg.v1("name=systemd"); !ok || m.Mountpoint != "/sys/fs/cgroup/systemd" {
		t.Errorf("systemd = %+v, %v", m, ok)
	}
	if m, ok := cg.unified(); !ok || m.Mountpoint != "/sys/fs/cgroup/unified" {
		t.Errorf("unified = %+v, %v", m, ok)
	}

	table, err = mountinfo.Parse(strings.NewReader(unifiedMountinfo))
	ms = parseMounts(table)
	if err != nil {
		t.Fatal(err)
	}
	cg = &FS{mounts: ms}
	if _, ok := cg.v1("cpu"); ok {
		t.Error("cpu on v1 on a unified host")
	}
	if m, ok := cg.unified(); !ok || m.Mountpoint != "/sys/fs/cgroup" {
		t.Errorf("unified = %+v, %v", m, ok)
	}
}

func TestCgroupMountDir(t *testing.T) {
	m := Mount{Mountpoint: "/sys/fs/cgroup/memory", Root: "/"}
	if got := m.dir("/leci/g"); got != "/sys/fs/cgroup/memory/leci/g" {
		t.Errorf("dir = %q", got)
	}
	m.Root = "/outer"
	if got := m.dir("/outer/leci/g"); got != "/sys/fs/cgroup/memory/leci/g" {
		t.Errorf("dir below a non-root mount = %q", got)
	}
}

func TestParseFlatKey(t *testing.T) {
	v1 := "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
	if n, err := parseFlatKey(v1, "oom_kill"); err != nil || n != 3 {
		t.Errorf("v1 oom_kill = %d, %v", n, err)
	}
	v2 := "low 0\nhigh 0\nmax 5\noom 2\noom_kill 1\noom_group_kill 0\n"
	if n, err := parseFlatKey(v2, "oom_kill"); err != nil || n != 1 {
		t.Errorf("v2 oom_kill = %d, %v", n, err)
	}
	if _, err := parseFlatKey("oom 1\n", "oom_kill"); err == nil {
		t.Error("missing key: no error")
	}
}

func TestSharesToWeight(t *testing.T) {
	for shares, want := range map[uint64]uint64{2: 1, 1024: 39, 262144: 10000} {
		if got := sharesToWeight(shares); got != want {
			t.Errorf("sharesToWeight(%d) = %d, want %d", shares, got, want)
		}
	}
}

// fakeHierarchies lays out plain directories standing for cgroup mounts:
// writes land in ordinary files, which is all CreateGroup does.
func fakeHierarchies(t *testing.T, v2 bool) *FS {
	t.Helper()
	root := t.TempDir()
	if v2 {
		return &FS{mounts: []Mount{{Mountpoint: root, Root: "/", V2: true}}}
	}
	var ms []Mount
	for _, c := range []string{"cpu", "memory", "pids"} {
		dir := filepath.Join(root, c)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		ms = append(ms, Mount{Mountpoint: dir, Root: "/", Controllers: []string{c}})
	}
	return &FS{mounts: ms}
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestCreateGroupV1(t *testing.T) {
	cg := fakeHierarchies(t, false)
	if err := cg.CreateGroup("/leci/g1", pod.Resources{CPU: 1.5, MemoryBytes: 32 << 20, Pids: 4096}); err != nil {
		t.Fatal(err)
	}
	cpu, _ := cg.v1("cpu")
	mem, _ := cg.v1("memory")
	pids, _ := cg.v1("pids")
	for file, want := range map[string]string{
		filepath.Join(pids.Mountpoint, "leci/g1/pids.max"):             "4096",
		filepath.Join(cpu.Mountpoint, "leci/g1/cpu.cfs_period_us"):     "100000",
		filepath.Join(cpu.Mountpoint, "leci/g1/cpu.cfs_quota_us"):      "150000",
		filepath.Join(cpu.Mountpoint, "leci/g1/cpu.shares"):            "1536",
		filepath.Join(mem.Mountpoint, "leci/g1/memory.limit_in_bytes"): "33554432",
	} {
		if got := readTrim(t, file); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if q, ok := cg.V1CPUQuota("/leci/g1"); !ok || q != 150000 {
		t.Errorf("V1CPUQuota = %d, %v", q, ok)
	}
	// No limits resets them.
	if err := cg.CreateGroup("/leci/g1", pod.Resources{}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(cpu.Mountpoint, "leci/g1/cpu.cfs_quota_us")); got != "-1" {
		t.Errorf("quota after reset = %q", got)
	}
	if got := readTrim(t, filepath.Join(pids.Mountpoint, "leci/g1/pids.max")); got != "max" {
		t.Errorf("pids.max after reset = %q", got)
	}
	if _, ok := cg.V1CPUQuota("/leci/g1"); ok {
		t.Error("V1CPUQuota reports a quota after reset")
	}
}

func TestCreateGroupV2(t *testing.T) {
	cg := fakeHierarchies(t, true)
	if err := cg.CreateGroup("/leci/g1", pod.Resources{CPU: 0.5, MemoryBytes: 1 << 20, Pids: 100}); err != nil {
		t.Fatal(err)
	}
	m, _ := cg.unified()
	for file, want := range map[string]string{
		"leci/g1/cpu.max":             "50000 100000",
		"leci/g1/memory.max":          "1048576",
		"leci/g1/pids.max":            "100",
		"cgroup.subtree_control":      "+pids", // the last write
		"leci/cgroup.subtree_control": "+pids",
		"leci/g1/cpu.weight":          "20",
	} {
		if got := readTrim(t, filepath.Join(m.Mountpoint, file)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
}

func TestRemoveTree(t *testing.T) {
	cg := fakeHierarchies(t, false)
	for _, m := range cg.mounts {
		if err := os.MkdirAll(filepath.Join(m.Mountpoint, "leci/g1/sandbox/x"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(m.Mountpoint, "leci/g1/c1"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := cg.RemoveTree("/leci/g1"); err != nil {
		t.Fatal(err)
	}
	for _, m := range cg.mounts {
		if _, err := os.Stat(filepath.Join(m.Mountpoint, "leci/g1")); !os.IsNotExist(err) {
			t.Errorf("%s: group cgroup left (%v)", m.Mountpoint, err)
		}
		if _, err := os.Stat(filepath.Join(m.Mountpoint, "leci")); err != nil {
			t.Errorf("%s: the cgroup root went too: %v", m.Mountpoint, err)
		}
	}
	if err := cg.RemoveTree("/leci/g1"); err != nil {
		t.Errorf("second remove: %v", err)
	}
}

func TestCPUQuotaShares(t *testing.T) {
	for _, tt := range []struct {
		cores  float64
		quota  int64
		shares uint64
	}{
		{0, 0, 0}, {0.25, 25000, 256}, {1, 100000, 1024}, {2.5, 250000, 2560}, {0.001, 1000, 2},
	} {
		q, s := CPUQuotaShares(tt.cores)
		if q != tt.quota || s != tt.shares {
			t.Errorf("CPUQuotaShares(%v) = %d, %d; want %d, %d", tt.cores, q, s, tt.quota, tt.shares)
		}
	}
}

// TestCreateGroupRollback checks that the cgroup of a start that succeeded
// stays and that of a failed one goes.
func TestCreateGroupRollback(t *testing.T) {
	cg := fakeHierarchies(t, true)
	rollback, err := cg.CreateGroupRollback("/leci/g1", pod.Resources{CPU: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := cg.unified()
	dir := filepath.Join(m.Mountpoint, "leci/g1")
	// A real cgroup's files go with it; these plain ones would stop rmdir.
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	var succeeded error
	rollback(&succeeded)
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("the cgroup of a start that succeeded: %v", err)
	}
	failed := errors.New("start failed")
	rollback(&failed)
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the cgroup of a failed start is still there (%v)", err)
	}
}
