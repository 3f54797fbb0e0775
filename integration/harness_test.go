//go:build integration

// Package integration drives real container groups: a real containerd (or
// Docker Engine), runc, the CNI plugins and the leci binary, as root. Each
// test gets its own leci root, containerd namespace, bridge, subnet and
// cgroup root, and checks when it ends that its groups left nothing behind.
//
// LECI_TEST_RUNTIME picks the backend the suite runs on: "containerd" (the
// default; one leci-owned containerd serves every test, each in its own
// namespace) or "docker" (TestMain starts one dockerd of its own with
// testutil.StartDockerd; each test's groups are told apart by their owner
// label, the test's root). `make integration` runs the suite once for each.
// The few tests about one runtime's own mechanics start with
// `if !runsOn(t, host.RuntimeContainerd) { return }`.
package integration

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/vishvananda/netlink"

	"leci/api"
	"leci/host"
	"leci/internal/mountinfo"
	"leci/internal/testimage"
	"leci/internal/testutil"
	"leci/logs"
	"leci/pod"
	"leci/runtime"
	"leci/runtime/containerd"
)

// runtimeEnv names the environment variable that picks the backend.
const runtimeEnv = "LECI_TEST_RUNTIME"

var (
	// leciBinary, carrying helperBinary (leci-helper), is built once for
	// the package; groups the tests run in-process use helperBinary as log
	// writer and sandbox process, and leciBinary's daemon writes out its own.
	leciBinary   string
	helperBinary string
	// testRuntime is the backend the suite runs on: host.RuntimeContainerd
	// or host.RuntimeDocker, from LECI_TEST_RUNTIME.
	testRuntime    string
	containerdRoot string // one containerd serves every test, each in its own namespace
	containerdAddr string
	// dockerHost is the address of the suite's own dockerd, with Docker.
	dockerHost  string
	fastBackoff = runtime.Backoff{Base: 100 * time.Millisecond, Max: 400 * time.Millisecond, ResetAfter: time.Minute}
	errNoPrereq error
	// testImage holds the busybox image under two names: the examples' and
	// the tests' own, whose registry is a closed port on loopback, so that
	// a pull that should not happen fails there and sends nothing out.
	testImage       bytes.Buffer
	testImageRef, _ = containerd.NormalizeRef(image)
	exampleImage    bytes.Buffer
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) (code int) {
	switch testRuntime = os.Getenv(runtimeEnv); testRuntime {
	case "":
		testRuntime = host.RuntimeContainerd
	case host.RuntimeContainerd, host.RuntimeDocker:
	default:
		fmt.Fprintf(os.Stderr, "%s=%q: want %s or %s\n", runtimeEnv, testRuntime, host.RuntimeContainerd, host.RuntimeDocker)
		return 2
	}
	fmt.Fprintf(os.Stderr, "integration: runtime %s (%s)\n", testRuntime, runtimeEnv)
	if os.Geteuid() != 0 {
		errNoPrereq = fmt.Errorf("integration tests need root")
		return m.Run()
	}
	tmp, err := os.MkdirTemp("", "leci-it-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(tmp)
	// A race-built leci (LECI_RACE=1) reports each race it finds into
	// raceDir, the daemons killed with SIGKILL included; any report
	// fails the run. The race runtime reports a race as the access
	// happens; what it does at exit by default is sleep a second
	// (atexit_sleep_ms=1000), which every leci command the tests run
	// paid, a CLI call taking 1.1 s instead of 0.1 s: seven of the
	// Docker pass's seventeen minutes.
	raceDir := filepath.Join(tmp, "race")
	if err := os.Mkdir(raceDir, 0o755); err != nil {
		panic(err)
	}
	os.Setenv("GORACE", "log_path="+filepath.Join(raceDir, "race")+" atexit_sleep_ms=0")
	defer func() {
		reports, err := testutil.RaceReports(raceDir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "race reports: %v\n", err)
			code = 1
		}
		for _, r := range reports {
			fmt.Fprintf(os.Stderr, "DATA RACE in a leci process: %s\n", r)
			code = 1
		}
	}()
	build, err := testutil.BuildLeci(tmp)
	if err != nil {
		errNoPrereq = fmt.Errorf("build leci: %w", err)
		return m.Run()
	}
	leciBinary, helperBinary = build.Leci, build.Helper
	// Docker 20.10 loads only docker-archives; containerd takes both.
	buildImage := testimage.Build
	if testRuntime == host.RuntimeDocker {
		buildImage = testimage.BuildArchive
	}
	if err := buildImage(&testImage, testImageRef); err != nil {
		errNoPrereq = fmt.Errorf("build test image: %w", err)
		return m.Run()
	}
	exampleRef, _ := containerd.NormalizeRef(exampleImageRef)
	if err := buildImage(&exampleImage, exampleRef); err != nil {
		errNoPrereq = fmt.Errorf("build example image: %w", err)
		return m.Run()
	}
	ctx := context.Background()
	if testRuntime == host.RuntimeDocker {
		// Its own short directory: the socket path must fit a sockaddr.
		dir, err := os.MkdirTemp("", "leci-itd-")
		if err != nil {
			panic(err)
		}
		defer func() {
			testutil.UnmountAll(dir)
			os.RemoveAll(dir)
		}()
		d, err := testutil.StartDockerd(ctx, dir)
		if err != nil {
			errNoPrereq = fmt.Errorf("dockerd: %w", err)
			return m.Run()
		}
		defer func() {
			if err := d.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "stop dockerd: %v (log: %s)\n", err, d.LogFile)
			}
		}()
		dockerHost = d.Host
		return m.Run()
	}
	containerdRoot = filepath.Join(tmp, "ctrd")
	log := slog.New(slog.DiscardHandler)
	conn, err := containerd.Connect(ctx, containerd.Config{Address: containerd.AutoAddress, Namespace: "leci-it", Root: containerdRoot}, log)
	if err != nil {
		errNoPrereq = fmt.Errorf("containerd: %w", err)
		return m.Run()
	}
	containerdAddr = conn.Address()
	conn.Close()
	defer containerd.StopOwn(ctx, containerdRoot, log)
	return m.Run()
}

