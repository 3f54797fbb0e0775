//go:build integration

package containerd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"

	"leci/internal/testimage"
	"leci/internal/testutil"
	"leci/logs"
	"leci/pod"
)

var (
	leciBinOnce sync.Once
	leciBinDir  string
	leciBuild   testutil.LeciBuild
	leciBinErr  error
)

// TestMain removes the binaries the backend tests build, once, for all.
func TestMain(m *testing.M) {
	code := m.Run()
	if leciBinDir != "" {
		os.RemoveAll(leciBinDir)
	}
	os.Exit(code)
}

// sandboxBinary builds leci-helper (and leci carrying it) from this module,
// once per test run, and returns leci-helper, the sandbox's /leci as leci
// places it.
func sandboxBinary(t *testing.T) string {
	t.Helper()
	leciBinOnce.Do(func() {
		if leciBinDir, leciBinErr = os.MkdirTemp("", "leci-bin-"); leciBinErr != nil {
			return
		}
		leciBuild, leciBinErr = testutil.BuildLeci(leciBinDir)
	})
	if leciBinErr != nil {
		t.Fatal(leciBinErr)
	}
	return leciBuild.Helper
}

// backendEnv is one test's backend: its own containerd namespace on its
// own containerd, the test image, a network namespace, a group ID.
type backendEnv struct {
	conn    *Conn
	b       *Backend
	netns   string // path of the pinned network namespace
	root    string // the backend's state directory
	group   string
	logDir  string
	sbArgs  []string
	ctx     context.Context
	removed bool
}

func newBackendEnv(t *testing.T) *backendEnv {
	t.Helper()
	return newBackendEnvWith(t, nil)
}

// newBackendEnvWith is newBackendEnv with the backend's options changed by
// change (when not nil) before the backend is made.
func newBackendEnvWith(t *testing.T, change func(*BackendOptions)) *backendEnv {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "ip")
	conn := newTestConn(t)
	ctx := context.Background()

	f, err := os.Open(buildTestImage(t, testimage.DefaultRef))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := conn.Import(ctx, f); err != nil {
		t.Fatalf("import test image: %v", err)
	}

	leci := sandboxBinary(t)
	args := []string{"/leci", "pause"}

	suffix := randomSuffix(t)
	e := &backendEnv{
		conn:   conn,
		root:   t.TempDir(),
		group:  "eci-test-" + suffix,
		logDir: t.TempDir(),
		sbArgs: args,
		ctx:    ctx,
	}
	opts := BackendOptions{
		Root: e.root,
		// What leci runs (host.Open): its own log writer.
		LogIO:              func(path string) cio.Creator { return cio.BinaryIO(leci, logs.BinaryArgs(path)) },
		SandboxArgs:        args,
		SandboxRootfsFiles: map[string]string{"/leci": leci, "/busybox": testimage.BusyboxPath},
	}
	if change != nil {
		change(&opts)
	}
	e.b, err = NewBackend(conn, opts, testLogger(t))
	if err != nil {
		t.Fatalf("new backend: %v", err)
	}

	nsName := "leci-test-" + suffix
	if out, err := exec.Command("ip", "netns", "add", nsName).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	e.netns = "/run/netns/" + nsName
	// Runs before the own containerd is stopped (registered earlier).
	t.Cleanup(func() {
		if !e.removed {
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := e.b.RemoveSandbox(cctx, e.group); err != nil {
				t.Errorf("cleanup: remove sandbox: %v", err)
			}
		}
		if out, err := exec.Command("ip", "netns", "delete", nsName).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete: %v\n%s", err, out)
		}
	})
	return e
}

func (e *backendEnv) sandboxConfig() pod.SandboxConfig {
	return pod.SandboxConfig{GroupID: e.group, Hostname: "host-" + e.group[len(e.group)-8:], NetNSPath: e.netns}
}

func (e *backendEnv) startSandbox(t *testing.T, cfg pod.SandboxConfig) pod.Sandbox {
	t.Helper()
	began := time.Now()
	sb, err := e.b.StartSandbox(e.ctx, cfg)
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Logf("sandbox start: %v (pid %d)", time.Since(began).Round(time.Millisecond), sb.PID)
	return sb
}

// containerConfig is a container of the test's group running shell.
func (e *backendEnv) containerConfig(name, shell string) pod.ContainerConfig {
	id := e.group + "-" + name
	return pod.ContainerConfig{
		ID:      id,
		GroupID: e.group,
		Name:    name,
		Kind:    pod.KindApp,
		Image:   testimage.DefaultRef,
		Command: []string{"sh", "-c", shell},
		LogPath: filepath.Join(e.logDir, id+".log"),
	}
}

// start creates and starts cfg.
func (e *backendEnv) start(t *testing.T, sb pod.Sandbox, cfg pod.ContainerConfig) <-chan pod.Exit {
	t.Helper()
	if err := e.b.CreateContainer(e.ctx, sb, cfg); err != nil {
		t.Fatalf("create %s: %v", cfg.Name, err)
	}
	exited, err := e.b.StartContainer(e.ctx, cfg.ID)
	if err != nil {
		t.Fatalf("start %s: %v", cfg.Name, err)
	}
	return exited
}

