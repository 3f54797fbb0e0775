//go:build integration

// Runtime benchmarks: real groups on the package's containerd, next to
// `ctr run --cni` of the same image on the same containerd. hack/bench.sh
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
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/version"
	"github.com/vishvananda/netlink"

	"leci/api"
	"leci/host"
	"leci/internal/testutil"
	"leci/runtime"
	"leci/runtime/containerd"
)

const (
	// benchLongRunner runs until SIGTERM and then exits at once, so that
	// deleting its group costs no grace period.
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
	benchInitPlusTwo = `
ContainerGroupName: bench-init-two
InitContainer:
  - {Name: init, Image: ` + image + `, Command: ["true"]}
Container:
  - {Name: app1, Image: ` + image + `, Command: ` + benchLongRunner + `}
  - {Name: app2, Image: ` + image + `, Command: ` + benchLongRunner + `}
`
	benchOneRunner = `
ContainerGroupName: bench-runner
Container:
  - {Name: app, Image: ` + image + `, Command: ` + benchLongRunner + `}
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

// (c) Twenty groups created at once, until every one is Running.
func BenchmarkTwentyGroupsToRunning(b *testing.B) {
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
			took = append(took, time.Since(start))
			for _, id := range ids {
				if id != "" {
					wg.Go(func() { bh.delete(id) })
				}
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
		}
		took.report(b)
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
					errs[j] = cs.run("-d", fmt.Sprintf("run-%d-%d", i, j), ctrLongRunner...)
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
		id := bh.create(bh.request(benchOneRunner))
		if err := bh.waitPhase(id, api.GroupRunning, time.Minute); err != nil {
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
	b.ReportMetric(0, "ns/op")
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
	n := rand.IntN(1 << 20)
	bh := &benchHost{tb: tb, cgroupRoot: fmt.Sprintf("/leci-bench-%x", n)}
	bh.cfg = host.Config{
		Root:       testutil.TempDir(tb, "leci-bench"),
		Containerd: containerdAddr,
		Namespace:  fmt.Sprintf("bench-%x", n),
		Bridge:     fmt.Sprintf("lb%x", n),
		// Apart from the tests' 10.214.0.0/16 and ctr's 10.215.0.0/24.
		Subnet:     fmt.Sprintf("10.216.%d.0/24", 1+n%250),
		CNIBinDirs: []string{"/opt/cni/bin", "/usr/lib/cni"},
		LeciBinary: leciBinary,
		CgroupRoot: bh.cgroupRoot,
		Backoff:    fastBackoff,
	}
	ctx := context.Background()
	h, err := host.Open(ctx, bh.cfg, benchLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	bh.h = h
	tb.Cleanup(bh.cleanup)
	if _, err := h.Conn.Import(ctx, bytes.NewReader(testImage.Bytes())); err != nil {
		tb.Fatal(err)
	}
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
	testutil.RequireRoot(tb)
	for _, bin := range []string{"containerd", "runc"} {
		testutil.RequireBinary(tb, bin)
	}
	if errNoPrereq != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal(errNoPrereq)
		}
		tb.Skip(errNoPrereq)
	}
}

var traceMu sync.Mutex // benchmarks run one at a time; the file is shared

// benchLogger writes warnings and errors to stderr and, with
// LECI_BENCH_TRACE set, everything down to debug to that file.
func benchLogger(tb testing.TB) *slog.Logger {
	stderr := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})
	path := os.Getenv("LECI_BENCH_TRACE")
	if path == "" {
		return slog.New(stderr)
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	fmt.Fprintf(f, "=== %s\n", tb.Name())
	return slog.New(slog.NewMultiHandler(stderr, slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})))
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

// waitPhase watches a group until it is in phase; it is safe to call from
// any goroutine.
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
	}
	return fmt.Errorf("group %s did not reach %s in %s; last: %s", id, phase, timeout, describe(last))
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
	// The tests' harness removes the namespace, image and cgroup root; t is
	// not used there.
	(&harness{cfg: bh.cfg, h: bh.h, cgroupRoot: bh.cgroupRoot}).removeNamespace()
	bh.h.Close()
	if link, err := netlink.LinkByName(bh.cfg.Bridge); err == nil {
		netlink.LinkDel(link)
	}
	// runc's state directory of the namespace, empty once its containers
	// are gone.
	os.Remove(filepath.Join("/run/containerd/runc", bh.cfg.Namespace))
}

// checkNothingLeft is the harness's assertNothingLeft for a testing.TB.
func (bh *benchHost) checkNothingLeft() {
	tb := bh.tb
	ctx := bh.h.Conn.WithNamespace(context.Background())
	cl := bh.h.Conn.Client()
	if cs, err := cl.Containers(ctx); err != nil || len(cs) != 0 {
		tb.Errorf("containers left: %d (%v)", len(cs), err)
	}
	n := 0
	cl.SnapshotService("overlayfs").Walk(ctx, func(context.Context, snapshots.Info) error { n++; return nil })
	if n > 1 {
		tb.Errorf("%d snapshots left (want only the image's layer)", n)
	}
	if mounts := mountsUnder(bh.cfg.Root); len(mounts) != 0 {
		tb.Errorf("mounts left under the root: %v", mounts)
	}
	if entries, _ := os.ReadDir(filepath.Join(bh.cfg.Root, "netns")); len(entries) != 0 {
		tb.Errorf("network namespaces left: %d", len(entries))
	}
	if br, err := netlink.LinkByName(bh.cfg.Bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				tb.Errorf("veth left on the bridge: %s", l.Attrs().Name)
			}
		}
	}
	filepath.WalkDir(filepath.Join(bh.cfg.Root, "cni", "ipam"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), "last_reserved_ip") && d.Name() != "lock" {
			tb.Errorf("IP allocation left: %s", p)
		}
		return nil
	})
	for _, ctl := range []string{"memory", "cpu", "pids", ""} {
		entries, err := os.ReadDir(filepath.Join("/sys/fs/cgroup", ctl, bh.cgroupRoot))
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				tb.Errorf("cgroup left: %s/%s", filepath.Join("/sys/fs/cgroup", ctl, bh.cgroupRoot), e.Name())
			}
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(bh.cfg.Root, "groups")); len(entries) != 0 {
		tb.Errorf("group directories left: %d", len(entries))
	}
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
			RawExec:       &invoke.RawExec{Stderr: os.Stderr},
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
	ctx := cs.conn.WithNamespace(context.Background())
	cl := cs.conn.Client()
	imgs, _ := cl.ImageService().List(ctx)
	for _, img := range imgs {
		cl.ImageService().Delete(ctx, img.Name, images_syncDelete)
	}
	sn := cl.SnapshotService("overlayfs")
	sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		sn.Remove(ctx, info.Name)
		return nil
	})
	if err := cl.NamespaceService().Delete(context.Background(), cs.ns); err != nil {
		cs.tb.Errorf("remove namespace %s: %v", cs.ns, err)
	}
	cs.conn.Close()
	// ctr's default cgroup is /<namespace>/<id>; runc removes the
	// container's, the namespace's stays.
	for _, ctl := range []string{"memory", "cpu", "cpuacct", "pids", "cpuset", "blkio", "devices", "freezer", "hugetlb", "net_cls", "net_prio", "perf_event", "rdma", "misc", "systemd", ""} {
		os.Remove(filepath.Join("/sys/fs/cgroup", ctl, cs.ns))
	}
	os.Remove(filepath.Join("/run/containerd/runc", cs.ns))
}