// harness is one test's leci.
type harness struct {
	t          *testing.T
	cfg        host.Config
	h          *host.Host
	cgroupRoot string
}

// newHarness starts the test's leci; configure changes its configuration
// first (to allow privileged containers, say).
func newHarness(t *testing.T, configure ...func(*host.Config)) *harness {
	t.Helper()
	requirePrereqs(t)
	hr := &harness{t: t}
	hr.cfg = ownHostConfig(t, "it", "li", 214)
	for _, f := range configure {
		f(&hr.cfg)
	}
	hr.cgroupRoot = hr.cfg.CgroupRoot
	ctx := context.Background()
	h, err := host.Open(ctx, hr.cfg, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if err != nil {
		t.Fatal(err)
	}
	hr.h = h
	importTestImages(t, h)
	t.Cleanup(func() {
		for _, st := range h.Engine.List() {
			h.Engine.Delete(context.Background(), st.ID)
		}
		hr.assertNothingLeft()
		hr.removeNamespace()
		h.Close()
		if link, err := netlink.LinkByName(hr.cfg.Bridge); err == nil {
			netlink.LinkDel(link)
		}
	})
	return hr
}

// requirePrereqs skips the test, or fails it in CI, unless the suite's
// runtime could be had.
func requirePrereqs(tb testing.TB) {
	tb.Helper()
	testutil.RequireRoot(tb)
	bins := []string{"containerd", "runc"}
	if testRuntime == host.RuntimeDocker {
		bins = append(bins, "dockerd")
	}
	for _, bin := range bins {
		testutil.RequireBinary(tb, bin)
	}
	if errNoPrereq != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatal(errNoPrereq)
		}
		tb.Skip(errNoPrereq)
	}
}

// runsOn tells whether the suite runs on runtime; when it does not, it logs
// that the test does not apply there. A test about one runtime's own
// mechanics (containerd's snapshots, leci's sandbox rootfs, a restarted
// containerd) starts with
//
//	if !runsOn(t, host.RuntimeContainerd) {
//		return
//	}
//
// so that it passes, saying why, on the other runtime: CI allows no skip.
func runsOn(tb testing.TB, runtime string) bool {
	tb.Helper()
	if testRuntime != runtime {
		tb.Logf("not applicable: this test is about the %s runtime; the suite runs on %s (%s)", runtime, testRuntime, runtimeEnv)
		return false
	}
	return true
}

// importTestImages loads the test images into the test's runtime: into the
// test's own containerd namespace, or into the suite's dockerd, where they
// stay from the first test on and a load again only re-tags them.
func importTestImages(tb testing.TB, h *host.Host) {
	tb.Helper()
	for _, img := range []*bytes.Buffer{&testImage, &exampleImage} {
		if _, err := h.ImportImage(context.Background(), bytes.NewReader(img.Bytes())); err != nil {
			tb.Fatal(err)
		}
	}
}

