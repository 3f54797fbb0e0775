//go:build integration

// Runtime benchmarks: real groups on the package's runtime (containerd, or
// Docker with LECI_TEST_RUNTIME=docker), each case next to its reference
// on the same runtime, run for run: `ctr run` of the same image on the
// package's containerd, or `docker run` on the package's dockerd.
// hack/bench.sh (make bench) runs them with -benchtime=10x and prints the
// medians side by side with the targets:
//
//	(a)  BenchmarkGroupRunToExit: a one-container group created, run to its
//	     exit and deleted, against `ctr run --rm --cni` (`docker run --rm`);
//	(a') BenchmarkRunProcess: the whole `leci run -f FILE` process of such
//	     a group, against the whole `ctr run --rm` (`docker run --rm`);
//	(b)  BenchmarkGroupInitPlusTwoToRunning: 1 init + 2 app containers to
//	     Running;
//	(c)  BenchmarkTwentyGroupsToRunning: 20 groups at once to Running,
//	     against 20 concurrent `ctr run -d --cni`;
//	(d)  BenchmarkDeleteRunningGroup: a delete, until nothing of the group
//	     is left;
//	(e)  BenchmarkTwentyIdleGroupsMemory: the memory 20 idle groups add.
//
// The ctr --cni references need the CNI configuration hack/bench.sh puts in
// /etc/cni/net.d (ctr has no flag for another directory); without it, or
// without a docker CLI, leci is measured alone and the log says why.
//
// Timed cases report the median, minimum and maximum of their iterations
// in milliseconds, per side: ms/median (leci alone) or ms/leci-median and
// ms/ctr-median (ms/docker-median), and so on. The built-in ns/op is
// suppressed, as setup and cleanup between iterations are not timed. Each
// benchmark runs its function once (b.Loop), so its setup is paid once.
//
// (a) and (b) trace their engine's steps (internal/trace), and (a') its
// leci run processes (LECI_TRACE); each reports, per step, the median start
// and duration over its timed runs: to the file LECI_BENCH_STEPS names
// (appended), else to the log, of which go test keeps a benchmark's first
// ten lines (and printed as they come, the tables would split the result
// lines). LECI_BENCH_TRACE=FILE appends the engine's debug log, with
// millisecond time stamps, to FILE.
package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"

	"leci/api"
	"leci/host"
	"leci/internal/testutil"
	"leci/internal/trace"
	"leci/logs"
	"leci/runtime"
	"leci/runtime/containerd"
)

const (
	// benchLongRunner runs until SIGTERM, then exits at once.
	benchLongRunner = `[sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]`
	// benchGroups is the group count of the concurrent and memory cases.
	benchGroups = 20
	// ctrConflistEnv names the CNI conflist hack/bench.sh wrote for ctr.
	ctrConflistEnv = "LECI_BENCH_CTR_CONFLIST"
	// stepsEnv names the file the per-step table of (a) is appended to.
	stepsEnv = "LECI_BENCH_STEPS"
	// ctrCacheDir is where ctr's CNI library (go-cni's default) caches ADD
	// results, which DEL reads back.
	ctrCacheDir = "/var/lib/cni"
)

var (
	benchRunToExit = `
ContainerGroupName: bench-exit
RestartPolicy: Never
Container:
  - {Name: app, Image: ` + image + `, Command: ["true"]}
`
	// (b) and (c) delete their groups untimed, with no grace period: a
	// SIGTERM landing before the shell has set its trap would be ignored
	// (the shell is PID 1 of its namespace) and cost the default 30 s.
	benchInitPlusTwo = `
ContainerGroupName: bench-init-two
TerminationGracePeriodSeconds: 0
InitContainer:
  - {Name: init, Image: ` + image + `, Command: ["true"]}
Container:
  - {Name: app1, Image: ` + image + `, Command: ` + benchLongRunner + `}
  - {Name: app2, Image: ` + image + `, Command: ` + benchLongRunner + `}
`
	benchOneRunner = `
ContainerGroupName: bench-runner
TerminationGracePeriodSeconds: 0
Container:
  - {Name: app, Image: ` + image + `, Command: ` + benchLongRunner + `}
`
	// (d) deletes with the default grace period once the trap is set, which
	// the container says on its output.
	benchReadyRunner = `
ContainerGroupName: bench-delete
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; echo ready; sleep 3600 & wait"]}
`
	ctrLongRunner = []string{"sh", "-c", "trap 'exit 0' TERM; sleep 3600 & wait"}
)

