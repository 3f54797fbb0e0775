//go:build integration

package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/vishvananda/netlink"
	bolt "go.etcd.io/bbolt"

	"leci/api"
	"leci/internal/testutil"
)

// Soak: through the daemon's API, create → run → delete cycles, five at a
// time, beside fifty steady groups whose probes run throughout; then
// everything must be back where it started: the daemon's open files within
// 5, its goroutines within 10, its RSS within +10 %, and not one mount,
// veth, network namespace, address, iptables chain, cgroup, containerd
// container, task, snapshot, lease, shim or process of a shim, Docker
// container or file under the root more than before. LECI_SOAK_CYCLES sets the number of cycles
// (make soak: 10,000; make test: soakCycles).
const (
	soakCyclesEnv = "LECI_SOAK_CYCLES"
	// soakCycles is the CI-sized soak's (make test sets it too): what
	// fits, beside the rest of make test, in its 25 minutes on a two-core
	// machine (2.5 to 7 cycles a second, five at a time, plus a minute and
	// a quarter of set-up).
	soakCycles  = 300
	soakSteady  = 50
	soakWorkers = 5
	// soakWarmup cycles run before the starting point is measured: the
	// daemon's first groups fill caches (image, HTTP connections) that
	// stay.
	soakWarmup = 10
	// The soak's daemon samples every group's usage each second and keeps
	// 20 s of it: the groups of the cycles are sampled too (their history
	// is dropped with them), and the steady groups' history is full before
	// the start is measured. It is a bounded cache that grows for an hour
	// at the defaults, as long as a long soak.
	soakMetricsInterval = time.Second
	soakMetricsHistory  = 20 * time.Second
)

// soakFigures is what the soak measures, at the start and at the end.
type soakFigures struct {
	fds, goroutines, threads int
	rssKiB, anonKiB, fileKiB int
	// memClasses is the Go runtime's memory by class, in KiB, after a
	// collection: where RSS that grew went (see memClasses).
	memClasses map[string]int
	// heapProfile is the heap profile they were read from.
	heapProfile []byte
	// smaps is the daemon's /proc/PID/smaps, and smapsKinds its resident
	// memory by kind of mapping (see residentByMapping): which mappings
	// an RSS that grew grew in, beyond what the Go runtime counts.
	smaps                []byte
	smapsKinds           map[string]int
	mounts, veths, netns int
	addresses, chains    int
	cgroups              int
	containers, tasks    int
	shims, shimChildren  int
	snapshots, leases    int
	dockerContainers     int
	files                map[string]bool
	storeBytes           int64
}

