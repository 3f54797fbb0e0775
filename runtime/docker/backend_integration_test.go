//go:build integration

package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"

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

// TestMain removes the binaries the tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	if leciBinDir != "" {
		os.RemoveAll(leciBinDir)
	}
	os.Exit(code)
}

// sandboxBinary builds leci-helper (and leci carrying it) from this module
// once, and returns leci-helper: the sandbox image holds it, as leci makes
// it.
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

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// env is one test's backend on a dockerd of its own, with the test image
// loaded and a group ID.
type env struct {
	b       *Backend
	d       *testutil.Dockerd
	root    string
	groupID string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "busybox")
	d := testutil.RequireDockerd(t)
	root := testutil.TempDir(t, "leci-docker-root-")
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cgroupRoot := "/leci-dockertest-" + filepath.Base(root)
	b, err := New(ctx, Options{Host: d.Host, Root: root, LeciBinary: sandboxBinary(t), CgroupRoot: cgroupRoot}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.cg.RemoveTree(cgroupRoot)
		b.Close()
	})
	var archive bytes.Buffer
	if err := testimage.BuildArchive(&archive, testimage.DefaultRef); err != nil {
		t.Fatal(err)
	}
	names, err := b.Import(ctx, &archive)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != 1 || names[0] != testimage.DefaultRef {
		t.Fatalf("Import loaded %q, want [%s]", names, testimage.DefaultRef)
	}
	return &env{b: b, d: d, root: root, groupID: "g" + filepath.Base(root)[len("leci-docker-root-"):]}
}

func (e *env) startSandbox(t *testing.T, res pod.Resources) pod.Sandbox {
	t.Helper()
	ctx := context.Background()
	sb, err := e.b.StartSandbox(ctx, pod.SandboxConfig{GroupID: e.groupID, Hostname: "grouphost", SharePID: true, Resources: res})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.b.RemoveSandbox(context.Background(), e.groupID); err != nil {
			t.Errorf("RemoveSandbox: %v", err)
		}
	})
	return sb
}

func (e *env) container(name string, cmd ...string) pod.ContainerConfig {
	return pod.ContainerConfig{
		ID: e.groupID + "-" + name + "-1", GroupID: e.groupID, Name: name, Kind: pod.KindApp, Attempt: 1,
		Image: testimage.DefaultRef, Command: cmd,
		LogPath: filepath.Join(e.root, "logs", name+".log"),
	}
}

// run creates and starts cfg and waits for its exit.
func (e *env) run(t *testing.T, sb pod.Sandbox, cfg pod.ContainerConfig) pod.Exit {
	t.Helper()
	ctx := context.Background()
	if err := e.b.CreateContainer(ctx, sb, cfg); err != nil {
		t.Fatal(err)
	}
	ch, err := e.b.StartContainer(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	ex, ok := <-ch
	if !ok {
		t.Fatal("exit channel closed without an exit")
	}
	return ex
}

func logText(t *testing.T, path string) string {
	t.Helper()
	lines, err := logs.Read(path, logs.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", l.Stream, l.Text)
	}
	return b.String()
}

func TestEnsureImagePolicies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.b.EnsureImage(ctx, testimage.DefaultRef, "Never", pod.ImageAuth{}); err != nil {
		t.Errorf("Never, image present: %v", err)
	}
	if err := e.b.EnsureImage(ctx, testimage.DefaultRef, "IfNotPresent", pod.ImageAuth{}); err != nil {
		t.Errorf("IfNotPresent, image present: %v", err)
	}
	err := e.b.EnsureImage(ctx, "leci.local/absent:1", "Never", pod.ImageAuth{})
	if !errors.Is(err, pod.ErrImageNeverPull) {
		t.Errorf("Never, image absent: %v, want ErrImageNeverPull", err)
	}
	// A registry on loopback that does not answer: the pull fails, once
	// for all of the concurrent callers, as a pull error.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.b.EnsureImage(ctx, "127.0.0.1:1/absent:1", "IfNotPresent", pod.ImageAuth{})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if !errors.Is(err, pod.ErrImagePull) {
			t.Errorf("pull from a dead registry: %v, want ErrImagePull", err)
		}
	}
	if err := e.b.EnsureImage(ctx, testimage.DefaultRef, "Bogus", pod.ImageAuth{}); err == nil {
		t.Error("unknown pull policy accepted")
	}
}

