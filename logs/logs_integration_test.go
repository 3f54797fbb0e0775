//go:build integration

package logs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"leci/internal/testimage"
	"leci/internal/testutil"
	"leci/runtime/containerd"
)

// buildLogWriter builds testdata/logwriter, which keeps the argv contract
// of "leci log-writer PATH" (and runs this package's RunShimWriter).
func buildLogWriter(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "logwriter")
	testutil.BuildStatic(t, "./testdata/logwriter", out)
	return out
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// testContainerd connects to an own containerd in a fresh short root, in a
// namespace of the test's own, and imports the test image.
func testContainerd(t *testing.T) (*containerd.Conn, string, string) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "containerd")
	testutil.RequireBinary(t, "runc")
	testutil.RequireBinary(t, testimage.BusyboxPath)
	root := testutil.TempDir(t, "leci-logs")
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	b := make([]byte, 4)
	rand.Read(b)
	ns := "logs-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := containerd.StopOwn(ctx, root, log); err != nil {
			t.Errorf("stop own containerd: %v", err)
		}
	})
	ctx := context.Background()
	conn, err := containerd.Connect(ctx, containerd.Config{Address: containerd.AutoAddress, Namespace: ns, Root: root}, log)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	var img bytes.Buffer
	if err := testimage.Build(&img, testimage.DefaultRef); err != nil {
		t.Fatal(err)
	}
	names, err := conn.Import(ctx, &img)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return conn, root, names[0]
}

// runContainer creates a container running sh -c script with its output
// through the binary logger, and its task, started. The returned stop
// waits for the exit, deletes the task (which ends the logger) and the
// container, and returns the exit code.
func runContainer(t *testing.T, conn *containerd.Conn, ref, id, logger, path, script string) (stop func() uint32) {
	t.Helper()
	ctx := conn.WithNamespace(context.Background())
	cl := conn.Client()
	img, err := cl.GetImage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := cl.NewContainer(ctx, id,
		client.WithNewSnapshot(id+"-snapshot", img),
		client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("sh", "-c", script)))
	if err != nil {
		t.Fatalf("new container: %v", err)
	}
	task, err := ctr.NewTask(ctx, cio.BinaryIO(logger, BinaryArgs(path)))
	if err != nil {
		ctr.Delete(ctx, client.WithSnapshotCleanup)
		t.Fatalf("new task: %v", err)
	}
	cleaned := false
	cleanup := func() {
		if cleaned {
			return
		}
		cleaned = true
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil {
			t.Errorf("delete task: %v", err)
		}
		if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil {
			t.Errorf("delete container: %v", err)
		}
	}
	t.Cleanup(cleanup)
	statusC, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	return func() uint32 {
		var st client.ExitStatus
		select {
		case st = <-statusC:
		case <-time.After(30 * time.Second):
			t.Fatal("container did not exit")
		}
		cleanup()
		return st.ExitCode()
	}
}