func TestSoak(t *testing.T) {
	cycles := soakCycles
	if s := os.Getenv(soakCyclesEnv); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("%s=%q: want a number of cycles", soakCyclesEnv, s)
		}
		cycles = n
	}
	hr := newHarness(t)
	daemonFlags := []string{"--group-metrics-interval", soakMetricsInterval.String(), "--group-metrics-history", soakMetricsHistory.String()}
	d := hr.startDaemon(daemonFlags...)
	tag := rand.IntN(1 << 24)

	// The steady groups: a web server each, ready by HTTP, alive by TCP.
	var wg sync.WaitGroup
	steady := make([]string, soakSteady)
	for i := range soakSteady {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fmt.Sprintf(`ContainerGroupName: steady-%x-%d
TerminationGracePeriodSeconds: 1
Container:
  - Name: web
    Image: %s
    Command: [sh, -c, "mkdir -p /tmp/www && echo up > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"]
    ReadinessProbe: {HttpGet: {Path: /, Port: 8080}, PeriodSeconds: 5}
    LivenessProbe: {TcpSocket: {Port: 8080}, PeriodSeconds: 5}
`, tag, i, image)
			out, err := d.client(req, "create", "-f", "-", "--wait", "ready", "--wait-timeout", "5m")
			if err != nil {
				t.Errorf("steady group %d: %v", i, err)
				return
			}
			steady[i] = strings.TrimSpace(out)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	run := func(n int) (took time.Duration) {
		start := time.Now()
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		for range soakWorkers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := next.Add(1); i <= int64(n); i = next.Add(1) {
					if err := d.soakCycle(fmt.Sprintf("cycle-%x-%d", tag, i)); err != nil {
						if failed.Add(1) <= 5 {
							t.Errorf("cycle %d: %v", i, err)
						}
					}
				}
			}()
		}
		wg.Wait()
		if f := failed.Load(); f > 0 {
			t.Fatalf("%d of %d cycles failed", f, n)
		}
		return time.Since(start)
	}
	run(soakWarmup)
	// The store compacted at the start: taken with the daemon stopped (it
	// holds the file), which the next adopts the steady groups.
	d.stop()
	compactBefore := compactedSize(t, filepath.Join(hr.cfg.Root, "leci.db"))
	d = hr.startDaemon(daemonFlags...)
	historyFull := time.Now().Add(soakMetricsHistory + 2*soakMetricsInterval)
	run(soakWarmup)
	time.Sleep(time.Until(historyFull))
	before := hr.soakMeasure(d, soakSteady)
	took := run(cycles)
	after := hr.soakMeasure(d, soakSteady)

	for _, id := range steady {
		if g := d.describe(id); g.Status != api.GroupRunning || g.Containers[0].RestartCount != 0 || !g.Containers[0].Ready {
			t.Errorf("steady group %s after the soak: %s, %d restarts, ready %v; want Running, ready, never restarted",
				id, g.Status, g.Containers[0].RestartCount, g.Containers[0].Ready)
		}
	}
	d.stop() // the store's file is read once the daemon let it go
	compactAfter := compactedSize(t, filepath.Join(hr.cfg.Root, "leci.db"))

	newFiles := 0
	var someNew []string
	for f := range after.files {
		if !before.files[f] {
			newFiles++
			if len(someNew) < 10 {
				someNew = append(someNew, f)
			}
		}
	}
	rows := []soakRow{
		{"open files", before.fds, after.fds, 5},
		{"goroutines", before.goroutines, after.goroutines, 10},
		{"threads", before.threads, after.threads, -1},
		{"RSS (KiB)", before.rssKiB, after.rssKiB, rssSlack(before.rssKiB)},
		{"  of it anonymous", before.anonKiB, after.anonKiB, -1},
		{"  of it files", before.fileKiB, after.fileKiB, -1},
	}
	for _, class := range slices.Sorted(maps.Keys(after.memClasses)) {
		rows = append(rows, soakRow{"  Go " + class, before.memClasses[class], after.memClasses[class], -1})
	}
	for _, kind := range slices.Sorted(maps.Keys(after.smapsKinds)) {
		rows = append(rows, soakRow{"  in " + kind, before.smapsKinds[kind], after.smapsKinds[kind], -1})
	}
	rows = append(rows, []soakRow{
		{"mounts under the root", before.mounts, after.mounts, 0},
		{"veths on the bridge", before.veths, after.veths, 0},
		{"network namespaces", before.netns, after.netns, 0},
		{"IP reservations", before.addresses, after.addresses, 0},
		{"iptables CNI chains", before.chains, after.chains, 0},
		{"cgroups", before.cgroups, after.cgroups, 0},
		{"containerd containers", before.containers, after.containers, 0},
		{"containerd tasks", before.tasks, after.tasks, 0},
		{"containerd shims", before.shims, after.shims, 0},
		{"processes of shims", before.shimChildren, after.shimChildren, 0},
		{"containerd snapshots", before.snapshots, after.snapshots, 0},
		{"containerd leases", before.leases, after.leases, 0},
		{"docker containers", before.dockerContainers, after.dockerContainers, 0},
		{"files under the root", len(before.files), len(before.files) + newFiles, 0},
		{"store bytes", int(before.storeBytes), int(after.storeBytes), -1},
		{"store bytes compacted", int(compactBefore), int(compactAfter), int(compactBefore) / 10},
	}...)
	var report strings.Builder
	fmt.Fprintf(&report, "soak: %d cycles (%d at a time) beside %d steady groups with probes, %s (%.1f cycles/s), %s backend\n",
		cycles, soakWorkers, soakSteady, took.Round(time.Second), float64(cycles)/took.Seconds(), testRuntime)
	fmt.Fprintf(&report, "soak: %-24s %10s %10s\n", "", "start", "end")
	for _, r := range rows {
		fmt.Fprintf(&report, "soak: %-24s %10d %10d\n", r.name, r.before, r.after)
		if r.slack >= 0 && r.after > r.before+r.slack {
			t.Errorf("%s: %d after the soak, %d before (%d allowed more)", r.name, r.after, r.before, r.slack)
		}
		if r.slack == 0 && r.after < r.before {
			t.Errorf("%s: %d after the soak, %d before: something of the steady groups went", r.name, r.after, r.before)
		}
	}
	if newFiles > 0 {
		t.Errorf("files under the root that were not there before: %d, such as %v", newFiles, someNew)
	}
	// Deleted groups leave free pages, which bbolt reuses: the file does
	// not grow with the cycles. Compacted, it holds the steady groups
	// alone.
	if after.storeBytes > before.storeBytes+1<<20 {
		t.Errorf("store file grew from %d to %d bytes", before.storeBytes, after.storeBytes)
	}
	fmt.Fprint(os.Stderr, report.String())
	t.Log("\n" + report.String())
	if p := os.Getenv("LECI_SOAK_REPORT"); p != "" {
		// Beside the figures, the daemon's heap profiles at the start and
		// the end (go tool pprof -base START END shows what grew), and its
		// mappings.
		base := strings.TrimSuffix(p, filepath.Ext(p))
		err := os.MkdirAll(filepath.Dir(p), 0o755)
		for _, f := range []struct {
			path string
			data []byte
		}{{p, []byte(report.String())}, {base + "-heap-start.txt", before.heapProfile}, {base + "-heap-end.txt", after.heapProfile},
			{base + "-smaps-start.txt", before.smaps}, {base + "-smaps-end.txt", after.smaps}} {
			if err == nil {
				err = os.WriteFile(f.path, f.data, 0o644)
			}
		}
		if err != nil {
			t.Errorf("soak report: %v", err)
		}
	}

	d = hr.startDaemon()
	d.deleteAll()
	d.stop()
}