// (a) A one-container group created, run to its exit and deleted, through
// the engine, against `ctr run --rm --cni` (`docker run --rm`), in turns.
func BenchmarkGroupRunToExit(b *testing.B) {
	tracePath := filepath.Join(b.TempDir(), "trace.jsonl")
	bh := newBenchHost(b, tracePath)
	ref := newRunToExitReference(b, true)
	var leci, other durations
	var ids []string // the timed groups, whose steps make the table
	i := 0
	for b.Loop() {
		inTurn(i, func() {
			req := bh.request(benchRunToExit)
			start := time.Now()
			id := bh.create(req)
			if err := bh.waitPhase(id, api.GroupSucceeded, time.Minute); err != nil {
				b.Fatal(err)
			}
			bh.delete(id)
			leci = append(leci, time.Since(start))
			ids = append(ids, id)
		}, func() {
			other = append(other, ref.timeRun(b, fmt.Sprintf("exit-%d", i)))
		})
		i++
	}
	leci.report(b, "leci")
	other.report(b, ref.name)
	writeSteps(b, fmt.Sprintf("(a) 1 container: create, exit, delete, on %s: the engine's steps, from the group's first step", testRuntime),
		stepTable(groupsTraced(readTrace(b, tracePath), ids)))
}

// readTrace reads the steps of a trace file; none when the engine made no
// file (it records no steps).
func readTrace(tb testing.TB, path string) []trace.Step {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	steps, err := trace.Read(f)
	if err != nil {
		tb.Fatal(err)
	}
	return steps
}

// (a') The whole `leci run -f FILE` process of a one-container group, as a
// user times it (fork to exit), against the whole `ctr run --rm` process
// of the same image on the same containerd (`docker run --rm` on the
// dockerd), in turns.
func BenchmarkRunProcess(b *testing.B) {
	bh := newBenchHost(b)
	file := filepath.Join(b.TempDir(), "exit.yaml")
	if err := os.WriteFile(file, []byte(benchRunToExit), 0o600); err != nil {
		b.Fatal(err)
	}
	traceDir := b.TempDir()
	var runs []traced // each timed process's steps, from its fork to its exit
	n := 0
	leciRun := func() time.Duration {
		n++
		tracePath := filepath.Join(traceDir, fmt.Sprintf("run-%d.jsonl", n))
		cmd := exec.Command(leciBinary, append(globalFlags(bh.cfg), "run", "-f", file)...)
		cmd.Env = append(os.Environ(), trace.EnvVar+"="+tracePath)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		end := time.Now()
		if err != nil {
			b.Fatalf("leci run: %v\n%s", err, out)
		}
		runs = append(runs, traced{origin: start, end: end, steps: readTrace(b, tracePath)})
		return end.Sub(start)
	}
	leciRun() // untimed, as the references' first run: the binary's pages come in
	runs = runs[:0]
	ref := newRunToExitReference(b, false)
	// Beside the target's reference, on containerd, the like-for-like one:
	// ctr run --rm with containerd's default seccomp profile, the syscall
	// filter leci gives every container but a privileged one (runc builds
	// it at each create, for three ABIs). Shown, not a target.
	filtered := &reference{}
	if ref.run != nil && testRuntime == host.RuntimeContainerd {
		cs := newCtrSide(b, false)
		filtered = &reference{name: "ctrseccomp", run: func(id string) error { return cs.run([]string{"--rm", "--seccomp"}, id, "true") }}
		if err := filtered.run("warm-up"); err != nil {
			b.Fatal(err)
		}
	}
	var leci, other, otherFiltered durations
	i := 0
	for b.Loop() {
		inTurn(i, func() {
			leci = append(leci, leciRun())
		}, func() {
			other = append(other, ref.timeRun(b, fmt.Sprintf("proc-%d", i)))
			if filtered.run != nil {
				otherFiltered = append(otherFiltered, filtered.timeRun(b, fmt.Sprintf("procf-%d", i)))
			}
		})
		i++
	}
	leci.report(b, "leci")
	other.report(b, ref.name)
	if filtered.run != nil {
		otherFiltered.report(b, filtered.name)
	}
	writeSteps(b, fmt.Sprintf("(a') leci run -f, the whole process, on %s: its steps, from the fork", testRuntime), stepTable(runs))
}