// globalFlags are the leci command line's global flags for a host
// configuration: the same root, runtime, namespace, network and cgroup root.
func globalFlags(cfg host.Config) []string {
	flags := []string{
		"--root", cfg.Root, "--runtime", cfg.Runtime, "--containerd", cfg.Containerd, "--namespace", cfg.Namespace,
		"--bridge", cfg.Bridge, "--subnet", cfg.Subnet, "--cgroup-root", cfg.CgroupRoot,
	}
	if cfg.DockerHost != "" {
		flags = append(flags, "--docker-host", cfg.DockerHost)
	}
	if cfg.PublishPorts {
		flags = append(flags, "--publish-ports")
	}
	return flags
}

// ownHostConfig is a leci of its own on the package's runtime: its own
// root, namespace, bridge, cgroup root and a /24 of 10.<octet>.0.0/16.
func ownHostConfig(tb testing.TB, kind, bridgePrefix string, octet int) host.Config {
	n := rand.IntN(1 << 20)
	return host.Config{
		Root:         testutil.TempDir(tb, "leci-"+kind),
		Runtime:      testRuntime,
		DockerHost:   dockerHost,
		Containerd:   containerdAddr,
		Namespace:    fmt.Sprintf("%s-%x", kind, n),
		Bridge:       fmt.Sprintf("%s%x", bridgePrefix, n),
		Subnet:       fmt.Sprintf("10.%d.%d.0/24", octet, 1+n%250),
		CNIBinDirs:   []string{"/opt/cni/bin", "/usr/lib/cni"},
		LeciBinary:   leciBinary,
		HelperBinary: helperBinary,
		CgroupRoot:   fmt.Sprintf("/leci-%s-%x", kind, n),
		Backoff:      fastBackoff,
	}
}

// allowPrivileged is newHarness's option for tests whose containers are
// privileged.
func allowPrivileged(cfg *host.Config) { cfg.AllowPrivileged = true }

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// create starts a group from a YAML request.
func (hr *harness) create(yaml string) string {
	hr.t.Helper()
	var req api.CreateContainerGroupRequest
	if err := api.Decode([]byte(yaml), api.FormatYAML, &req); err != nil {
		hr.t.Fatal(err)
	}
	if err := req.Normalize(); err != nil {
		hr.t.Fatal(err)
	}
	id, err := hr.h.Engine.Create(context.Background(), &req)
	if err != nil {
		hr.t.Fatal(err)
	}
	return id
}

// waitFor watches a group until cond holds, or fails after timeout.
func (hr *harness) waitFor(id string, timeout time.Duration, what string, cond func(runtime.GroupStatus) bool) runtime.GroupStatus {
	hr.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ch, err := hr.h.Engine.Watch(ctx, id)
	if err != nil {
		hr.t.Fatal(err)
	}
	var last runtime.GroupStatus
	for st := range ch {
		last = st
		if cond(st) {
			return st
		}
	}
	hr.t.Fatalf("group did not reach %s in %s; last: %s", what, timeout, describe(last))
	return last
}

func (hr *harness) waitPhase(id string, phase api.GroupStatus) runtime.GroupStatus {
	hr.t.Helper()
	return hr.waitFor(id, 60*time.Second, string(phase), func(st runtime.GroupStatus) bool { return st.Phase == phase })
}

func describe(st runtime.GroupStatus) string {
	var b strings.Builder
	fmt.Fprintf(&b, "phase %s %s", st.Phase, st.Message)
	for _, c := range append(st.InitContainers, st.Containers...) {
		fmt.Fprintf(&b, "; %s: %s %s %s exit %d restarts %d", c.Name, c.Current.State, c.Current.Reason, c.Current.Message, c.Current.ExitCode, c.RestartCount)
	}
	return b.String()
}

// logOf is what a container's run wrote, once its writer is done.
func (hr *harness) logOf(id, container string, attempt int) string {
	hr.t.Helper()
	path := runtime.LogPath(hr.cfg.Root, id, container, attempt)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var b strings.Builder
	err := logs.Follow(ctx, path, logs.FollowOptions{UntilWriterDone: true}, func(l logs.Line) error {
		b.WriteString(l.Text + "\n")
		return nil
	})
	if err != nil {
		hr.t.Fatalf("log of %s: %v", container, err)
	}
	return b.String()
}