func TestBinaryLoggerWithContainerd(t *testing.T) {
	logger := buildLogWriter(t)
	conn, root, ref := testContainerd(t)
	path := filepath.Join(root, "logs", "c.log")
	long := strings.Repeat("x", 20000)
	stop := runContainer(t, conn, ref, "logs-streams", logger, path,
		"echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; printf unterminated")

	// The writer is ready before the task is created, so following until
	// it is done can start now.
	followed := make(chan []Line, 1)
	go func() {
		var got []Line
		err := Follow(context.Background(), path, FollowOptions{UntilWriterDone: true, Poll: 10 * time.Millisecond}, func(l Line) error {
			got = append(got, l)
			return nil
		})
		if err != nil {
			t.Errorf("follow: %v", err)
		}
		followed <- got
	}()

	if code := stop(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if w, err := Writing(path); err != nil || w {
		t.Errorf("writer still there after the task was deleted: %v, %v", w, err)
	}
	lines, err := Read(path, ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out, errs []string
	for _, l := range lines {
		switch l.Stream {
		case Stdout:
			out = append(out, l.Text)
		case Stderr:
			errs = append(errs, l.Text)
		default:
			t.Errorf("stream %q", l.Stream)
		}
	}
	if !slices.Equal(out, []string{"out", long, "unterminated"}) || !slices.Equal(errs, []string{"err"}) {
		t.Fatalf("stdout %v, stderr %q", lengths(out), errs)
	}
	select {
	case got := <-followed:
		if len(got) != len(lines) {
			t.Errorf("followed %d lines, read %d", len(got), len(lines))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Follow did not end after the writer did")
	}
	raw, _ := os.ReadFile(path)
	t.Logf("log file, %d bytes; first record: %s", len(raw), raw[:bytes.IndexByte(raw, '\n')])
}

// TestBinaryLoggerOutlivesContainerd: the writer is the shim's child, so the
// container's output reaches the file while containerd (and any client of
// it) is down.
func TestBinaryLoggerOutlivesContainerd(t *testing.T) {
	logger := buildLogWriter(t)
	conn, root, ref := testContainerd(t)
	path := filepath.Join(root, "logs", "c.log")
	// The second line waits for a file the test makes once containerd is
	// down, in a directory bound into the container.
	gate := filepath.Join(root, "gate")
	if err := os.Mkdir(gate, 0o755); err != nil {
		t.Fatal(err)
	}
	const id = "logs-outlive"
	ctx := conn.WithNamespace(context.Background())
	cl := conn.Client()
	img, err := cl.GetImage(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	ctr, err := cl.NewContainer(ctx, id,
		client.WithNewSnapshot(id+"-snapshot", img),
		client.WithNewSpec(oci.WithImageConfig(img),
			oci.WithMounts([]specs.Mount{{Destination: "/gate", Type: "bind", Source: gate, Options: []string{"rbind", "ro"}}}),
			oci.WithProcessArgs("sh", "-c", "echo before; while ! [ -e /gate/open ]; do sleep 0.05; done; echo after")))
	if err != nil {
		t.Fatalf("new container: %v", err)
	}
	task, err := ctr.NewTask(ctx, cio.BinaryIO(logger, BinaryArgs(path)))
	if err != nil {
		t.Fatalf("new task: %v", err)
	}
	// Whatever happens, kill the task before containerd is stopped for good.
	t.Cleanup(func() {
		if t.Failed() {
			if c2, err := containerd.Connect(context.Background(), containerd.Config{Address: containerd.AutoAddress, Namespace: conn.Namespace(), Root: root}, nil); err == nil {
				cctx := c2.WithNamespace(context.Background())
				if c, err := c2.Client().LoadContainer(cctx, id); err == nil {
					if tk, err := c.Task(cctx, nil); err == nil {
						tk.Delete(cctx, client.WithProcessKill)
					}
					c.Delete(cctx, client.WithSnapshotCleanup)
				}
				c2.Close()
			}
		}
	})
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	waitFor(t, path, 1)

	stopCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn.Close()
	if err := containerd.StopOwn(stopCtx, root, nil); err != nil {
		t.Fatalf("stop own containerd: %v", err)
	}
	if err := os.WriteFile(filepath.Join(gate, "open"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, path, 2)
	lines, err := Read(path, ReadOptions{})
	if err != nil || len(lines) != 2 || lines[1].Text != "after" {
		t.Fatalf("lines while containerd is down: %q, %v", texts(lines), err)
	}

	// containerd again: it finds the shim, and the task ends as usual.
	conn2, err := containerd.Connect(context.Background(), containerd.Config{Address: containerd.AutoAddress, Namespace: conn.Namespace(), Root: root}, nil)
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	defer conn2.Close()
	ctx = conn2.WithNamespace(context.Background())
	ctr, err = conn2.Client().LoadContainer(ctx, id)
	if err != nil {
		t.Fatalf("load container: %v", err)
	}
	task, err = ctr.Task(ctx, nil)
	if err != nil {
		t.Fatalf("load task: %v", err)
	}
	st, err := task.Delete(ctx, client.WithProcessKill)
	if err != nil {
		t.Fatalf("delete task: %v", err)
	}
	if st.ExitCode() != 0 {
		t.Errorf("exit code %d", st.ExitCode())
	}
	if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil {
		t.Errorf("delete container: %v", err)
	}
	if w, err := Writing(path); err != nil || w {
		t.Errorf("writer still there after the task was deleted: %v, %v", w, err)
	}
}
