//go:build integration

package helper

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"

	"leci/internal/testimage"
	"leci/internal/testutil"
	"leci/logs"
	"leci/runtime/containerd"
)

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestLogWriterSameAsLeci runs one container twice on containerd, its
// output once through "leci-helper log-writer PATH" and once through "leci
// log-writer PATH", each as the runc shim's binary logger, and wants the
// same CRI records: both streams, a line split into P and F parts, an
// unterminated last line.
func TestLogWriterSameAsLeci(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "containerd")
	testutil.RequireBinary(t, "runc")
	testutil.RequireBinary(t, testimage.BusyboxPath)
	build, err := testutil.BuildLeci(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conn, root, ref := testContainerd(t)

	const script = "echo out; echo err >&2; head -c 20000 /dev/zero | tr '\\0' x; echo; " +
		"printf 'a\\tb  c\\n'; echo err2 >&2; printf unterminated"
	long := strings.Repeat("x", 20000)
	want := map[string][]string{
		logs.Stdout: {"F out", "P " + long[:logs.MaxLineBytes], "F " + long[logs.MaxLineBytes:], "F a\tb  c", "F unterminated"},
		logs.Stderr: {"F err", "F err2"},
	}
	got := map[string]map[string][]string{}
	for _, w := range []struct{ name, binary string }{{"leci-helper", build.Helper}, {"leci", build.Leci}} {
		path := filepath.Join(root, "logs", w.name+".log")
		pid := runContainer(t, conn, ref, "logs-"+w.name, w.binary, path, script)
		t.Logf("%s: log writer pid %d", w.name, pid)
		got[w.name] = records(t, path)
	}
	for _, name := range []string{"leci-helper", "leci"} {
		for _, stream := range []string{logs.Stdout, logs.Stderr} {
			if g := got[name][stream]; !slices.Equal(g, want[stream]) {
				t.Errorf("%s, %s: %d records %q, want %q", name, stream, len(g), short(g), short(want[stream]))
			}
		}
	}
}

// records reads the CRI log file at path, checks each record's time, and
// returns each stream's records as "<tag> <text>".
func records(t *testing.T, path string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		ts, rest, _ := strings.Cut(sc.Text(), " ")
		if _, err := time.Parse(time.RFC3339Nano, ts); err != nil || !strings.HasSuffix(ts, "Z") {
			t.Errorf("record %.40q: time %q is not RFC 3339 UTC: %v", sc.Text(), ts, err)
		}
		stream, rec, _ := strings.Cut(rest, " ")
		out[stream] = append(out[stream], rec)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// short shortens long records for messages.
func short(recs []string) []string {
	s := make([]string, len(recs))
	for i, r := range recs {
		if len(r) > 40 {
			r = r[:20] + "...(" + strconv.Itoa(len(r)) + " bytes)"
		}
		s[i] = r
	}
	return s
}

// testContainerd connects to an own containerd in a fresh short root, in a
// namespace of the test's own, and imports the test image.
func testContainerd(t *testing.T) (*containerd.Conn, string, string) {
	t.Helper()
	root := testutil.TempDir(t, "leci-helper")
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := make([]byte, 4)
	rand.Read(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := containerd.StopOwn(ctx, root, log); err != nil {
			t.Errorf("stop own containerd: %v", err)
		}
	})
	ctx := context.Background()
	conn, err := containerd.Connect(ctx, containerd.Config{Address: containerd.AutoAddress, Namespace: "helper-test-" + hex.EncodeToString(b), Root: root}, log)
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

// runContainer runs sh -c script to its end with its output through
// "<logger> log-writer <path>", deletes it (which ends the writer) and
// waits until the writer is done. It returns the writer's pid, found
// running while the container's task was there.
func runContainer(t *testing.T, conn *containerd.Conn, ref, id, logger, path, script string) int {
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
	defer func() {
		if err := ctr.Delete(ctx, client.WithSnapshotCleanup); err != nil {
			t.Errorf("delete container: %v", err)
		}
	}()
	task, err := ctr.NewTask(ctx, cio.BinaryIO(logger, logs.BinaryArgs(path)))
	if err != nil {
		t.Fatalf("new task: %v", err)
	}
	defer task.Delete(ctx, client.WithProcessKill) // a no-op once deleted below
	statusC, err := task.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	select {
	case st := <-statusC:
		if st.ExitCode() != 0 {
			t.Fatalf("exit code %d", st.ExitCode())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("container did not exit")
	}
	pid := writerPID(t, logger, path)
	if _, err := task.Delete(ctx); err != nil {
		t.Fatalf("delete task: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		writing, err := logs.Writing(path)
		if err != nil {
			t.Fatal(err)
		}
		if !writing {
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("log writer for %s still there 10 s after the task was deleted", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// writerPID finds the process running "<logger> log-writer <path>".
func writerPID(t *testing.T, logger, path string) int {
	t.Helper()
	want := strings.Join([]string{logger, logs.WriterCommand, path}, "\x00") + "\x00"
	procs, err := testutil.Processes()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Cmdline == want {
			return p.PID
		}
	}
	t.Fatalf("no process runs %q", strings.ReplaceAll(want, "\x00", " "))
	return 0
}
