//go:build integration

// Runtime benchmarks: real groups on the package's runtime (containerd, or
// Docker with LECI_TEST_RUNTIME=docker), next to `ctr run --cni` of the same
// image on the package's containerd (in the containerd run only). hack/bench.sh
// (make bench) runs them with -benchtime=10x and prints the medians side by
// side; the ctr halves need the CNI configuration that script puts in
// /etc/cni/net.d (ctr has no flag for another directory) and skip without it.
//
// Each benchmark reports the median, minimum and maximum of its iterations
// in milliseconds (ms/median, ms/min, ms/max); the built-in ns/op is
// suppressed, as setup and cleanup between iterations are not timed.
//
// LECI_BENCH_TRACE=FILE appends the engine's debug log, with millisecond
// time stamps, to FILE: the per-step timings (network, sandbox, container
// create and start) behind a median.
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
	"path/filepath"
	"slices"
	"strings"
	"sync"
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
	"leci/logs"
	"leci/runtime"
	"leci/runtime/containerd"
)

const (
	// benchLongRunner runs until SIGTERM, then exits at once.
	benchLongRunner = `[sh, -c, "trap 'exit 0' TERM; sleep 3600 & wait"]`
	// benchGroups is the group count of the concurrent case.
	benchGroups = 20
	// ctrConflistEnv names the CNI conflist hack/bench.sh wrote for ctr.
	ctrConflistEnv = "LECI_BENCH_CTR_CONFLIST"
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

// (a) A one-container group created, run to its exit and deleted.
func BenchmarkGroupRunToExit(b *testing.B) {
	b.Run("leci", func(b *testing.B) {
		bh := newBenchHost(b)
		var took durations
		for i := 0; i < b.N; i++ {
			req := bh.request(benchRunToExit)
			start := time.Now()
			id := bh.create(req)
			if err := bh.waitPhase(id, api.GroupSucceeded, time.Minute); err != nil {
				b.Fatal(err)
			}
			bh.delete(id)
			took = append(took, time.Since(start))
		}
		took.report(b)
	})
	b.Run("ctr", func(b *testing.B) {
		cs := newCtrSide(b)
		var took durations
		for i := 0; i < b.N; i++ {
			id := fmt.Sprintf("exit-%d", i)
			start := time.Now()
			if err := cs.run("--rm", id, "true"); err != nil {
				b.Fatal(err)
			}
			took = append(took, time.Since(start))
		}
		took.report(b)
	})
}

// (b) One init container and two app containers, from Create to Running.
func BenchmarkGroupInitPlusTwoToRunning(b *testing.B) {
	bh := newBenchHost(b)
	var took durations
	for i := 0; i < b.N; i++ {
		req := bh.request(benchInitPlusTwo)
		start := time.Now()
		id := bh.create(req)
		if err := bh.waitPhase(id, api.GroupRunning, time.Minute); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(start))
		bh.delete(id)
	}
	took.report(b)
}

// twentyFailed counts the groups of BenchmarkTwentyGroupsToRunning/leci
// that did not come up, over all its runs.
var twentyFailed int

// (c) Twenty groups created at once, until every one is Running.
func BenchmarkTwentyGroupsToRunning(b *testing.B) {
	// A group that fails to come up is counted (failed-groups) and logged,
	// not fatal, so that make bench still shows the rest; the iteration it
	// failed in is left out of the timings.
	b.Run("leci", func(b *testing.B) {
		bh := newBenchHost(b)
		var took durations
		for i := 0; i < b.N; i++ {
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
			for _, id := range ids {
				if id != "" {
					wg.Go(func() { bh.delete(id) })
				}
			}
			wg.Wait()
			n := 0
			for _, err := range errs {
				if err != nil {
					if n < 3 {
						b.Logf("run of %d, iteration %d: %v", b.N, i+1, err)
					}
					n++
				}
			}
			twentyFailed += n
			if n == 0 {
				took = append(took, elapsed)
			}
		}
		took.report(b)
		// Over every run of the benchmark, the first (b.N = 1) included.
		b.ReportMetric(float64(twentyFailed), "failed-groups")
	})
	b.Run("ctr", func(b *testing.B) {
		cs := newCtrSide(b)
		var took durations
		for i := 0; i < b.N; i++ {
			errs := make([]error, benchGroups)
			var wg sync.WaitGroup
			start := time.Now()
			for j := range benchGroups {
				wg.Go(func() {
					// Named after the namespace too: the FIFO directory is
					// shared by every namespace.
					errs[j] = cs.run("-d", fmt.Sprintf("%s-run-%d-%d", cs.ns, i, j), ctrLongRunner...)
				})
			}
			wg.Wait()
			took = append(took, time.Since(start))
			cleanErr := cs.removeAll()
			if err := errors.Join(append(errs, cleanErr)...); err != nil {
				b.Fatal(err)
			}
		}
		took.report(b)
	})
}

