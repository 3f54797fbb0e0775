// Package cgroup creates, reads and removes the cgroups leci gives its groups,
// on cgroup v1, v2 and the hybrid layout. Both runtime backends share it: the
// containerd backend places its containers under a group cgroup it creates,
// and the Docker backend passes the same path as the containers' cgroup parent.
package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"leci/internal/mountinfo"
	"leci/pod"
)

// CFSPeriod is the CFS period leci gives every cgroup, in microseconds; CPU
// limits become a quota of this period.
const CFSPeriod = 100000

// Mount is one cgroup hierarchy as mounted on this host.
type Mount struct {
	// Mountpoint is where the hierarchy is mounted.
	Mountpoint string
	// Root is the hierarchy path shown at Mountpoint ("/" unless this
	// process runs in a cgroup namespace or a bind mount of a subtree).
	Root string
	// Controllers are the v1 controllers of the hierarchy ("cpu", "memory",
	// "name=systemd"); empty for cgroup v2.
	Controllers []string
	// V2 is true for the unified (cgroup2) hierarchy.
	V2 bool
}

// dir is where the cgroup at hierarchy path p lives on this mount.
func (m Mount) dir(p string) string {
	rel := strings.TrimPrefix(path.Clean("/"+p), path.Clean(m.Root))
	return filepath.Join(m.Mountpoint, rel)
}

// FS is the host's cgroup layout: v1, v2 or the hybrid of both, where
// the v1 hierarchies hold the controllers and the v2 one holds none.
// Controllers are looked up by name, so one code path serves every layout.
type FS struct {
	mounts []Mount
}

// Discover reads this process's mount table.
func Discover() (*FS, error) {
	table, err := mountinfo.Read()
	if err != nil {
		return nil, fmt.Errorf("read cgroup mounts: %w", err)
	}
	mounts := parseMounts(table)
	if len(mounts) == 0 {
		return nil, errors.New("no cgroup filesystem is mounted")
	}
	return &FS{mounts: mounts}, nil
}

// parseMounts picks the cgroup and cgroup2 mounts out of a mount table.
// A hierarchy mounted twice counts once.
func parseMounts(table []mountinfo.Mount) []Mount {
	var out []Mount
	seen := map[string]bool{}
	for _, mi := range table {
		m := Mount{Root: mi.Root, Mountpoint: mi.Point}
		switch mi.FSType {
		case "cgroup2":
			m.V2 = true
		case "cgroup":
			for _, o := range strings.Split(mi.SuperOptions, ",") {
				if o == "rw" || o == "ro" || o == "" || strings.HasPrefix(o, "release_agent=") || o == "clone_children" || o == "noprefix" || o == "xattr" {
					continue
				}
				m.Controllers = append(m.Controllers, o)
			}
		default:
			continue
		}
		key := mi.FSType + ":" + strings.Join(m.Controllers, ",")
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, m)
	}
	return out
}

// v1 returns the v1 hierarchy holding controller.
func (c *FS) v1(controller string) (Mount, bool) {
	for _, m := range c.mounts {
		if slices.Contains(m.Controllers, controller) {
			return m, true
		}
	}
	return Mount{}, false
}

// unified returns the cgroup2 hierarchy, if one is mounted.
func (c *FS) unified() (Mount, bool) {
	for _, m := range c.mounts {
		if m.V2 {
			return m, true
		}
	}
	return Mount{}, false
}

// CreateGroup makes the group cgroup p carrying res, in the hierarchies that
// hold the cpu, memory and pids controllers. runc creates the containers'
// cgroups below it, in every hierarchy. Applied again to an existing group
// it resets the limits to res. A host without the pids controller is
// refused only when res asks for a pids limit.
func (c *FS) CreateGroup(p string, res pod.Resources) error {
	quota, shares := CPUQuotaShares(res.CPU)
	for _, ctl := range []string{"cpu", "memory", "pids"} {
		if ctl == "pids" && res.Pids <= 0 && !c.holds("pids") {
			continue
		}
		if m, ok := c.v1(ctl); ok {
			if err := c.createV1(m, ctl, p, res, quota, shares); err != nil {
				return err
			}
			continue
		}
		m, ok := c.unified()
		if !ok {
			return fmt.Errorf("cgroup %s: no hierarchy holds the %s controller", p, ctl)
		}
		if err := c.createV2(m, ctl, p, res, quota, shares); err != nil {
			return err
		}
	}
	return nil
}