// soakCycle creates a group, waits until it runs, deletes it and waits
// until it is gone, each through one leci client.
func (d *daemon) soakCycle(name string) error {
	req := fmt.Sprintf("ContainerGroupName: %s\nTerminationGracePeriodSeconds: 1\nContainer:\n"+
		"  - {Name: app, Image: %s, Command: [sh, -c, \"trap 'exit 0' TERM; sleep 86400 & wait\"]}\n", name, image)
	out, err := d.client(req, "create", "-f", "-", "--wait", "running", "--wait-timeout", "2m")
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	id := strings.TrimSpace(out)
	// One client for the delete and the wait until it is gone: each leci
	// process costs as much CPU as a tenth of the cycle.
	if _, err := d.client("", "delete", id, "--wait", "--wait-timeout", "2m"); err != nil {
		return fmt.Errorf("delete %s: %w", id, err)
	}
	return nil
}

// soakMeasure waits until the daemon knows only the steady groups and its
// goroutines have settled, and measures.
func (hr *harness) soakMeasure(d *daemon, steady int) soakFigures {
	hr.t.Helper()
	for deadline := time.Now().Add(time.Minute); len(d.groupIDs()) != steady; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			hr.t.Fatalf("%d groups a minute after the last delete, want the %d steady ones", len(d.groupIDs()), steady)
		}
	}
	// Let the background removals and the probe workers of deleted groups
	// end: measured twice a second apart until the count holds.
	var f soakFigures
	prev := -1
	for range 20 {
		time.Sleep(time.Second)
		f.goroutines = d.goroutines(hr.t)
		if f.goroutines == prev {
			break
		}
		prev = f.goroutines
	}
	pid := d.cmd.Process.Pid
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	f.fds = len(fds)
	f.rssKiB, f.anonKiB, f.fileKiB, f.threads = procStatus(pid)
	f.memClasses, f.heapProfile = d.memClasses(hr.t)
	f.smaps, _ = os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	f.smapsKinds = residentByMapping(f.smaps)
	f.mounts = len(mountsUnder(hr.cfg.Root))
	if br, err := netlink.LinkByName(hr.cfg.Bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				f.veths++
			}
		}
	}
	ns, _ := os.ReadDir(filepath.Join(hr.cfg.Root, "netns"))
	f.netns = len(ns)
	f.addresses = len(ipAllocations(hr.t, hr.cfg))
	f.chains = cniChains()
	f.cgroups = len(groupCgroupDirs(hr.cgroupRoot))
	ctx := context.Background()
	if hr.h.Conn != nil {
		ctx = hr.h.Conn.WithNamespace(ctx)
		cl := hr.h.Conn.Client()
		cs, _ := cl.Containers(ctx)
		f.containers = len(cs)
		if ts, err := cl.TaskService().List(ctx, nil); err == nil {
			f.tasks = len(ts.Tasks)
		}
		cl.SnapshotService("overlayfs").Walk(ctx, func(context.Context, snapshots.Info) error { f.snapshots++; return nil })
		ls, _ := cl.LeasesService().List(ctx)
		f.leases = len(ls)
		for _, s := range testutil.ContainerdShims(containerdAddr, hr.cfg.Namespace) {
			f.shims++
			f.shimChildren += len(s.Children)
		}
	}
	if hr.h.Docker != nil {
		f.dockerContainers = dockerContainersOf(hr)
	}
	f.files = map[string]bool{}
	filepath.WalkDir(hr.cfg.Root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(hr.cfg.Root, p)
		switch {
		case de.IsDir() && (rel == "debug" || rel == "containerd"):
			// The daemon's goroutine dumps; containerd's own files.
			return filepath.SkipDir
		case !de.IsDir():
			f.files[rel] = true
		}
		return nil
	})
	if fi, err := os.Stat(filepath.Join(hr.cfg.Root, "leci.db")); err == nil {
		f.storeBytes = fi.Size()
	}
	return f
}