// (d) Delete of a running group whose one container exits on SIGTERM.
func BenchmarkDeleteRunningGroup(b *testing.B) {
	bh := newBenchHost(b)
	var took durations
	for i := 0; i < b.N; i++ {
		id := bh.create(bh.request(benchReadyRunner))
		if err := bh.waitPhase(id, api.GroupRunning, time.Minute); err != nil {
			b.Fatal(err)
		}
		if err := bh.waitOutput(id, "app", "ready", time.Minute); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		bh.delete(id)
		took = append(took, time.Since(start))
	}
	took.report(b)
}

// durations are the timed iterations of one benchmark run.
type durations []time.Duration

func (d durations) report(b *testing.B) {
	b.ReportMetric(0, "ns/op")
	if len(d) == 0 {
		return
	}
	s := slices.Clone(d)
	slices.Sort(s)
	median := s[len(s)/2]
	if len(s)%2 == 0 {
		median = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(median), "ms/median")
	b.ReportMetric(ms(s[0]), "ms/min")
	b.ReportMetric(ms(s[len(s)-1]), "ms/max")
}

// benchHost is one benchmark's leci: its own root, containerd namespace,
// bridge, subnet and cgroup root, as the tests' harness, for a *testing.B.
type benchHost struct {
	tb         testing.TB
	cfg        host.Config
	h          *host.Host
	cgroupRoot string
}

func newBenchHost(tb testing.TB) *benchHost {
	tb.Helper()
	requireBenchPrereqs(tb)
	// Apart from the tests' 10.214.0.0/16 and ctr's 10.215.0.0/24.
	bh := &benchHost{tb: tb, cfg: ownHostConfig(tb, "bench", "lb", 216)}
	bh.cgroupRoot = bh.cfg.CgroupRoot
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

// ctrSide runs `ctr run --cni` on the package's containerd, in a namespace
// of its own holding the same test image.
type ctrSide struct {
	tb   testing.TB
	ctr  string
	ns   string
	conn *containerd.Conn
	cni  *libcni.CNIConfig
	list *libcni.NetworkConfigList
}

func newCtrSide(tb testing.TB) *ctrSide {
	tb.Helper()
	requireBenchPrereqs(tb)
	if testRuntime != host.RuntimeContainerd {
		tb.Skipf("ctr is the containerd reference, measured when %s=%s", runtimeEnv, host.RuntimeContainerd)
	}
	conflist := os.Getenv(ctrConflistEnv)
	if conflist == "" {
		tb.Skipf("the ctr side needs the CNI config hack/bench.sh writes to /etc/cni/net.d (%s unset)", ctrConflistEnv)
	}
	list, err := libcni.ConfListFromFile(conflist)
	if err != nil {
		tb.Fatal(err)
	}
	cs := &ctrSide{
		tb:   tb,
		ctr:  testutil.RequireBinary(tb, "ctr"),
		ns:   fmt.Sprintf("bench-ctr-%x", rand.IntN(1<<20)),
		list: list,
		cni: libcni.NewCNIConfigWithCacheDir([]string{"/opt/cni/bin", "/usr/lib/cni"}, ctrCacheDir, &invoke.DefaultExec{
			RawExec:       &invoke.RawExec{}, // a plugin's error comes back in its result
			PluginDecoder: version.PluginDecoder{},
		}),
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
	if err := cs.run("--rm", "warm-up", "true"); err != nil {
		tb.Fatal(err)
	}
	return cs
}

// run runs `ctr run --cni <flag> IMAGE id args...` to its end (with --rm)
// or until the task has started (with -d).
func (cs *ctrSide) run(flag, id string, args ...string) error {
	cmd := exec.Command(cs.ctr, append([]string{"--address", containerdAddr, "-n", cs.ns,
		"run", flag, "--cni", testImageRef, id}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ctr run %s %s: %v: %s", flag, id, err, bytes.TrimSpace(out))
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