// CreateGroupRollback is CreateGroup for the first step of a sandbox's
// start, which both backends take alike. The caller defers rollback with its
// named error at once, whether or not err is nil: when the start fails, this
// step included (CreateGroup can fail half way), the group cgroup and all
// below it are removed, and a failure to remove them is logged to log.
func (c *FS) CreateGroupRollback(p string, res pod.Resources, log *slog.Logger) (rollback func(failed *error), err error) {
	rollback = func(failed *error) {
		if *failed != nil {
			if err := c.RemoveTree(p); err != nil {
				log.Warn("roll back group cgroup", "err", err)
			}
		}
	}
	return rollback, c.CreateGroup(p, res)
}

func (c *FS) createV1(m Mount, ctl, p string, res pod.Resources, quota int64, shares uint64) error {
	dir := m.dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	var files [][2]string
	switch ctl {
	case "cpu":
		q, s := "-1", "1024"
		if quota > 0 {
			q, s = strconv.FormatInt(quota, 10), strconv.FormatUint(shares, 10)
		}
		// The period first: the quota is checked against it.
		files = [][2]string{{"cpu.cfs_period_us", strconv.Itoa(CFSPeriod)}, {"cpu.cfs_quota_us", q}, {"cpu.shares", s}}
	case "memory":
		l := "-1"
		if res.MemoryBytes > 0 {
			l = strconv.FormatInt(res.MemoryBytes, 10)
		}
		files = [][2]string{{"memory.limit_in_bytes", l}}
	case "pids":
		files = [][2]string{{"pids.max", pidsMax(res.Pids)}}
	}
	return writeCgroupFiles(dir, files)
}

func pidsMax(n int64) string {
	if n <= 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

// holds reports whether a hierarchy holds the controller: a v1 mount of
// it, or the cgroup2 hierarchy offering it.
func (c *FS) holds(ctl string) bool {
	if _, ok := c.v1(ctl); ok {
		return true
	}
	m, ok := c.unified()
	if !ok {
		return false
	}
	b, err := os.ReadFile(filepath.Join(m.Mountpoint, "cgroup.controllers"))
	return err == nil && slices.Contains(strings.Fields(string(b)), ctl)
}

func (c *FS) createV2(m Mount, ctl, p string, res pod.Resources, quota int64, shares uint64) error {
	dir := m.dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create cgroup %s: %w", dir, err)
	}
	// A controller's files appear in a cgroup only once its parent hands
	// the controller down, which every ancestor up to the mount must do.
	// Enabling goes top down: a cgroup can hand down only what it has.
	var ancestors []string
	for anc := filepath.Dir(dir); strings.HasPrefix(anc, m.Mountpoint); anc = filepath.Dir(anc) {
		ancestors = append(ancestors, anc)
		if anc == m.Mountpoint {
			break
		}
	}
	for _, anc := range slices.Backward(ancestors) {
		if err := os.WriteFile(filepath.Join(anc, "cgroup.subtree_control"), []byte("+"+ctl), 0); err != nil {
			return fmt.Errorf("enable %s controller in %s: %w", ctl, anc, err)
		}
	}
	var files [][2]string
	switch ctl {
	case "cpu":
		q, w := "max", "100"
		if quota > 0 {
			q, w = strconv.FormatInt(quota, 10), strconv.FormatUint(sharesToWeight(shares), 10)
		}
		files = [][2]string{{"cpu.max", q + " " + strconv.Itoa(CFSPeriod)}, {"cpu.weight", w}}
	case "memory":
		l := "max"
		if res.MemoryBytes > 0 {
			l = strconv.FormatInt(res.MemoryBytes, 10)
		}
		files = [][2]string{{"memory.max", l}}
	case "pids":
		files = [][2]string{{"pids.max", pidsMax(res.Pids)}}
	}
	return writeCgroupFiles(dir, files)
}