// run creates, starts and awaits cfg, then removes it; it returns the exit
// and what the container wrote.
func (e *backendEnv) run(t *testing.T, sb pod.Sandbox, cfg pod.ContainerConfig) (pod.Exit, string) {
	t.Helper()
	began := time.Now()
	exit := awaitExit(t, e.start(t, sb, cfg), 30*time.Second)
	t.Logf("container %s create→start→exit: %v", cfg.Name, time.Since(began).Round(time.Millisecond))
	// The exit read, the backend removes the container without asking
	// containerd for its record or its task's state again: it holds them.
	if _, ok := e.b.stopped.get(cfg.ID); !ok {
		t.Errorf("%s: exit read, but the backend does not hold the container as stopped", cfg.Name)
	}
	// Read once the task is deleted: its output is then all written.
	if err := e.b.RemoveContainer(e.ctx, cfg.ID); err != nil {
		t.Errorf("remove %s: %v", cfg.Name, err)
	}
	if _, ok := e.b.stopped.get(cfg.ID); ok {
		t.Errorf("%s: still held as stopped after its removal", cfg.Name)
	}
	ctx := e.conn.WithNamespace(e.ctx)
	if _, err := e.conn.Client().LoadContainer(ctx, cfg.ID); !errdefs.IsNotFound(err) {
		t.Errorf("%s: container after its removal: %v, want NotFound", cfg.Name, err)
	}
	if got, err := taskProcess(ctx, e.conn.Client(), cfg.ID); got != nil || err != nil {
		t.Errorf("%s: task after its removal: %v, %v; want none", cfg.Name, got, err)
	}
	// The create's lease was released by the create (which the removal
	// then did not look for), and is not held in memory any more.
	if ls, err := e.conn.Client().LeasesService().List(ctx, fmt.Sprintf("labels.%q==%q", labelCreating, cfg.ID)); err != nil || len(ls) != 0 {
		t.Errorf("%s: leases of its create after its removal: %v, %v; want none", cfg.Name, ls, err)
	}
	if _, ok := e.b.leaseReleases.Load(cfg.ID); ok {
		t.Errorf("%s: its lease release still followed after its removal", cfg.Name)
	}
	return exit, logText(t, cfg.LogPath)
}

// logText is the text of the log at path, as leci logs shows it: its lines,
// both streams, in the order they were written.
func logText(t *testing.T, path string) string {
	t.Helper()
	lines, err := logs.Read(path, logs.ReadOptions{})
	if err != nil {
		t.Errorf("read log: %v", err)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func awaitExit(t *testing.T, exited <-chan pod.Exit, timeout time.Duration) pod.Exit {
	t.Helper()
	select {
	case exit, ok := <-exited:
		if !ok {
			t.Fatal("exit channel closed without an exit")
		}
		if _, ok := <-exited; ok {
			t.Error("exit channel yielded twice")
		}
		return exit
	case <-time.After(timeout):
		t.Fatalf("no exit within %v", timeout)
	}
	return pod.Exit{}
}

// nsInode is the inode of a namespace file (an nsfs mount or /proc link
// target), what readlink /proc/self/ns/x shows in brackets.
func nsInode(t *testing.T, p string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	return st.Ino
}

// shimPIDs lists the runc shims serving the containerd namespace ns.
func shimPIDs(t *testing.T, ns string) []int {
	t.Helper()
	procs, err := testutil.Processes()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range procs {
		args := p.Args()
		if filepath.Base(args[0]) != "containerd-shim-runc-v2" || isZombie(p.PID) {
			continue
		}
		for i, a := range args {
			if a == "-namespace" && i+1 < len(args) && args[i+1] == ns {
				pids = append(pids, p.PID)
			}
		}
	}
	return pids
}

// assertGroupGone checks that nothing of the group is left: containers,
// tasks, snapshots beyond the image's one layer, cgroups in any hierarchy.
func (e *backendEnv) assertGroupGone(t *testing.T) {
	t.Helper()
	ctx := e.conn.WithNamespace(e.ctx)
	cl := e.conn.Client()
	if ctrs, err := cl.Containers(ctx); err != nil || len(ctrs) != 0 {
		t.Errorf("containers left: %d (%v)", len(ctrs), err)
	}
	if list, err := e.b.ListContainers(e.ctx, ""); err != nil || len(list) != 0 {
		t.Errorf("ListContainers after removal: %+v (%v)", list, err)
	}
	err := cl.SnapshotService(snapshotter).Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind != snapshots.KindCommitted {
			t.Errorf("snapshot left: %s (%v)", info.Name, info.Kind)
		}
		return nil
	})
	if err != nil {
		t.Errorf("walk snapshots: %v", err)
	}
	matches, _ := filepath.Glob(filepath.Join("/sys/fs/cgroup/*", DefaultCgroupRoot, e.group))
	if len(matches) != 0 {
		t.Errorf("cgroups left: %q", matches)
	}
	resp, err := cl.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil || len(resp.GetTasks()) != 0 {
		t.Errorf("tasks left: %v (%v)", resp.GetTasks(), err)
	}
}
