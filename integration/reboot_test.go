//go:build integration

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/host"
	"leci/internal/testutil"
)

// groupCgroupDirs lists the cgroups below cgroupRoot in every hierarchy
// (cgroup v1 has one per controller, v2 one), parents before children.
func groupCgroupDirs(cgroupRoot string) []string {
	tops := []string{filepath.Join("/sys/fs/cgroup", cgroupRoot)}
	hierarchies, _ := os.ReadDir("/sys/fs/cgroup")
	for _, h := range hierarchies {
		if h.IsDir() {
			tops = append(tops, filepath.Join("/sys/fs/cgroup", h.Name(), cgroupRoot))
		}
	}
	var dirs []string
	for _, top := range tops {
		filepath.WalkDir(top, func(p string, de os.DirEntry, err error) error {
			if err == nil && de.IsDir() && p != top {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	return dirs
}

// reboot does to the test's containerd, its shims, the containers and the
// daemon what a reboot of the host does: every one of their processes dies
// at once, and what lives under /run goes: containerd's state (its tasks,
// runc's state, the containers' root filesystem mounts), the pinned network
// namespaces (and with them the veths) and the cgroups. What is on disk
// stays: containerd's root, leci's store, the groups' directories and the
// address allocations.
func (hr *harness) reboot(d *daemon, ctd *ownContainerd) {
	hr.t.Helper()
	d.kill()
	ctd.kill()
	self := os.Getpid()
	// The shims of the test's containerd, the log writers and sandbox
	// processes leci started under the root, and the containers' processes.
	victims := map[int]bool{}
	procs, _ := testutil.Processes()
	for _, p := range procs {
		if p.PID != self && strings.Contains(p.Cmdline, hr.cfg.Root) {
			victims[p.PID] = true
		}
	}
	// The group cgroups, in every hierarchy.
	var dirs []string
	for _, dir := range groupCgroupDirs(hr.cgroupRoot) {
		dirs = append(dirs, dir)
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil {
				victims[pid] = true
			}
		}
	}
	for pid := range victims {
		unix.Kill(pid, unix.SIGKILL)
	}
	for pid := range victims {
		for deadline := time.Now().Add(10 * time.Second); unix.Kill(pid, 0) == nil && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	// /run is a fresh tmpfs after a reboot.
	state := filepath.Join(hr.cfg.Root, "containerd", "state")
	netns := filepath.Join(hr.cfg.Root, "netns")
	for _, dir := range []string{state, netns} {
		mounts := mountsUnder(dir)
		slices.Reverse(mounts) // the deepest first
		for _, m := range mounts {
			if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
				hr.t.Logf("unmount %s: %v", m, err)
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			hr.t.Fatalf("wipe %s: %v", dir, err)
		}
	}
	os.RemoveAll(filepath.Join("/run/containerd/runc", hr.cfg.Namespace))
	slices.Reverse(dirs) // children before parents
	for _, dir := range dirs {
		unix.Rmdir(dir)
	}
}

// A reboot: containerd, its shims, the containers and the daemon killed and
// /run wiped. Once containerd and the daemon are started again, a group
// under Always comes back, in a new sandbox and network namespace, with one
// address (the old reservation collected); a group that had ended keeps its
// final status; and deleting everything leaves nothing.
func TestRebootBringsBackAlwaysGroups(t *testing.T) {
	if !runsOn(t, host.RuntimeContainerd) {
		return
	}
	hr := newHarness(t)
	ctd := startOwnContainerd(hr)
	d := hr.startDaemon()
	alwaysReq, _ := sleeper(fmt.Sprintf("reboot-always-%d", os.Getpid()))
	out, err := d.client(alwaysReq, "create", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	always := strings.TrimSpace(out)
	job := fmt.Sprintf("ContainerGroupName: reboot-job\nRestartPolicy: Never\nContainer:\n  - {Name: app, Image: %s, Command: [sh, -c, 'exit 3']}\n", image)
	if out, err = d.client(job, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	ended := strings.TrimSpace(out)
	before := d.waitStatus(always, api.GroupRunning)
	final := d.waitStatus(ended, api.GroupFailed)
	if _, err := os.Stat(filepath.Join(hr.cfg.Root, "netns", always)); err != nil {
		t.Fatalf("the group's pinned namespace: %v", err)
	}

	hr.reboot(d, ctd)
	ctd.start()
	d = hr.startDaemon()

	// Its recorded status says Running until the daemon finds the
	// container gone and starts it again.
	var after api.ContainerGroupDetail
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		after = d.describe(always)
		c := after.Containers[0]
		if after.Status == api.GroupRunning && c.CurrentState.State == api.StateRunning && c.RestartCount > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Always group a minute after the reboot: %s, container %+v with %d restarts; want it running again", after.Status, c.CurrentState, c.RestartCount)
		}
	}
	if after.IntranetIP == "" {
		t.Errorf("the Always group has no address after the reboot")
	}
	if c := after.Containers[0]; c.CurrentState.StartTime == before.Containers[0].CurrentState.StartTime {
		t.Errorf("the Always group's container runs since %s, before the reboot", c.CurrentState.StartTime)
	}
	if _, err := os.Stat(filepath.Join(hr.cfg.Root, "netns", always)); err != nil {
		t.Errorf("the Always group has no pinned namespace after the reboot: %v", err)
	}
	if out, err := d.client("", "exec", always, "--", "true"); err != nil {
		t.Errorf("exec in the Always group after the reboot: %v %s", err, out)
	}
	if got := ipAllocations(t, hr.cfg); len(got) != 1 {
		t.Errorf("addresses held after the reboot: %v, want the Always group's one", got)
	}
	g := d.describe(ended)
	if g.Status != api.GroupFailed || g.Containers[0].CurrentState.ExitCode != 3 || g.Containers[0].CurrentState.FinishTime != final.Containers[0].CurrentState.FinishTime {
		t.Errorf("the ended group after the reboot: %s, container %+v; want Failed with exit 3, finished at %s as before",
			g.Status, g.Containers[0].CurrentState, final.Containers[0].CurrentState.FinishTime)
	}
	d.deleteAll()
	d.stop()
}