func TestRunContainer(t *testing.T) {
	e := newEnv(t)
	sb := e.startSandbox(t, pod.Resources{})
	cfg := e.container("job", "sh", "-c", "echo out; echo err >&2; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; id -u; exit 3")
	cfg.User.UID = new(int64)
	*cfg.User.UID = testimage.AppUID
	ex := e.run(t, sb, cfg)
	if ex.Code != 3 || ex.OOMKilled || ex.Signal != 0 {
		t.Errorf("exit %+v, want code 3", ex)
	}
	if ex.StartedAt.IsZero() || ex.FinishedAt.Before(ex.StartedAt) {
		t.Errorf("times %v .. %v", ex.StartedAt, ex.FinishedAt)
	}
	// The log is written out before RemoveContainer returns.
	if err := e.b.RemoveContainer(context.Background(), cfg.ID); err != nil {
		t.Fatal(err)
	}
	got := logText(t, cfg.LogPath)
	for _, want := range []string{"stdout out\n", "stderr err\n", "stdout grouphost\n", "stdout /leci pause \n", "stdout 1000\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

// TestTTYContainerLog: a container with a terminal has one output stream,
// logged as stdout, as with containerd.
func TestTTYContainerLog(t *testing.T) {
	e := newEnv(t)
	sb := e.startSandbox(t, pod.Resources{})
	cfg := e.container("term", "sh", "-c", "test -t 1 && echo on a tty; echo to stderr >&2")
	cfg.TTY = true
	if ex := e.run(t, sb, cfg); ex.Code != 0 {
		t.Errorf("exit %+v, want 0", ex)
	}
	if err := e.b.RemoveContainer(context.Background(), cfg.ID); err != nil {
		t.Fatal(err)
	}
	got := logText(t, cfg.LogPath)
	for _, want := range []string{"stdout on a tty", "stdout to stderr"} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %q:\n%s", want, got)
		}
	}
}

func TestOOMKilled(t *testing.T) {
	e := newEnv(t)
	sb := e.startSandbox(t, pod.Resources{})
	cfg := e.container("hog", "sh", "-c", "x=a; while true; do x=$x$x; done")
	cfg.Resources.MemoryBytes = 16 << 20
	ex := e.run(t, sb, cfg)
	if ex.Code != 137 || !ex.OOMKilled {
		t.Errorf("exit %+v, want 137 and OOMKilled", ex)
	}
}

// TestOOMKilledByGroupLimit: the container has no limit of its own and
// the group's is hit; the kill is still the container's OOM.
func TestOOMKilledByGroupLimit(t *testing.T) {
	e := newEnv(t)
	sb := e.startSandbox(t, pod.Resources{MemoryBytes: 32 << 20})
	cfg := e.container("hog", "sh", "-c", "x=a; while true; do x=$x$x; done")
	ex := e.run(t, sb, cfg)
	if ex.Code != 137 || !ex.OOMKilled {
		t.Errorf("exit %+v, want 137 and OOMKilled", ex)
	}
}