// goroutines asks the daemon for its goroutines (SIGUSR1) and counts them.
func (d *daemon) goroutines(t testing.TB) int {
	t.Helper()
	path := filepath.Join(d.hr.cfg.Root, "debug", fmt.Sprintf("goroutines-%d.txt", d.cmd.Process.Pid))
	os.Remove(path)
	if err := d.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		b, err := os.ReadFile(path)
		if err == nil {
			n := 0
			sc := bufio.NewScanner(bytes.NewReader(b))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "goroutine ") && strings.HasSuffix(sc.Text(), ":") {
					n++
				}
			}
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine dump from the daemon: %v", err)
		}
	}
}

// soakRow is a figure of the soak's table.
type soakRow struct {
	name          string
	before, after int
	slack         int // what after may exceed before by; -1: shown only
}

// memClasses reads the Go runtime's memory by class (KiB, by its
// runtime.MemStats name) from the heap profile that the daemon wrote with
// its last goroutine dump, and returns the profile too: the heap's spans in
// use, the goroutine stacks, and the runtime's own structures, which with
// them make up the daemon's anonymous memory.
func (d *daemon) memClasses(t testing.TB) (map[string]int, []byte) {
	t.Helper()
	path := filepath.Join(d.hr.cfg.Root, "debug", fmt.Sprintf("heap-%d.txt", d.cmd.Process.Pid))
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the daemon's heap profile: %v", err)
	}
	want := map[string]bool{"HeapInuse": true, "HeapIdle": true, "HeapReleased": true, "Stack": true, "MSpan": true, "MCache": true, "BuckHashSys": true, "GCSys": true, "OtherSys": true}
	classes := map[string]int{}
	for _, line := range strings.Split(string(b), "\n") {
		// "# HeapInuse = 8962048", "# Stack = 5439488 / 5439488" (in use / mapped)
		fields := strings.Fields(line)
		if len(fields) < 4 || fields[0] != "#" || fields[2] != "=" || !want[fields[1]] {
			continue
		}
		if n, err := strconv.Atoi(fields[3]); err == nil {
			classes[fields[1]] = n >> 10
		}
	}
	if len(classes) != len(want) {
		t.Fatalf("the daemon's heap profile %s has %d of the %d memory statistics", path, len(classes), len(want))
	}
	return classes, b
}

