//go:build integration

package integration

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"leci/api"
	"leci/host"
)

// The seeds of TestDaemonKilledAtRandomDuringCreates: LECI_CHAOS_SEED runs
// one again; otherwise LECI_CHAOS_SEEDS new ones (defaultChaosSeeds unless
// set; `make soak` runs many).
const (
	chaosSeedEnv      = "LECI_CHAOS_SEED"
	chaosSeedsEnv     = "LECI_CHAOS_SEEDS"
	defaultChaosSeeds = 3
)

func chaosSeeds(t *testing.T) []uint64 {
	t.Helper()
	if s := os.Getenv(chaosSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", chaosSeedEnv, s, err)
		}
		return []uint64{seed}
	}
	n := defaultChaosSeeds
	if s := os.Getenv(chaosSeedsEnv); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			t.Fatalf("%s=%q: want a count of at least 1", chaosSeedsEnv, s)
		}
	}
	seeds := make([]uint64, n)
	for i := range seeds {
		seeds[i] = rand.Uint64()
	}
	return seeds
}

// A daemon killed (SIGKILL) at a random moment while twenty groups are
// being created, each with an init container writing into an EmptyDir
// volume and an app container reading it and a ConfigFile volume, so that
// the kill cuts short some step of some create (the network, the volumes,
// the sandbox, a snapshot, a container, a task): once started again, the
// daemon brings every acknowledged group to Running, its init container
// Completed once and its app container never restarted, and deleting them
// all leaves nothing behind, not a containerd shim either. The moment, between 0.1 and 6 s after the
// first create was acknowledged (more creates on their way at first, the
// groups being set up, their containers created and started later on, on
// a busy host as on an idle one), comes from a seed the test logs.
func TestDaemonKilledAtRandomDuringCreates(t *testing.T) {
	for _, seed := range chaosSeeds(t) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			killAfter := 100*time.Millisecond + time.Duration(rand.New(rand.NewPCG(seed, seed)).Int64N(int64(5900*time.Millisecond)))
			t.Logf("seed %d: the daemon is killed %s after the first create is acknowledged (%s=%d runs it again)", seed, killAfter, chaosSeedEnv, seed)
			hr := newHarness(t, func(c *host.Config) { c.PublishPorts = true })
			chainsBefore := cniChains()
			d := hr.startDaemon()
			groups := newSurvivors("kr", 20)
			hostDir := t.TempDir()
			firstPort := 20000 + rand.IntN(40000)
			for i := range groups {
				groups[i].prepared, groups[i].full = true, true
				groups[i].hostDir, groups[i].port = hostDir, firstPort+i
			}
			acked := d.createAll(groups, killAt{after: killAfter})
			t.Logf("acknowledged before the kill: %d of %d", len(acked), len(groups))

			d = hr.startDaemon()
			for _, g := range groups {
				id, ok := acked[g.name]
				if !ok {
					continue
				}
				st, err := d.pollStatus(id, api.GroupRunning, 90*time.Second)
				if err != nil {
					t.Errorf("%s: %v", g.name, err)
					continue
				}
				if c := st.InitContainers[0]; c.CurrentState.State != api.StateTerminated || c.CurrentState.ExitCode != 0 || c.RestartCount != 0 {
					t.Errorf("%s: init container %+v with %d restarts, want Terminated with code 0 and none", g.name, c.CurrentState, c.RestartCount)
				}
				if c := st.Containers[0]; c.RestartCount != 0 {
					t.Errorf("%s: app container restarted %d times, want never", g.name, c.RestartCount)
				}
			}
			d.checkLostAnswers(acked)
			d.deleteAll()
			for _, g := range groups {
				if pid := mainPID(g.marker); pid != 0 {
					t.Errorf("%s: process %d left after every group was deleted", g.name, pid)
				}
			}
			d.stop()
			// A shim containerd forgot when the kill cut a task's create
			// short outlives every group, with the task's log writer.
			hr.assertNoShims()
			if after := cniChains(); after != chainsBefore {
				t.Errorf("iptables CNI chains: %d after every group was deleted, %d before", after, chainsBefore)
			}
			// The harness checks, as the test ends, that no container,
			// snapshot, mount, network namespace, address, cgroup or
			// directory is left.
		})
	}
}
