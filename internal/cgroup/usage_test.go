package cgroup

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"leci/pod"
)

// writeFiles writes name → content below dir, making directories.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// withoutTime drops the reading time, which is the clock's.
func withoutTime(u pod.Usage) pod.Usage {
	u.Time = time.Time{}
	return u
}

func TestUsageV1(t *testing.T) {
	// This host's layout: cpu and cpuacct in hierarchies of their own.
	root := t.TempDir()
	var ms []Mount
	for _, c := range []string{"cpu", "cpuacct", "memory"} {
		ms = append(ms, Mount{Mountpoint: filepath.Join(root, c), Root: "/", Controllers: []string{c}})
	}
	cg := &FS{mounts: ms}
	writeFiles(t, filepath.Join(root, "cpuacct/leci/g1"), map[string]string{"cpuacct.usage": "1500000000\n"})
	writeFiles(t, filepath.Join(root, "memory/leci/g1"), map[string]string{
		"memory.usage_in_bytes": "50000000\n",
		"memory.limit_in_bytes": "268435456\n",
		// The non-total figures are this cgroup's own; the total_ ones
		// count its containers too, and are the ones to read.
		"memory.stat": "cache 0\nrss 0\ninactive_file 0\n" +
			"total_cache 30000000\ntotal_rss 20000000\ntotal_inactive_file 12000000\ntotal_active_file 18000000\n",
	})
	got, err := cg.Usage("/leci/g1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Time.IsZero() {
		t.Error("usage without the time of reading")
	}
	want := pod.Usage{CPUNanos: 1500000000, MemoryUsage: 50000000, MemoryWorkingSet: 38000000,
		MemoryRSS: 20000000, MemoryCache: 30000000, MemoryLimit: 268435456}
	if withoutTime(got) != want {
		t.Errorf("usage = %+v\nwant    %+v", withoutTime(got), want)
	}

	// No limit is the kernel's huge value, which is no limit here.
	writeFiles(t, filepath.Join(root, "memory/leci/g1"), map[string]string{"memory.limit_in_bytes": "9223372036854771712\n"})
	if got, err := cg.Usage("/leci/g1"); err != nil || got.MemoryLimit != 0 {
		t.Errorf("unlimited: limit %d, %v; want 0", got.MemoryLimit, err)
	}

	if _, err := cg.Usage("/leci/gone"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing cgroup: %v, want fs.ErrNotExist", err)
	}
}

func TestUsageV2(t *testing.T) {
	root := t.TempDir()
	cg := &FS{mounts: []Mount{{Mountpoint: root, Root: "/", V2: true}}}
	files := map[string]string{
		"cpu.stat":       "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
		"memory.current": "40000000\n",
		"memory.max":     "max\n",
		"memory.stat":    "anon 25000000\nfile 15000000\nkernel_stack 0\ninactive_file 41000000\n",
	}
	writeFiles(t, filepath.Join(root, "leci/g2"), files)
	got, err := cg.Usage("/leci/g2")
	if err != nil {
		t.Fatal(err)
	}
	// The inactive file pages read above the usage (not read atomically):
	// the working set stays at 0 rather than wrapping around.
	want := pod.Usage{CPUNanos: 2500000000, MemoryUsage: 40000000, MemoryWorkingSet: 0,
		MemoryRSS: 25000000, MemoryCache: 15000000, MemoryLimit: 0}
	if withoutTime(got) != want {
		t.Errorf("usage = %+v\nwant    %+v", withoutTime(got), want)
	}

	writeFiles(t, filepath.Join(root, "leci/g2"), map[string]string{
		"memory.max":  "104857600\n",
		"memory.stat": "anon 25000000\nfile 15000000\ninactive_file 5000000\n",
	})
	got, err = cg.Usage("/leci/g2")
	if err != nil {
		t.Fatal(err)
	}
	if got.MemoryLimit != 104857600 || got.MemoryWorkingSet != 35000000 {
		t.Errorf("limit %d, working set %d; want 104857600, 35000000", got.MemoryLimit, got.MemoryWorkingSet)
	}

	writeFiles(t, filepath.Join(root, "leci/g3"), map[string]string{"cpu.stat": "user_usec 1\n"})
	if _, err := cg.Usage("/leci/g3"); err == nil {
		t.Error("cpu.stat without usage_usec: no error")
	}
}
