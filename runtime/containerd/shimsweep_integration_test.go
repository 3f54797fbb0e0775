//go:build integration

package containerd

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"golang.org/x/sys/unix"

	"leci/internal/testimage"
	"leci/internal/testutil"
)

// A shim that containerd forgot, holding a task that ended, as
// containerd's clean-up after a cancelled create leaves it (the task's
// process killed and runc's state of it deleted, its bundle removed, and
// containerd no longer connected to it; here: containerd stopped meanwhile
// and started again), is stopped by RemoveOrphanShims, and its socket
// removed; so is a forgotten shim that holds no task any more. A shim serving a running task is left alone, and so is one whose
// first task was deleted (its bundle, the shim's working directory, gone
// with it) but which serves a second.
func TestRemoveOrphanShimsStopsOnlyForgottenShims(t *testing.T) {
	testutil.RequireBinary(t, "runc")
	root := ownRoot(t)
	ns := "test-" + randomSuffix(t)
	ctx := context.Background()
	conn := connectOwn(t, root, ns)
	f, err := os.Open(buildTestImage(t, testimage.DefaultRef))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := conn.Import(ctx, f)
	if err != nil || len(names) == 0 {
		t.Fatalf("import test image: %v %v", names, err)
	}

	cctx := conn.WithNamespace(ctx)
	img, err := conn.Client().GetImage(cctx, names[0])
	if err != nil {
		t.Fatal(err)
	}
	// run starts a task running args in the shim of key.
	run := func(id, key string, args ...string) (client.Container, client.Task) {
		t.Helper()
		ctr, err := conn.Client().NewContainer(cctx, id,
			client.WithSnapshotter(snapshotter), client.WithNewSnapshot(id, img),
			client.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs(args...), withShimKey(key)))
		if err != nil {
			t.Fatal(err)
		}
		task, err := ctr.NewTask(cctx, cio.NullIO)
		if err != nil {
			t.Fatal(err)
		}
		exited, err := task.Wait(cctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := task.Start(cctx); err != nil {
			t.Fatal(err)
		}
		if args[0] == "true" {
			<-exited
		}
		return ctr, task
	}
	run("forgotten", "key-forgotten", "true")
	run("emptied", "key-emptied", "true")
	_, live := run("live", "key-live", "sleep", "600")
	firstCtr, first := run("first", "key-shared", "true")
	_, second := run("second", "key-shared", "sleep", "600")
	if _, err := first.Delete(cctx); err != nil {
		t.Fatal(err)
	}
	if err := firstCtr.Delete(cctx, client.WithSnapshotCleanup); err != nil {
		t.Fatal(err)
	}
	shims := map[string]int{}
	found, err := shimsOf(conn.Address(), conn.Namespace())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range found {
		if p.id == "forgotten" || p.id == "emptied" || p.id == "live" || p.id == "first" {
			shims[p.id] = p.pid
		}
	}
	if len(shims) != 4 {
		t.Fatalf("shims %v, want one started for each of forgotten, emptied, live and first", shims)
	}
	listening, err := listeningSockets()
	if err != nil {
		t.Fatal(err)
	}
	forgottenSocket, emptiedSocket := socketOf(shims["forgotten"], listening), socketOf(shims["emptied"], listening)
	if forgottenSocket == "" || emptiedSocket == "" {
		t.Fatal("no socket found for the forgotten tasks' shims")
	}

	// What containerd's clean-up does to a task it forgets.
	conn.Close()
	if err := StopOwn(ctx, root, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("runc", "--root", filepath.Join("/run/containerd/runc", ns), "delete", "--force", "forgotten").CombinedOutput(); err != nil {
		t.Fatalf("runc delete: %v\n%s", err, out)
	}
	// The emptied shim's task is deleted through the shim, which is then
	// left serving nothing; never told to shut down, it runs on.
	sc, err := dialShim(ctx, emptiedSocket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.task.Delete(namespaces.WithNamespace(ctx, ns), &taskv2.DeleteRequest{ID: "emptied"}); err != nil {
		t.Fatal(err)
	}
	sc.Close()
	for _, id := range []string{"forgotten", "emptied"} {
		bundle := filepath.Join(root, "containerd", "state", "io.containerd.runtime.v2.task", ns, id)
		if err := unix.Unmount(filepath.Join(bundle, "rootfs"), unix.MNT_DETACH); err != nil && err != unix.EINVAL {
			t.Fatal(err)
		}
		if err := os.RemoveAll(bundle); err != nil {
			t.Fatal(err)
		}
	}
	conn = connectOwn(t, root, ns)
	cctx = conn.WithNamespace(ctx)

	if err := conn.RemoveOrphanShims(ctx); err != nil {
		t.Fatal(err)
	}
	for id, socket := range map[string]string{"forgotten": forgottenSocket, "emptied": emptiedSocket} {
		if !isZombie(shims[id]) {
			t.Errorf("the %s task's shim (%d) still runs", id, shims[id])
		}
		if _, err := os.Lstat(socket); !os.IsNotExist(err) {
			t.Errorf("the %s task's shim's socket %s: %v, want it removed", id, socket, err)
		}
	}
	for _, id := range []string{"live", "first"} {
		if isZombie(shims[id]) {
			t.Errorf("the shim started for %s (%d) was stopped", id, shims[id])
		}
	}
	for _, pid := range []uint32{live.Pid(), second.Pid()} {
		if isZombie(int(pid)) {
			t.Errorf("process %d of a task still known was stopped", pid)
		}
	}

	// Both remaining shims exit once their tasks are deleted.
	for _, id := range []string{"live", "second"} {
		ctr, err := conn.Client().LoadContainer(cctx, id)
		if err != nil {
			t.Fatal(err)
		}
		task, err := ctr.Task(cctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := task.Delete(cctx, client.WithProcessKill); err != nil {
			t.Fatal(err)
		}
		if err := ctr.Delete(cctx, client.WithSnapshotCleanup); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"forgotten", "emptied"} {
		if ctr, err := conn.Client().LoadContainer(cctx, id); err == nil {
			ctr.Delete(cctx, client.WithSnapshotCleanup)
		}
	}
	for _, id := range []string{"live", "first"} {
		for deadline := time.Now().Add(10 * time.Second); !isZombie(shims[id]); time.Sleep(50 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Errorf("the shim started for %s (%d) still runs after its tasks were deleted", id, shims[id])
				break
			}
		}
	}
}

// connectOwn connects to the own containerd of root, starting it if need
// be.
func connectOwn(t *testing.T, root, ns string) *Conn {
	t.Helper()
	conn, err := connect(context.Background(), Config{Address: AutoAddress, Namespace: ns, Root: root}, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// A shim whose start containerd gave up (the create cut short while
// containerd started it) waits for ever to open its log FIFO in the
// removed bundle, before it serves its API or handles SIGTERM: with no
// task and no child process, RemoveOrphanShims kills it and removes its
// socket. Here the shim is started by hand the way containerd's shim
// start does, in a bundle holding the FIFO, which is then removed.
func TestRemoveOrphanShimsKillsAShimStuckOnItsLogFIFO(t *testing.T) {
	shimBin := testutil.RequireBinary(t, "containerd-shim-runc-v2")
	root := ownRoot(t)
	ns := "test-" + randomSuffix(t)
	conn := connectOwn(t, root, ns)

	bundle := filepath.Join(t.TempDir(), "stuck")
	if err := os.Mkdir(bundle, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(bundle, "log"), 0o700); err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(t.TempDir(), "shim.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: socket, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	lf, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	cmd := exec.Command(shimBin, "-namespace", ns, "-id", "stuck", "-address", conn.Address())
	cmd.Dir = bundle
	cmd.ExtraFiles = []*os.File{lf}
	cmd.Env = append(os.Environ(), "TTRPC_ADDRESS="+conn.Address()+".ttrpc")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lf.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-exited })
	// One of its threads opens the FIFO.
	opening := func() bool {
		threads, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/wchan", cmd.Process.Pid))
		for _, th := range threads {
			if b, _ := os.ReadFile(th); string(b) == "wait_for_partner" {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !opening(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shim did not come to open its log FIFO")
		}
	}
	if err := os.RemoveAll(bundle); err != nil {
		t.Fatal(err)
	}

	if err := conn.RemoveOrphanShims(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
		t.Fatal("the stuck shim still runs")
	}
	if _, err := os.Lstat(socket); !os.IsNotExist(err) {
		t.Errorf("its socket %s: %v, want it removed", socket, err)
	}
}