// residentByMapping sums a process's resident memory (KiB) from its smaps
// by kind of mapping: the Go heap's arenas (anonymous, from 0xc000000000,
// where the runtime places them on amd64), the other anonymous mappings
// (the runtime's own structures, the binary's bss), mapped files, and
// the kernel's ([stack], [vdso]).
func residentByMapping(smaps []byte) map[string]int {
	out := map[string]int{}
	kind := ""
	for _, line := range strings.Split(string(smaps), "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// "c000000000-c000400000 rw-p 00000000 00:00 0 [path]"
			start, _ := strconv.ParseUint(strings.SplitN(fields[0], "-", 2)[0], 16, 64)
			switch {
			case len(fields) >= 6 && strings.HasPrefix(fields[5], "["):
				kind = "kernel mappings"
			case len(fields) >= 6:
				kind = "mapped files"
			case start >= 0xc000000000 && start < 0x7f0000000000:
				kind = "Go heap arenas"
			default:
				kind = "other anonymous"
			}
		case len(fields) >= 2 && fields[0] == "Rss:" && kind != "":
			n, _ := strconv.Atoi(fields[1])
			out[kind] += n
		}
	}
	return out
}

// procStatus is a process's resident memory (all, anonymous, of files) and
// thread count.
func procStatus(pid int) (rssKiB, anonKiB, fileKiB, threads int) {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "VmRSS:":
			rssKiB, _ = strconv.Atoi(fields[1])
		case "RssAnon:":
			anonKiB, _ = strconv.Atoi(fields[1])
		case "RssFile:":
			fileKiB, _ = strconv.Atoi(fields[1])
		case "Threads:":
			threads, _ = strconv.Atoi(fields[1])
		}
	}
	return rssKiB, anonKiB, fileKiB, threads
}

// cniChains counts the chains the CNI plugins make for one container, in
// the nat and filter tables of both address families. The portmap
// plugin's own chains (CNI-HOSTPORT-DNAT and the like), made once on the
// first published port and shared by every container since, are left out.
func cniChains() int {
	n := 0
	for _, bin := range []string{"iptables-save", "ip6tables-save"} {
		for _, table := range []string{"nat", "filter"} {
			out, err := exec.Command(bin, "-t", table).Output()
			if err != nil {
				continue
			}
			for _, line := range strings.Split(string(out), "\n") {
				// A chain's declaration: ":NAME POLICY [PACKETS:BYTES]".
				decl, ok := strings.CutPrefix(line, ":")
				if chain, _, _ := strings.Cut(decl, " "); ok && perContainerChain(chain) {
					n++
				}
			}
		}
	}
	return n
}

// perContainerChain tells whether an iptables chain is one a CNI plugin
// made for one container: "CNI-", maybe a kind ("DN-", "SN-"), and a hash
// in lowercase hex.
func perContainerChain(chain string) bool {
	hash, ok := strings.CutPrefix(chain, "CNI-")
	if !ok {
		return false
	}
	if kind, rest, ok := strings.Cut(hash, "-"); ok && len(kind) == 2 {
		hash = rest
	}
	return hash != "" && strings.Trim(hash, "0123456789abcdef") == ""
}

// compactedSize is the size of a copy of the bbolt file at path compacted
// (what its live records take).
func compactedSize(t testing.TB, path string) int64 {
	t.Helper()
	src, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	defer src.Close()
	out := filepath.Join(t.TempDir(), "compact.db")
	dst, err := bolt.Open(out, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bolt.Compact(dst, src, 1<<20); err != nil {
		t.Fatalf("compact the store: %v", err)
	}
	dst.Close()
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// dockerContainersOf counts the dockerd's containers of the test's leci.
func dockerContainersOf(hr *harness) int {
	cs, err := hr.h.Docker.Client().ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", dockerOwnerLabel+"="+hr.cfg.Root)),
	})
	if err != nil {
		hr.t.Fatalf("list docker containers: %v", err)
	}
	return len(cs)
}

// rssSlack is what the daemon's RSS may grow by: 10 %, unless it was built
// with the race detector (testutil.RaceEnv), whose shadow memory grows with
// every address the program ever touched: its RSS is shown, not bounded.
func rssSlack(start int) int {
	if os.Getenv(testutil.RaceEnv) == "1" {
		return -1
	}
	return start / 10
}