// (b) One init container and two app containers, from Create to Running.
func BenchmarkGroupInitPlusTwoToRunning(b *testing.B) {
	tracePath := filepath.Join(b.TempDir(), "trace.jsonl")
	bh := newBenchHost(b, tracePath)
	// The reference on containerd: the same three containers by ctr, the
	// init container run to its end with the one network setup, then the
	// two apps started at once.
	var cs *ctrSide
	if testRuntime == host.RuntimeContainerd {
		if why := ctrCNIMissing(); why != "" {
			b.Logf("leci alone, no ctr reference: %s", why)
		} else {
			cs = newCtrSide(b, true)
		}
	}
	var took, ctr durations
	var runs []traced
	i := 0
	for b.Loop() {
		inTurn(i, func() {
			req := bh.request(benchInitPlusTwo)
			start := time.Now()
			id := bh.create(req)
			if err := bh.waitPhase(id, api.GroupRunning, time.Minute); err != nil {
				b.Fatal(err)
			}
			end := time.Now()
			took = append(took, end.Sub(start))
			bh.delete(id)
			// From the create call to Running: what ended later (the apps'
			// runs, the delete) left out.
			for _, u := range groupsTraced(readTrace(b, tracePath), []string{id}) {
				steps := slices.DeleteFunc(u.steps, func(s trace.Step) bool {
					return s.Start.Add(time.Duration(s.MS * float64(time.Millisecond))).After(end)
				})
				runs = append(runs, traced{origin: start, end: end, steps: steps})
			}
		}, func() {
			if cs == nil {
				return
			}
			start := time.Now()
			errs := []error{cs.run([]string{"--rm", "--cni"}, fmt.Sprintf("init-%d", i), "true")}
			var wg sync.WaitGroup
			apps := make([]error, 2)
			for j := range apps {
				wg.Go(func() { apps[j] = cs.run([]string{"-d"}, fmt.Sprintf("app-%d-%d", i, j), ctrLongRunner...) })
			}
			wg.Wait()
			ctr = append(ctr, time.Since(start))
			if err := errors.Join(append(append(errs, apps...), cs.removeAll())...); err != nil {
				b.Fatal(err)
			}
		})
		i++
	}
	took.report(b, "")
	ctr.report(b, "ctr")
	writeSteps(b, fmt.Sprintf("(b) 1 init + 2 apps to Running, on %s: the engine's steps, from the create call", testRuntime), stepTable(runs))
}

// (c) Twenty groups created at once, until every one is Running, against
// twenty concurrent `ctr run -d --cni`, in turns.
func BenchmarkTwentyGroupsToRunning(b *testing.B) {
	bh := newBenchHost(b)
	var cs *ctrSide
	if why := ctrCNIMissing(); why != "" {
		b.Logf("leci alone, no ctr reference: %s", why)
	} else {
		cs = newCtrSide(b, true)
	}
	// A group that fails to come up is counted (failed-groups) and logged,
	// not fatal, so that make bench still shows the rest; the iteration it
	// failed in is left out of the timings.
	var leci, ctr durations
	failed := 0
	i := 0
	for b.Loop() {
		inTurn(i, func() {
			took, n := bh.twentyToRunning(i)
			failed += n
			if n == 0 {
				leci = append(leci, took)
			}
		}, func() {
			if cs == nil {
				return
			}
			errs := make([]error, benchGroups)
			var wg sync.WaitGroup
			start := time.Now()
			for j := range benchGroups {
				wg.Go(func() {
					// Named after the namespace too: the FIFO directory is
					// shared by every namespace.
					errs[j] = cs.run([]string{"-d", "--cni"}, fmt.Sprintf("%s-run-%d-%d", cs.ns, i, j), ctrLongRunner...)
				})
			}
			wg.Wait()
			ctr = append(ctr, time.Since(start))
			cleanErr := cs.removeAll()
			if err := errors.Join(append(errs, cleanErr)...); err != nil {
				b.Fatal(err)
			}
		})
		i++
	}
	leci.report(b, "leci")
	ctr.report(b, "ctr")
	b.ReportMetric(float64(failed), "failed-groups")
}