// logSoFar is what a running container has written until now.
func (hr *harness) logSoFar(id, container string, attempt int) string {
	hr.t.Helper()
	lines, err := logs.Read(runtime.LogPath(hr.cfg.Root, id, container, attempt), logs.ReadOptions{})
	if err != nil {
		hr.t.Fatalf("log of %s: %v", container, err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func (hr *harness) delete(id string) {
	hr.t.Helper()
	if err := hr.h.Engine.Delete(context.Background(), id); err != nil {
		hr.t.Errorf("delete %s: %v", id, err)
	}
}

// assertNothingLeft checks that the test's groups left no container, task,
// snapshot, mount, network namespace, veth, address or cgroup behind.
func (hr *harness) assertNothingLeft() {
	assertNothingLeft(hr.t, hr.h, hr.cfg, hr.cgroupRoot)
}

// assertNothingLeft is the check of a harness, for tests and benchmarks.
func assertNothingLeft(t testing.TB, h *host.Host, cfg host.Config, cgroupRoot string) {
	switch {
	case h.Conn != nil:
		assertContainerdEmpty(t, h)
	case h.Docker != nil:
		assertDockerEmpty(t, h, cfg)
	}
	if mounts := mountsUnder(cfg.Root); len(mounts) != 0 {
		t.Errorf("mounts left under the root: %v", mounts)
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.Root, "netns")); len(entries) != 0 {
		t.Errorf("network namespaces left: %d", len(entries))
	}
	if br, err := netlink.LinkByName(cfg.Bridge); err == nil {
		links, _ := netlink.LinkList()
		for _, l := range links {
			if l.Attrs().MasterIndex == br.Attrs().Index {
				t.Errorf("veth left on the bridge: %s", l.Attrs().Name)
			}
		}
	}
	for _, p := range ipAllocations(t, cfg) {
		t.Errorf("IP allocation left: %s", p)
	}
	for _, ctl := range []string{"memory", "cpu", "pids", ""} {
		dir := filepath.Join("/sys/fs/cgroup", ctl, cgroupRoot)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.IsDir() {
				t.Errorf("cgroup left: %s/%s", dir, e.Name())
			}
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.Root, "groups")); len(entries) != 0 {
		t.Errorf("group directories left: %d", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.Root, "foreground")); len(entries) != 0 {
		t.Errorf("records of leci runs left: %d", len(entries))
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.Root, "stdio")); len(entries) != 0 {
		t.Errorf("stdio FIFOs of containers left: %d", len(entries))
	}
}

// assertContainerdEmpty checks that the test's containerd namespace holds
// no container and no snapshot beyond the image's layer.
func assertContainerdEmpty(t testing.TB, h *host.Host) {
	ctx := h.Conn.WithNamespace(context.Background())
	cl := h.Conn.Client()
	if cs, err := cl.Containers(ctx); err != nil || len(cs) != 0 {
		t.Errorf("containers left: %d (%v)", len(cs), err)
	}
	n := 0
	cl.SnapshotService("overlayfs").Walk(ctx, func(context.Context, snapshots.Info) error { n++; return nil })
	// The image's own layer stays; what a container adds must not.
	if n > 1 {
		t.Errorf("%d snapshots left (want only the image's layer)", n)
	}
}

// dockerOwnerLabel is the label runtime/docker gives every container it
// makes, with leci's root as its value: the suite's tests share one dockerd.
const dockerOwnerLabel = "leci.owner"

// assertDockerEmpty checks that the dockerd holds no container, running or
// not, of the test's leci (its root) with leci's group label. Docker
// removes a container's writable layer with the container, so there are no
// snapshots to count.
func assertDockerEmpty(t testing.TB, h *host.Host, cfg host.Config) {
	cs, err := h.Docker.Client().ContainerList(context.Background(), container.ListOptions{
		All:     true,
		Filters: filters.NewArgs(filters.Arg("label", dockerOwnerLabel+"="+cfg.Root), filters.Arg("label", pod.LabelGroupID)),
	})
	if err != nil {
		t.Errorf("list docker containers: %v", err)
		return
	}
	for _, c := range cs {
		t.Errorf("docker container left: %s (%s, group %s)", strings.Join(c.Names, ","), c.State, c.Labels[pod.LabelGroupID])
	}
}

// removeNamespace removes the test's image and containerd namespace; with
// Docker, the images stay in the suite's dockerd for the next tests.
func (hr *harness) removeNamespace() {
	if hr.h.Conn != nil {
		if err := removeNamespace(hr.h.Conn); err != nil {
			hr.t.Logf("remove namespace %s: %v", hr.cfg.Namespace, err)
		}
	}
	removeCgroupDirs(hr.cgroupRoot)
}

// mountsUnder lists the mounts below dir (dir itself excluded).
func mountsUnder(dir string) []string {
	points, _ := mountinfo.Under(dir)
	var out []string
	for _, p := range points {
		if p != dir {
			out = append(out, p)
		}
	}
	return out
}
