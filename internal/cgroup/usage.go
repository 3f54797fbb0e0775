package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"leci/pod"
)

// unlimitedV1 is where a v1 memory limit counts as none. The kernel shows
// "no limit" as the largest page-aligned int64 (9223372036854771712 with
// 4 KiB pages, less with larger pages), never as -1.
const unlimitedV1 = 1 << 62

// Usage reads the CPU time and memory of cgroup p, stamped with the time
// of reading: on v1 from the cpuacct and memory hierarchies, on v2 from
// cpu.stat and memory.*. A group cgroup's usage includes its children's,
// as the kernel counts it.
// A cgroup that does not exist is an error wrapping fs.ErrNotExist.
func (c *FS) Usage(p string) (pod.Usage, error) {
	u := pod.Usage{Time: time.Now()}
	if err := c.cpuUsage(p, &u); err != nil {
		return pod.Usage{}, fmt.Errorf("cpu usage of cgroup %s: %w", p, err)
	}
	if err := c.memoryUsage(p, &u); err != nil {
		return pod.Usage{}, fmt.Errorf("memory usage of cgroup %s: %w", p, err)
	}
	return u, nil
}

func (c *FS) cpuUsage(p string, u *pod.Usage) error {
	if m, ok := c.v1("cpuacct"); ok {
		n, err := readUint(filepath.Join(m.dir(p), "cpuacct.usage"))
		if err != nil {
			return err
		}
		u.CPUNanos = n
		return nil
	}
	m, ok := c.unified()
	if !ok {
		return errors.New("no hierarchy holds the cpuacct controller")
	}
	// cpu.stat's usage is there without the cpu controller: the core
	// accounts it for every cgroup.
	b, err := os.ReadFile(filepath.Join(m.dir(p), "cpu.stat"))
	if err != nil {
		return err
	}
	usec, err := parseFlatKey(string(b), "usage_usec")
	if err != nil {
		return err
	}
	u.CPUNanos = usec * uint64(time.Microsecond)
	return nil
}

func (c *FS) memoryUsage(p string, u *pod.Usage) error {
	// The names of the same figures in each version: v1's total_* count
	// the whole subtree, as v2's memory.stat does by default.
	current, limit, inactive, rss, cache := "memory.current", "memory.max", "inactive_file", "anon", "file"
	m, ok := c.v1("memory")
	if ok {
		current, limit, inactive, rss, cache = "memory.usage_in_bytes", "memory.limit_in_bytes", "total_inactive_file", "total_rss", "total_cache"
	} else if m, ok = c.unified(); !ok {
		return errors.New("no hierarchy holds the memory controller")
	}
	dir := m.dir(p)
	usage, err := readUint(filepath.Join(dir, current))
	if err != nil {
		return err
	}
	lim, err := readLimit(filepath.Join(dir, limit))
	if err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(dir, "memory.stat"))
	if err != nil {
		return err
	}
	stat := parseFlatKeys(string(b))
	u.MemoryUsage = usage
	u.MemoryLimit = lim
	u.MemoryRSS = stat[rss]
	u.MemoryCache = stat[cache]
	// The working set as the kubelet and cAdvisor count it: what the
	// kernel could not reclaim easily. Inactive file pages can exceed the
	// usage for a moment, since the figures are not read atomically.
	u.MemoryWorkingSet = usage - min(stat[inactive], usage)
	return nil
}

// readUint reads a cgroup file holding one unsigned number.
func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	return n, nil
}

// readLimit reads a memory limit: v2's "max" and v1's huge value are no
// limit, 0.
func readLimit(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", file, err)
	}
	if n >= unlimitedV1 {
		return 0, nil
	}
	return n, nil
}

// parseFlatKeys reads a cgroup file of "key value" lines; lines whose
// value is not a number are left out.
func parseFlatKeys(s string) map[string]uint64 {
	out := map[string]uint64{}
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}
