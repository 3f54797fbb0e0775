//go:build integration

package pause

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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

// buildPause builds testdata/pause statically into a directory that is
// then the sandbox's whole rootfs, as /leci.
func buildPause(t *testing.T) string {
	t.Helper()
	rootfs := t.TempDir()
	testutil.BuildStatic(t, "./testdata/pause", filepath.Join(rootfs, "leci"))
	return rootfs
}

// TestSandboxReapsInSharedPIDNamespace runs the sandbox from a rootfs that
// holds only its binary, then an app container in the sandbox's PID
// namespace that leaves an orphan behind: the orphan ends up a child of the
// sandbox and must not stay a zombie. SIGTERM then ends the sandbox with 0.
func TestSandboxReapsInSharedPIDNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "containerd")
	testutil.RequireBinary(t, "runc")
	testutil.RequireBinary(t, testimage.BusyboxPath)
	rootfs := buildPause(t)
	root := testutil.TempDir(t, "leci-pause")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := containerd.StopOwn(ctx, root, nil); err != nil {
			t.Errorf("stop own containerd: %v", err)
		}
	})
	b := make([]byte, 4)
	rand.Read(b)
	conn, err := containerd.Connect(context.Background(), containerd.Config{Address: containerd.AutoAddress, Namespace: "pause-test-" + hex.EncodeToString(b), Root: root}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx := conn.WithNamespace(context.Background())
	cl := conn.Client()

	sandbox, err := cl.NewContainer(ctx, "sandbox", client.WithNewSpec(
		oci.WithRootFSPath(rootfs), oci.WithRootFSReadonly(), oci.WithProcessArgs("/leci", "pause")))
	if err != nil {
		t.Fatalf("sandbox container: %v", err)
	}
	t.Cleanup(func() { sandbox.Delete(ctx) })
	began := time.Now()
	sbTask, err := sandbox.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatalf("sandbox task: %v", err)
	}
	t.Cleanup(func() { sbTask.Delete(ctx, client.WithProcessKill) })
	sbExit, err := sbTask.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := sbTask.Start(ctx); err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Logf("sandbox started in %v, pid %d", time.Since(began), sbTask.Pid())
	pausePID := int(sbTask.Pid())

	var img bytes.Buffer
	if err := testimage.Build(&img, testimage.DefaultRef); err != nil {
		t.Fatal(err)
	}
	names, err := conn.Import(context.Background(), &img)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	image, err := cl.GetImage(ctx, names[0])
	if err != nil {
		t.Fatal(err)
	}
	// A subshell starts a sleep and exits: the sleep is orphaned to the
	// namespace's PID 1, the sandbox, and ends while the app still runs
	// (at the app's exit the shim kills what is left of it, which would
	// hide the difference).
	app, err := cl.NewContainer(ctx, "app", client.WithNewSnapshot("app-snapshot", image), client.WithNewSpec(
		oci.WithImageConfig(image),
		oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.PIDNamespace, Path: fmt.Sprintf("/proc/%d/ns/pid", pausePID)}),
		oci.WithProcessArgs("sh", "-c", "(sleep 1 &); exec sleep 30")))
	if err != nil {
		t.Fatalf("app container: %v", err)
	}
	t.Cleanup(func() { app.Delete(ctx, client.WithSnapshotCleanup) })
	appTask, err := app.NewTask(ctx, cio.NullIO)
	if err != nil {
		t.Fatalf("app task: %v", err)
	}
	t.Cleanup(func() { appTask.Delete(ctx, client.WithProcessKill) })
	appExit, err := appTask.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := appTask.Start(ctx); err != nil {
		t.Fatalf("start app: %v", err)
	}

	// The sandbox's children: the orphan, alive, then nothing.
	sawOrphan := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		kids := children(t, pausePID)
		zombies := 0
		for _, k := range kids {
			sawOrphan = true
			if k.state == "Z" {
				zombies++
			}
		}
		if len(kids) == 0 && sawOrphan {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sandbox children 10 s on: %+v (orphan seen: %v)", kids, sawOrphan)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-appExit:
		t.Fatal("the app ended before the orphan was reaped: the test proves nothing")
	default:
	}
	if _, err := appTask.Delete(ctx, client.WithProcessKill); err != nil {
		t.Fatalf("delete app task: %v", err)
	}

	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pausePID)); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmRSS") {
				t.Logf("sandbox %s", strings.Join(strings.Fields(l), " "))
			}
		}
	}
	began = time.Now()
	if err := sbTask.Kill(ctx, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-sbExit:
		if st.ExitCode() != 0 {
			t.Fatalf("sandbox exit code %d after SIGTERM", st.ExitCode())
		}
		t.Logf("sandbox exited 0 %v after SIGTERM", time.Since(began))
	case <-time.After(5 * time.Second):
		t.Fatal("sandbox still running 5 s after SIGTERM")
	}
}

type proc struct {
	pid   int
	state string
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []proc {
	t.Helper()
	pids, err := testutil.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	var kids []proc
	for _, p := range pids {
		st, ok := testutil.Stat(p)
		if ok && st.PPID == pid {
			kids = append(kids, proc{p, st.State})
		}
	}
	return kids
}