func TestExecAndList(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sb := e.startSandbox(t, pod.Resources{CPU: 1, MemoryBytes: 256 << 20})
	cfg := e.container("web", "sleep", "3600")
	cfg.Resources = pod.Resources{CPU: 0.5, MemoryBytes: 64 << 20}
	if err := e.b.CreateContainer(ctx, sb, cfg); err != nil {
		t.Fatal(err)
	}
	ch, err := e.b.StartContainer(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}

	res, err := e.b.Exec(ctx, cfg.ID, []string{"sh", "-c", "echo hi; exit 7"}, 1024)
	if err != nil || res.ExitCode != 7 || string(res.Output) != "hi\n" {
		t.Errorf("Exec = %+v %q, %v; want 7 \"hi\\n\"", res, res.Output, err)
	}
	res, err = e.b.Exec(ctx, cfg.ID, []string{"sh", "-c", "yes | head -c 5000"}, 10)
	if err != nil || len(res.Output) != 10 {
		t.Errorf("Exec output bound: %d bytes, %v; want 10", len(res.Output), err)
	}
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err = e.b.Exec(tctx, cfg.ID, []string{"sleep", "60"}, 10)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec past its context: %v", err)
	}

	var stdout, stderr bytes.Buffer
	code, err := e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{
		Cmd:   []string{"sh", "-c", "tr a-z A-Z; echo bye >&2; exit 4"},
		Stdin: strings.NewReader("hello\n"), Stdout: &stdout, Stderr: &stderr,
	})
	if err != nil || code != 4 || stdout.String() != "HELLO\n" || stderr.String() != "bye\n" {
		t.Errorf("ExecAttach = %d, %v, stdout %q, stderr %q", code, err, stdout.String(), stderr.String())
	}
	stdout.Reset()
	code, err = e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{Cmd: []string{"sh", "-c", "test -t 1 && echo tty"}, TTY: true, Stdout: &stdout})
	if err != nil || code != 0 || !strings.Contains(stdout.String(), "tty") {
		t.Errorf("ExecAttach with TTY = %d, %v, %q", code, err, stdout.String())
	}
	stdout.Reset()
	code, err = e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{Cmd: []string{"sh", "-c", "read x; echo got $x"}, TTY: true, Stdin: strings.NewReader("line\n"), Stdout: &stdout})
	if err != nil || code != 0 || !strings.Contains(stdout.String(), "got line") {
		t.Errorf("ExecAttach with TTY and input = %d, %v, %q", code, err, stdout.String())
	}

	// The terminal gets the first size, and then the next. (Docker 20.10
	// sizes an exec's terminal only once it runs: the command waits a
	// moment before it asks.)
	stdout.Reset()
	sizes := make(chan pod.TermSize, 1)
	sizes <- pod.TermSize{Width: 100, Height: 30}
	input, moreInput := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		code, err = e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{Cmd: []string{"sh", "-c", "sleep 0.5; stty size; read x; stty size"}, TTY: true, Stdin: input, Stdout: &stdout, Resize: sizes})
	}()
	time.Sleep(time.Second)
	sizes <- pod.TermSize{Width: 120, Height: 40}
	time.Sleep(100 * time.Millisecond)
	io.WriteString(moreInput, "go\n")
	moreInput.Close()
	<-done
	close(sizes)
	if out := strings.ReplaceAll(stdout.String(), "\r", ""); err != nil || code != 0 || !strings.Contains(out, "30 100\n") || !strings.Contains(out, "40 120\n") {
		t.Errorf("ExecAttach with terminal sizes = %d, %v, %q; want 30 100, then 40 120", code, err, out)
	}

	list, err := e.b.ListContainers(ctx, e.groupID)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]pod.ContainerInfo{}
	for _, c := range list {
		kinds[c.Kind] = c
	}
	if app := kinds[pod.KindApp]; app.ID != cfg.ID || app.Name != "web" || app.Attempt != 1 || !app.Running || app.PID <= 0 {
		t.Errorf("app container listed as %+v", app)
	}
	if s := kinds[pod.KindSandbox]; s.ID != sandboxName(e.groupID) || !s.Running || s.PID != sb.PID {
		t.Errorf("sandbox listed as %+v, sandbox pid %d", s, sb.PID)
	}
	if len(list) != 2 {
		t.Errorf("listed %d containers, want 2: %+v", len(list), list)
	}

	u, err := e.b.Usage(ctx, e.groupID)
	if err != nil {
		t.Fatal(err)
	}
	if cu, ok := u.Containers[cfg.ID]; !ok || cu.MemoryLimit != 64<<20 || u.Group.MemoryLimit != 256<<20 {
		t.Errorf("usage %+v", u)
	}

	// Adoption: a second backend (leci restarted) waits for the running
	// container, and sees it stopped.
	b2, err := New(ctx, e.b.opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	ch2, err := b2.WaitContainer(ctx, cfg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.b.StopContainer(ctx, cfg.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, c := range []<-chan pod.Exit{ch, ch2} {
		if ex := <-c; ex.Code != 143 || ex.Signal != 15 {
			t.Errorf("exit after stop %+v, want 143 (SIGTERM)", ex)
		}
	}
}

func TestRemoveLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	sb, err := e.b.StartSandbox(ctx, pod.SandboxConfig{GroupID: e.groupID, Resources: pod.Resources{MemoryBytes: 128 << 20}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.container("app", "sleep", "3600")
	if err := e.b.CreateContainer(ctx, sb, cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := e.b.StartContainer(ctx, cfg.ID); err != nil {
		t.Fatal(err)
	}
	groupDir := filepath.Join("/sys/fs/cgroup/memory", sb.CgroupParent)
	if v, err := os.ReadFile(filepath.Join(groupDir, "memory.limit_in_bytes")); err == nil && strings.TrimSpace(string(v)) != fmt.Sprint(128<<20) {
		t.Errorf("group memory limit %s", v)
	}
	// Removing the sandbox also removes what the engine left in the group.
	for i := 0; i < 2; i++ {
		if err := e.b.RemoveSandbox(ctx, e.groupID); err != nil {
			t.Fatalf("RemoveSandbox #%d: %v", i+1, err)
		}
	}
	if err := e.b.RemoveContainer(ctx, cfg.ID); err != nil {
		t.Errorf("RemoveContainer of a removed container: %v", err)
	}
	left, err := e.b.cli.ContainerList(ctx, container.ListOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("containers left: %+v", left)
	}
	for _, h := range []string{"memory", "cpu", "pids"} {
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", h, sb.CgroupParent)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cgroup %s:%s left (%v)", h, sb.CgroupParent, err)
		}
	}
}

// TestPingWhenTheEngineGoes: Ping answers while dockerd runs, and says the
// runtime is unavailable once it has stopped, which the daemon turns into
// 503 ServiceUnavailable for writes.
func TestPingWhenTheEngineGoes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.b.Ping(ctx); err != nil {
		t.Fatalf("Ping with dockerd running: %v", err)
	}
	if err := e.d.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := e.b.Ping(ctx); !errors.Is(err, pod.ErrUnavailable) {
		t.Errorf("Ping with dockerd stopped: %v, want ErrUnavailable", err)
	}
}