// twentyToRunning creates benchGroups groups at once and waits until each
// is Running, then deletes them, untimed. It returns how long they took to
// come up, and how many did not.
func (bh *benchHost) twentyToRunning(iteration int) (time.Duration, int) {
	reqs := make([]*api.CreateContainerGroupRequest, benchGroups)
	for j := range reqs {
		reqs[j] = bh.request(benchOneRunner)
	}
	ids := make([]string, benchGroups)
	errs := make([]error, benchGroups)
	var wg sync.WaitGroup
	start := time.Now()
	for j := range reqs {
		wg.Go(func() {
			id, err := bh.h.Engine.Create(context.Background(), reqs[j])
			if err != nil {
				errs[j] = err
				return
			}
			ids[j] = id
			errs[j] = bh.waitPhase(id, api.GroupRunning, 2*time.Minute)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	bh.deleteAll(ids)
	n := 0
	for _, err := range errs {
		if err != nil {
			if n < 3 {
				bh.tb.Logf("iteration %d: %v", iteration+1, err)
			}
			n++
		}
	}
	return elapsed, n
}

// (d) Delete of a running group whose one container exits on SIGTERM, from
// the request until nothing of the group is left: no process (its shim,
// log writers, sandbox, containers), container, cgroup, network namespace,
// address or directory. ms/call-median is until the call returned.
func BenchmarkDeleteRunningGroup(b *testing.B) {
	bh := newBenchHost(b)
	var cs *ctrSide
	if ctrCNIMissing() == "" {
		cs = newCtrSide(b, true)
	}
	var gone, call, floor durations
	i := 0
	for b.Loop() {
		if cs != nil {
			floor = append(floor, cs.timeDeleteRunning(b, fmt.Sprintf("del-%d", i)))
		}
		i++
		id := bh.create(bh.request(benchReadyRunner))
		if err := bh.waitPhase(id, api.GroupRunning, time.Minute); err != nil {
			b.Fatal(err)
		}
		if err := bh.waitOutput(id, "app", "ready", time.Minute); err != nil {
			b.Fatal(err)
		}
		st, err := bh.h.Engine.Get(id)
		if err != nil {
			b.Fatal(err)
		}
		group := path.Join(bh.cgroupRoot, id)
		procs, containers := groupProcs(hostProcs(), group, []int{st.Host.Sandbox.PID})
		procs = append(procs, containers...)
		if len(containers) == 0 {
			b.Fatalf("found no process of group %s's container under cgroup %s", id, group)
		}
		start := time.Now()
		bh.delete(id)
		call = append(call, time.Since(start))
		deadline := start.Add(time.Minute)
		for {
			left := bh.leftOf(st, procs)
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("group %s: left a minute after its delete: %s", id, strings.Join(left, "; "))
			}
			time.Sleep(time.Millisecond)
		}
		gone = append(gone, time.Since(start))
	}
	gone.report(b, "")
	call.reportAs(b, "call-")
	floor.report(b, "ctr")
}

// timeDeleteRunning starts the container id with ctr run -d --cni, running
// ctrLongRunner, and times what deleting it costs containerd: from its
// SIGTERM until its task (beside its CNI DEL) and then the container with
// its snapshot are gone, through containerd's Go client, so that no ctr
// process's start is counted: the floor of (d).
func (cs *ctrSide) timeDeleteRunning(b *testing.B, id string) time.Duration {
	b.Helper()
	if err := cs.run([]string{"-d", "--cni"}, id, ctrLongRunner...); err != nil {
		b.Fatal(err)
	}
	ctx := cs.conn.WithNamespace(context.Background())
	c, err := cs.conn.Client().LoadContainer(ctx, id)
	if err != nil {
		b.Fatal(err)
	}
	task, err := c.Task(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	// The shell traps SIGTERM before it starts sleep: once sleep is its
	// child, the signal ends it.
	children := fmt.Sprintf("/proc/%d/task/%d/children", task.Pid(), task.Pid())
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Millisecond) {
		if got, _ := os.ReadFile(children); len(bytes.TrimSpace(got)) > 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("ctr container %s: its shell started no child in a minute", id)
		}
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	<-exited
	var wg sync.WaitGroup
	var taskErr, cniErr error
	wg.Go(func() { _, taskErr = task.Delete(ctx) })
	wg.Go(func() {
		// ctr names the CNI attachment <namespace>-<id>, on eth0.
		rt := &libcni.RuntimeConf{ContainerID: cs.ns + "-" + id, IfName: "eth0"}
		cniErr = cs.cni.DelNetworkList(ctx, cs.list, rt)
	})
	wg.Wait()
	if err := errors.Join(taskErr, cniErr); err != nil {
		b.Fatal(err)
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		b.Fatal(err)
	}
	took := time.Since(start)
	removeFIFOs(id)
	return took
}

// leftOf lists what is left on the host of the group st describes, whose
// processes were procs: the cheap checks first, the backend's list last.
func (bh *benchHost) leftOf(st runtime.GroupStatus, procs []proc) []string {
	var left []string
	for _, p := range procs {
		if now, ok := readProc(p.pid); ok && now.state != 'Z' && now.label == p.label {
			left = append(left, fmt.Sprintf("process %s (%d)", p.label, p.pid))
		}
	}
	hierarchies, _ := filepath.Glob("/sys/fs/cgroup/*/")
	for _, dir := range append(hierarchies, "/sys/fs/cgroup") {
		if cg := filepath.Join(dir, bh.cgroupRoot, st.ID); exists(cg) {
			left = append(left, "cgroup "+cg)
		}
	}
	if dir := filepath.Join(bh.cfg.Root, "groups", st.ID); exists(dir) {
		left = append(left, "directory "+dir)
	}
	if ns := st.Host.Network.NetNSPath; ns != "" && exists(ns) {
		left = append(left, "network namespace "+ns)
	}
	if ip := st.Host.Network.IPv4; ip != "" {
		if held, _ := filepath.Glob(filepath.Join(bh.cfg.Root, "cni", "ipam", "*", ip)); len(held) > 0 {
			left = append(left, "address "+ip)
		}
	}
	if len(left) > 0 {
		return left
	}
	groups, err := bh.h.Engine.BackendGroups(context.Background())
	if err != nil {
		return []string{fmt.Sprintf("backend list: %v", err)}
	}
	if groups[st.ID] {
		left = append(left, "containers in the backend")
	}
	return left
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// (e) The memory twenty idle one-container groups (a sleeping shell) add
// to the host, per group: their shims and every process below them but
// the containers' own (log writers, sandbox processes), as Rss and Pss of
// /proc/PID/smaps_rollup (MiB/group-rss, MiB/group-pss). Each iteration
// samples the same idle groups; the log shows the last sample by process.
func BenchmarkTwentyIdleGroupsMemory(b *testing.B) {
	bh := newBenchHost(b)
	reqs := make([]*api.CreateContainerGroupRequest, benchGroups)
	for j := range reqs {
		reqs[j] = bh.request(benchOneRunner)
	}
	ids := make([]string, benchGroups)
	errs := make([]error, benchGroups)
	var wg sync.WaitGroup
	for j := range reqs {
		wg.Go(func() {
			ids[j], errs[j] = bh.h.Engine.Create(context.Background(), reqs[j])
			if errs[j] == nil {
				errs[j] = bh.waitPhase(ids[j], api.GroupRunning, 2*time.Minute)
			}
		})
	}
	wg.Wait()
	defer bh.deleteAll(ids)
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	var sandboxes []int
	for _, id := range ids {
		st, err := bh.h.Engine.Get(id)
		if err != nil {
			b.Fatal(err)
		}
		sandboxes = append(sandboxes, st.Host.Sandbox.PID)
	}
	// Idle: the starts' garbage collected, the writers waiting.
	time.Sleep(2 * time.Second)
	var rss, pss, count []float64
	var table string
	multiShim := 0
	for b.Loop() {
		procs := hostProcs()
		added, containers := groupProcs(procs, bh.cgroupRoot, sandboxes)
		multiShim = 0
		for _, shims := range shimsByGroup(procs, bh.cgroupRoot) {
			if len(shims) > 1 {
				multiShim++
			}
		}
		// Each group's sleeping shell and its sleep.
		if len(containers) < benchGroups {
			b.Fatalf("found %d container processes of %d groups under cgroup %s", len(containers), benchGroups, bh.cgroupRoot)
		}
		total, t, err := memoryBreakdown(added, benchGroups)
		if err != nil {
			b.Fatal(err)
		}
		table = t
		rss = append(rss, mib(total.rss)/benchGroups)
		pss = append(pss, mib(total.pss)/benchGroups)
		count = append(count, float64(len(added))/benchGroups)
	}
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(median(rss), "MiB/group-rss")
	b.ReportMetric(median(pss), "MiB/group-pss")
	b.ReportMetric(median(count), "processes/group")
	b.Logf("what %d idle groups add (%s), the containers' own processes left out; %d groups run under more than one shim:\n%s", benchGroups, testRuntime, multiShim, table)
}

// inTurn runs iteration i of two sides, each going first every other
// iteration: neither always meets what the other leaves behind (a shim
// exiting, a page cache warmed), nor always a quieter host.
func inTurn(i int, first, second func()) {
	if i%2 == 1 {
		first, second = second, first
	}
	first()
	second()
}

// writeSteps appends a step table to the file LECI_BENCH_STEPS names, or
// logs it.
func writeSteps(tb testing.TB, title, table string) {
	path := os.Getenv(stepsEnv)
	if path == "" {
		tb.Logf("%s\n%s", title, table)
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s\n%s\n", title, table); err != nil {
		tb.Fatal(err)
	}
}

// reference runs a container of the test image to its exit, removed with
// it, as leci's case is measured against.
type reference struct {
	name string // "ctr" or "docker": the prefix of its metrics
	run  func(id string) error
}

// newRunToExitReference is `ctr run --rm` (with --cni when cni) on the
// package's containerd, or `docker run --rm` on the package's dockerd.
// Without one (no CNI configuration for ctr, no docker CLI) it logs why
// and returns a reference that measures nothing.
func newRunToExitReference(tb testing.TB, cni bool) *reference {
	tb.Helper()
	switch testRuntime {
	case host.RuntimeContainerd:
		if why := ctrCNIMissing(); cni && why != "" {
			tb.Logf("leci alone, no ctr reference: %s", why)
			return &reference{}
		}
		cs := newCtrSide(tb, cni)
		flags := []string{"--rm"}
		if cni {
			flags = append(flags, "--cni")
		}
		return &reference{name: "ctr", run: func(id string) error { return cs.run(flags, id, "true") }}
	case host.RuntimeDocker:
		docker, err := exec.LookPath("docker")
		if err != nil {
			tb.Logf("leci alone, no docker reference: %v", err)
			return &reference{}
		}
		// Unique on a dockerd the package's tests share.
		prefix := fmt.Sprintf("bench-%x-", rand.IntN(1<<20))
		ref := &reference{name: "docker", run: func(id string) error {
			// The package's dockerd has no bridge (leci's groups bring
			// their own network): the container gets none.
			cmd := exec.Command(docker, "-H", dockerHost, "run", "--rm", "--network", "none", "--name", prefix+id, testImageRef, "true")
			if out, err := cmd.CombinedOutput(); err != nil {
				exec.Command(docker, "-H", dockerHost, "rm", "-f", prefix+id).Run()
				return fmt.Errorf("docker run %s: %v: %s", id, err, bytes.TrimSpace(out))
			}
			return nil
		}}
		// One run first, untimed, as leci's side has.
		if err := ref.run("warm-up"); err != nil {
			tb.Fatal(err)
		}
		return ref
	}
	return &reference{}
}

// timeRun times one run of the reference; 0 when there is none.
func (r *reference) timeRun(tb testing.TB, id string) time.Duration {
	if r.run == nil {
		return 0
	}
	start := time.Now()
	if err := r.run(id); err != nil {
		tb.Fatal(err)
	}
	return time.Since(start)
}

// durations are the timed iterations of one side of a benchmark.
type durations []time.Duration

// report reports the median, minimum and maximum in ms of one side:
// ms/median with no side, else ms/<side>-median, ...
func (d durations) report(b *testing.B, side string) {
	if side != "" {
		side += "-"
	}
	d.reportAs(b, side)
}

func (d durations) reportAs(b *testing.B, prefix string) {
	b.ReportMetric(0, "ns/op")
	s := slices.DeleteFunc(slices.Clone(d), func(d time.Duration) bool { return d == 0 })
	if len(s) == 0 {
		return
	}
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	b.ReportMetric(ms(median), "ms/"+prefix+"median")
	b.ReportMetric(ms(s[0]), "ms/"+prefix+"min")
	b.ReportMetric(ms(s[len(s)-1]), "ms/"+prefix+"max")
}

// benchHost is one benchmark's leci: its own root, containerd namespace,
// bridge, subnet and cgroup root, as the tests' harness, for a *testing.B.
type benchHost struct {
	tb         testing.TB
	cfg        host.Config
	h          *host.Host
	cgroupRoot string
}

// newBenchHost opens a benchmark's leci; with a tracePath, its engine
// records its steps there.
func newBenchHost(tb testing.TB, tracePath ...string) *benchHost {
	tb.Helper()
	requireBenchPrereqs(tb)
	// Apart from the tests' 10.214.0.0/16 and ctr's 10.215.0.0/24.
	bh := &benchHost{tb: tb, cfg: ownHostConfig(tb, "bench", "lb", 216)}
	bh.cgroupRoot = bh.cfg.CgroupRoot
	for _, p := range tracePath {
		rec, err := trace.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { rec.Close() }) // after the host's cleanup
		bh.cfg.Trace = rec
	}
	ctx := context.Background()
	h, err := host.Open(ctx, bh.cfg, benchLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	bh.h = h
	tb.Cleanup(bh.cleanup)
	importTestImages(tb, h)
	// One group first, untimed: the first on a root prepares the sandbox's
	// rootfs and the bridge, which later groups find made.
	id := bh.create(bh.request(benchRunToExit))
	if err := bh.waitPhase(id, api.GroupSucceeded, time.Minute); err != nil {
		tb.Fatal(err)
	}
	bh.delete(id)
	return bh
}

func requireBenchPrereqs(tb testing.TB) {
	tb.Helper()
	requirePrereqs(tb)
}

var traceMu sync.Mutex // benchmarks run one at a time; the file is shared

// benchLogger keeps the engine's warnings and errors, and logs them when
// the benchmark ends: written as they come they would split the result
// lines that hack/bench.sh reads. With LECI_BENCH_TRACE set, everything
// down to debug goes to that file too.
func benchLogger(tb testing.TB) *slog.Logger {
	warnings := &lockedBuffer{}
	tb.Cleanup(func() {
		if s := warnings.String(); s != "" {
			lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
			if len(lines) > 10 {
				lines = append(lines[:10], fmt.Sprintf("... and %d more", len(lines)-10))
			}
			tb.Logf("engine warnings and errors:\n%s", strings.Join(lines, "\n"))
		}
	})
	kept := slog.NewTextHandler(warnings, &slog.HandlerOptions{Level: slog.LevelWarn})
	path := os.Getenv("LECI_BENCH_TRACE")
	if path == "" {
		return slog.New(kept)
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	fmt.Fprintf(f, "=== %s\n", tb.Name())
	return slog.New(slog.NewMultiHandler(kept, slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})))
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (bh *benchHost) request(yaml string) *api.CreateContainerGroupRequest {
	bh.tb.Helper()
	var req api.CreateContainerGroupRequest
	if err := api.Decode([]byte(yaml), api.FormatYAML, &req); err != nil {
		bh.tb.Fatal(err)
	}
	if err := req.Normalize(); err != nil {
		bh.tb.Fatal(err)
	}
	return &req
}

func (bh *benchHost) create(req *api.CreateContainerGroupRequest) string {
	bh.tb.Helper()
	id, err := bh.h.Engine.Create(context.Background(), req)
	if err != nil {
		bh.tb.Fatal(err)
	}
	return id
}

// waitPhase watches a group until it is in phase, and fails early when
// the group failed or a container could not start: a benchmark counts no
// retries. It is safe to call from any goroutine.
func (bh *benchHost) waitPhase(id string, phase api.GroupStatus, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ch, err := bh.h.Engine.Watch(ctx, id)
	if err != nil {
		return err
	}
	var last runtime.GroupStatus
	for st := range ch {
		last = st
		if st.Phase == phase {
			return nil
		}
		if st.Phase == api.GroupFailed || startFailed(st) {
			return fmt.Errorf("group %s failed: %s", id, describe(st))
		}
	}
	return fmt.Errorf("group %s did not reach %s in %s; last: %s", id, phase, timeout, describe(last))
}

// waitOutput waits until the first run of a container has written line.
func (bh *benchHost) waitOutput(id, container, line string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	errFound := errors.New("found")
	err := logs.Follow(ctx, runtime.LogPath(bh.cfg.Root, id, container, 1), logs.FollowOptions{Poll: 5 * time.Millisecond}, func(l logs.Line) error {
		if l.Text == line {
			return errFound
		}
		return nil
	})
	if err == errFound {
		return nil
	}
	return fmt.Errorf("group %s: %s did not write %q: %v", id, container, line, err)
}

// startFailed tells whether a container of the group failed to start.
func startFailed(st runtime.GroupStatus) bool {
	for _, c := range append(st.InitContainers, st.Containers...) {
		if c.Current.State == api.StateWaiting && c.Backoff > 0 {
			return true
		}
	}
	return false
}

// delete deletes a group; it is safe to call from any goroutine.
func (bh *benchHost) delete(id string) {
	if err := bh.h.Engine.Delete(context.Background(), id); err != nil {
		bh.tb.Errorf("delete %s: %v", id, err)
	}
}

// deleteAll deletes the groups of ids at once; "" ids are skipped.
func (bh *benchHost) deleteAll(ids []string) {
	var wg sync.WaitGroup
	for _, id := range ids {
		if id != "" {
			wg.Go(func() { bh.delete(id) })
		}
	}
	wg.Wait()
}

func (bh *benchHost) cleanup() {
	for _, st := range bh.h.Engine.List() {
		bh.h.Engine.Delete(context.Background(), st.ID)
	}
	bh.checkNothingLeft()
	if bh.h.Conn != nil {
		if err := removeNamespace(bh.h.Conn); err != nil {
			bh.tb.Error(err)
		}
	}
	removeCgroupDirs(bh.cgroupRoot)
	bh.h.Close()
	if link, err := netlink.LinkByName(bh.cfg.Bridge); err == nil {
		netlink.LinkDel(link)
	}
}

// checkNothingLeft is the harness's check on a benchmark's host.
func (bh *benchHost) checkNothingLeft() {
	assertNothingLeft(bh.tb, bh.h, bh.cfg, bh.cgroupRoot)
}

// ctrSide runs `ctr run` on the package's containerd, in a namespace of its
// own holding the same test image; with CNI, on the network of the
// conflist hack/bench.sh wrote.
type ctrSide struct {
	tb   testing.TB
	ctr  string
	ns   string
	conn *containerd.Conn
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList // nil: no CNI
}

// ctrCNIMissing says why ctr cannot run with --cni here, or "" when it can.
func ctrCNIMissing() string {
	if testRuntime != host.RuntimeContainerd {
		return fmt.Sprintf("ctr is the containerd reference, measured when %s=%s", runtimeEnv, host.RuntimeContainerd)
	}
	if os.Getenv(ctrConflistEnv) == "" {
		return fmt.Sprintf("ctr --cni needs the CNI config hack/bench.sh writes to /etc/cni/net.d (%s unset)", ctrConflistEnv)
	}
	return ""
}

func newCtrSide(tb testing.TB, cni bool) *ctrSide {
	tb.Helper()
	requireBenchPrereqs(tb)
	if testRuntime != host.RuntimeContainerd {
		tb.Fatalf("ctr is the containerd reference: %s=%s", runtimeEnv, testRuntime)
	}
	cs := &ctrSide{
		tb:  tb,
		ctr: testutil.RequireBinary(tb, "ctr"),
		ns:  fmt.Sprintf("bench-ctr-%x", rand.IntN(1<<20)),
	}
	if cni {
		list, err := libcni.ConfListFromFile(os.Getenv(ctrConflistEnv))
		if err != nil {
			tb.Fatal(err)
		}
		cs.list = list
		cs.cni = libcni.NewCNIConfigWithCacheDir([]string{"/opt/cni/bin", "/usr/lib/cni"}, ctrCacheDir, &invoke.DefaultExec{
			RawExec:       &invoke.RawExec{}, // a plugin's error comes back in its result
			PluginDecoder: version.PluginDecoder{},
		})
	}
	ctx := context.Background()
	conn, err := containerd.Connect(ctx, containerd.Config{Address: containerdAddr, Namespace: cs.ns}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	cs.conn = conn
	tb.Cleanup(cs.cleanup)
	if _, err := conn.Import(ctx, bytes.NewReader(testImage.Bytes())); err != nil {
		tb.Fatal(err)
	}
	// One run first, untimed, as leci's side has.
	flags := []string{"--rm"}
	if cni {
		flags = append(flags, "--cni")
	}
	if err := cs.run(flags, "warm-up", "true"); err != nil {
		tb.Fatal(err)
	}
	return cs
}

// run runs `ctr run <flags> IMAGE id args...` to its end (with --rm) or
// until the task has started (with -d).
func (cs *ctrSide) run(flags []string, id string, args ...string) error {
	cmdArgs := append([]string{"--address", containerdAddr, "-n", cs.ns, "run"}, flags...)
	cmd := exec.Command(cs.ctr, append(append(cmdArgs, testImageRef, id), args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr run %s %s: %v: %s", strings.Join(flags, " "), id, err, bytes.TrimSpace(out))
	}
	return nil
}

// removeAll kills and removes every container of the namespace with its
// task and snapshot, and releases its address: ctr run -d leaves all that,
// and deleting a task does not run CNI DEL.
func (cs *ctrSide) removeAll() error {
	ctx := cs.conn.WithNamespace(context.Background())
	cl := cs.conn.Client()
	ctrs, err := cl.Containers(ctx)
	if err != nil {
		return err
	}
	errs := make([]error, len(ctrs))
	var wg sync.WaitGroup
	for i, c := range ctrs {
		wg.Go(func() {
			if task, err := c.Task(ctx, nil); err == nil {
				if _, err := task.Delete(ctx, client.WithProcessKill); err != nil {
					errs[i] = fmt.Errorf("delete task %s: %w", c.ID(), err)
					return
				}
			}
			if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil {
				errs[i] = fmt.Errorf("delete container %s: %w", c.ID(), err)
				return
			}
			removeFIFOs(c.ID())
			if cs.list == nil {
				return
			}
			// ctr names the CNI attachment <namespace>-<id>, on eth0.
			rt := &libcni.RuntimeConf{ContainerID: cs.ns + "-" + c.ID(), IfName: "eth0"}
			if err := cs.cni.DelNetworkList(ctx, cs.list, rt); err != nil {
				errs[i] = fmt.Errorf("cni del %s: %w", c.ID(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (cs *ctrSide) cleanup() {
	if err := cs.removeAll(); err != nil {
		cs.tb.Error(err)
	}
	if err := removeNamespace(cs.conn); err != nil {
		cs.tb.Error(err)
	}
	cs.conn.Close()
	// ctr's default cgroup is /<namespace>/<id>; runc removes the
	// container's, the namespace's stays.
	removeCgroupDirs(cs.ns)
}

// removeNamespace removes the connection's containerd namespace with its
// images and snapshots; its containers must be gone. The images go
// synchronously, so that the namespace is empty when it is deleted.
func removeNamespace(conn *containerd.Conn) error {
	ctx := conn.WithNamespace(context.Background())
	cl := conn.Client()
	imgs, err := cl.ImageService().List(ctx)
	if err != nil {
		return err
	}
	for _, img := range imgs {
		if err := cl.ImageService().Delete(ctx, img.Name, images.SynchronousDelete()); err != nil {
			return fmt.Errorf("remove image %s: %w", img.Name, err)
		}
	}
	sn := cl.SnapshotService("overlayfs")
	var names []string
	sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		names = append(names, info.Name)
		return nil
	})
	for _, name := range names {
		sn.Remove(ctx, name)
	}
	// The garbage collector may still hold content of the namespace for a
	// moment.
	for i := 0; ; i++ {
		err = cl.NamespaceService().Delete(context.Background(), conn.Namespace())
		if err == nil || i == 20 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("remove namespace %s: %w", conn.Namespace(), err)
	}
	// runc's state directory of the namespace, empty once its containers
	// are gone.
	os.Remove(filepath.Join("/run/containerd/runc", conn.Namespace()))
	return nil
}

// removeCgroupDirs removes the empty cgroup /name from every hierarchy
// mounted under /sys/fs/cgroup (v1 controllers, the hybrid layout's
// "unified"), or from the one v2 hierarchy.
func removeCgroupDirs(name string) {
	os.Remove(filepath.Join("/sys/fs/cgroup", name))
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, e := range entries {
		if e.IsDir() {
			os.Remove(filepath.Join("/sys/fs/cgroup", e.Name(), name))
		}
	}
}

// ctrFIFODir is where ctr makes the FIFOs of a task's stdio, one
// directory per task; run -d leaves them behind.
const ctrFIFODir = "/run/containerd/fifo"

// removeFIFOs removes the FIFOs ctr made for container id, and their
// directory once empty.
func removeFIFOs(id string) {
	paths, _ := filepath.Glob(filepath.Join(ctrFIFODir, "*", id+"-std*"))
	for _, p := range paths {
		os.Remove(p)
		os.Remove(filepath.Dir(p))
	}
}