func writeCgroupFiles(dir string, files [][2]string) error {
	for _, f := range files {
		p := filepath.Join(dir, f[0])
		if err := os.WriteFile(p, []byte(f[1]), 0); err != nil {
			return fmt.Errorf("write %s = %s: %w", p, f[1], err)
		}
	}
	return nil
}

// CPUQuotaShares turns cores into a CFS quota of CFSPeriod and CPU shares
// (1024 a core), as the kubelet does; 0 cores is no limit (0, 0).
func CPUQuotaShares(cores float64) (quota int64, shares uint64) {
	if cores <= 0 {
		return 0, 0
	}
	quota = int64(cores*CFSPeriod + 0.5)
	// The kernel refuses a quota under 1 ms.
	quota = max(quota, 1000)
	shares = max(uint64(cores*1024+0.5), 2)
	return quota, shares
}

// sharesToWeight maps v1 shares [2, 262144] onto v2 weight [1, 10000], the
// conversion runc applies to containers, so a group and its containers
// weigh alike.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 100
	}
	return 1 + ((shares-2)*9999)/262142
}

// RemoveTree removes the cgroup p and every cgroup below it from every
// hierarchy, deepest first. Cgroups still holding processes cannot go: that
// is reported, and nothing is killed. A missing cgroup is no error.
func (c *FS) RemoveTree(p string) error {
	var errs []error
	for _, m := range c.mounts {
		root := m.dir(p)
		var dirs []string
		err := filepath.WalkDir(root, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if d.IsDir() {
				dirs = append(dirs, q)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("walk cgroup %s: %w", root, err))
			continue
		}
		// Walk order lists a parent before its children.
		for _, d := range slices.Backward(dirs) {
			if err := rmdirCgroup(d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// rmdirCgroup removes one empty cgroup. The kernel may answer EBUSY for a
// moment after its last process is reaped, so that is retried briefly.
func rmdirCgroup(dir string) error {
	delay := 5 * time.Millisecond
	deadline := time.Now().Add(2 * time.Second)
	for {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) || time.Now().After(deadline) {
			return &os.PathError{Op: "remove cgroup", Path: dir, Err: err}
		}
		time.Sleep(delay)
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// OOMKills reads how many processes of cgroup p the kernel's OOM killer
// killed: memory.oom_control's oom_kill on v1, memory.events' on v2. The
// count covers kills in p whether p's own limit or an ancestor's (the
// group's) was hit, since the kernel counts a kill in the victim's cgroup.
func (c *FS) OOMKills(p string) (uint64, error) {
	file := "memory.events"
	m, ok := c.v1("memory")
	if ok {
		file = "memory.oom_control"
	} else if m, ok = c.unified(); !ok {
		return 0, errors.New("no memory cgroup hierarchy")
	}
	b, err := os.ReadFile(filepath.Join(m.dir(p), file))
	if err != nil {
		return 0, err
	}
	return parseFlatKey(string(b), "oom_kill")
}

// parseFlatKey reads key's value from a cgroup file of "key value" lines.
func parseFlatKey(s, key string) (uint64, error) {
	for line := range strings.Lines(s) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && k == key {
			return strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in cgroup file", key)
}

// V1CPUQuota returns the CFS quota of cgroup p on a v1 cpu hierarchy, in
// microseconds of CFSPeriod; ok is false when p has no quota or the cpu
// controller is not on v1. On v1 the kernel refuses a child a quota larger
// than its parent's (v2 just takes the smaller), so containers are capped
// with it.
func (c *FS) V1CPUQuota(p string) (quota int64, ok bool) {
	m, found := c.v1("cpu")
	if !found {
		return 0, false
	}
	read := func(name string) (int64, error) {
		b, err := os.ReadFile(filepath.Join(m.dir(p), name))
		if err != nil {
			return 0, err
		}
		return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	}
	q, err := read("cpu.cfs_quota_us")
	if err != nil || q <= 0 {
		return 0, false
	}
	period, err := read("cpu.cfs_period_us")
	if err != nil || period <= 0 {
		return 0, false
	}
	return q * CFSPeriod / period, true
}
