//go:build integration

package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leci/api"
	"leci/host"
)

// ipAllocations lists host-local's address files under the harness's root:
// one per address a group holds.
func ipAllocations(t testing.TB, cfg host.Config) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(cfg.Root, "cni", "ipam"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), "last_reserved_ip") && d.Name() != "lock" {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// sleeper is a group whose one container waits, using no CPU, until
// SIGTERM; marker finds its process.
func sleeper(name string) (req, marker string) {
	marker = "# " + name
	return fmt.Sprintf("ContainerGroupName: %s\nTerminationGracePeriodSeconds: 1\nContainer:\n"+
		"  - {Name: app, Image: %s, Command: [sh, -c, \"trap 'exit 0' TERM; sleep 86400 & wait %s\"]}\n", name, image, marker), marker
}

// containerd killed (SIGKILL) and started again six times under fifty
// running groups: no container ends or restarts (the same processes run
// throughout), and every group keeps exactly its one address.
func TestContainerdRestartedSixTimesUnderFiftyGroups(t *testing.T) {
	if !runsOn(t, host.RuntimeContainerd) {
		return
	}
	hr := newHarness(t)
	ctd := startOwnContainerd(hr)
	d := hr.startDaemon()
	const n = 50
	tag := rand.IntN(1 << 24)
	ids := make([]string, n)
	markers := make([]string, n)
	for i := range n {
		req, marker := sleeper(fmt.Sprintf("six-%x-%d", tag, i))
		out, err := d.client(req, "create", "-f", "-")
		if err != nil {
			t.Fatal(err)
		}
		ids[i], markers[i] = strings.TrimSpace(out), marker
	}
	pids := make([]int, n)
	started := make([]string, n)
	for i, id := range ids {
		g := d.waitStatus(id, api.GroupRunning)
		started[i] = g.Containers[0].CurrentState.StartTime
		pids[i] = startedPID(t, markers[i])
	}
	if got := len(ipAllocations(t, hr.cfg)); got != n {
		t.Fatalf("%d addresses held by %d groups", got, n)
	}
	for round := 1; round <= 6; round++ {
		ctd.kill()
		ctd.start()
		// Back: an exec works again.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if _, err := d.client("", "exec", ids[round], "--", "true"); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("round %d: exec after containerd's return: %v", round, err)
			}
		}
	}
	for i, id := range ids {
		g := d.describe(id)
		c := g.Containers[0]
		if g.Status != api.GroupRunning || c.RestartCount != 0 || c.CurrentState.StartTime != started[i] {
			t.Errorf("%s after six restarts of containerd: %s, %d restarts, started %s; want Running, none, started %s", id, g.Status, c.RestartCount, c.CurrentState.StartTime, started[i])
		}
		if pid := mainPID(markers[i]); pid != pids[i] {
			t.Errorf("%s: process %d after six restarts of containerd, want %d", id, pid, pids[i])
		}
	}
	if got := len(ipAllocations(t, hr.cfg)); got != n {
		t.Errorf("%d addresses held by %d groups after six restarts of containerd", got, n)
	}
	d.deleteAll()
	if got := ipAllocations(t, hr.cfg); len(got) != 0 {
		t.Errorf("addresses left after every group was deleted: %v", got)
	}
	d.stop()
}
