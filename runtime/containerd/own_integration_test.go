//go:build integration

package containerd

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// helperRootEnv makes the test binary, run again as a child, only connect and
// exit: the own containerd it starts must outlive it.
const helperRootEnv = "LECI_TEST_CONNECT_ROOT"

func TestHelperConnectAndExit(t *testing.T) {
	root := os.Getenv(helperRootEnv)
	if root == "" {
		t.Skip("helper for TestOwnContainerdOutlivesStarter")
	}
	conn, err := connect(context.Background(), Config{Root: root}, nil, noSystemSocket)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
}

func TestOwnContainerdAuto(t *testing.T) {
	root := ownRoot(t)
	ctx := context.Background()
	cfg := Config{Address: AutoAddress, Namespace: "test-" + randomSuffix(t), Root: root}

	began := time.Now()
	first, err := connect(ctx, cfg, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Logf("first connect, starting own containerd: %v", time.Since(began))
	defer first.Close()

	info, err := first.Info(ctx)
	if err != nil {
		t.Fatalf("info: %v", err)
	}
	t.Logf("info: %+v", info)
	if !info.Own || info.PID == 0 {
		t.Errorf("info: want own containerd with a pid, got %+v", info)
	}
	if info.Version == "" || info.Namespace != cfg.Namespace || info.Snapshotter != "overlayfs" {
		t.Errorf("info: %+v", info)
	}
	if want := root + "/containerd/containerd.sock"; info.Address != want || first.Address() != want {
		t.Errorf("address %q, want %q", info.Address, want)
	}
	if _, err := os.Stat(root + "/containerd/containerd.log"); err != nil {
		t.Errorf("own containerd log: %v", err)
	}

	began = time.Now()
	second, err := connect(ctx, cfg, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("second connect: %v", err)
	}
	t.Logf("second connect, reusing: %v", time.Since(began))
	defer second.Close()
	info2, err := second.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info2.PID != info.PID || !info2.Own {
		t.Errorf("second connect: pid %d own %v, want pid %d reused", info2.PID, info2.Own, info.PID)
	}

	var wg sync.WaitGroup
	pids := make([]int, 2)
	for i := range pids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := connect(ctx, cfg, testLogger(t), noSystemSocket)
			if err != nil {
				t.Errorf("concurrent connect: %v", err)
				return
			}
			defer c.Close()
			in, err := c.Info(ctx)
			if err != nil {
				t.Errorf("info: %v", err)
				return
			}
			pids[i] = in.PID
		}()
	}
	wg.Wait()
	for _, p := range pids {
		if p != info.PID {
			t.Errorf("concurrent connect got pid %d, want %d", p, info.PID)
		}
	}
	if got := ownContainerdPIDs(t, root); len(got) != 1 {
		t.Errorf("containerd processes on the root: %v, want one", got)
	}

	// An explicit address is used as given and is not "own".
	explicit, err := connect(ctx, Config{Address: info.Address, Namespace: cfg.Namespace}, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("explicit connect: %v", err)
	}
	defer explicit.Close()
	if in, err := explicit.Info(ctx); err != nil || in.Own || in.Address != info.Address {
		t.Errorf("explicit: %+v, %v", in, err)
	}
}

// TestOwnContainerdConcurrentStart races first connects on a fresh root: the
// lock must let exactly one of them start containerd.
func TestOwnContainerdConcurrentStart(t *testing.T) {
	root := ownRoot(t)
	ctx := context.Background()
	const n = 4
	var wg sync.WaitGroup
	pids := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := connect(ctx, Config{Root: root, Namespace: "test-" + randomSuffix(t)}, testLogger(t), noSystemSocket)
			if err != nil {
				t.Errorf("connect %d: %v", i, err)
				return
			}
			defer c.Close()
			in, err := c.Info(ctx)
			if err != nil {
				t.Errorf("info: %v", err)
				return
			}
			pids[i] = in.PID
		}()
	}
	wg.Wait()
	for _, p := range pids[1:] {
		if p != pids[0] {
			t.Errorf("pids %v: want one containerd", pids)
			break
		}
	}
	if got := ownContainerdPIDs(t, root); len(got) != 1 {
		t.Errorf("containerd processes on the root: %v, want one", got)
	}
}

// TestOwnContainerdOutlivesStarter starts own containerd from a child process
// that exits at once, then finds it still answering.
func TestOwnContainerdOutlivesStarter(t *testing.T) {
	root := ownRoot(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperConnectAndExit$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperRootEnv+"="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	pids := ownContainerdPIDs(t, root)
	if len(pids) != 1 {
		t.Fatalf("containerd processes after the starter exited: %v, want one", pids)
	}
	conn, err := connect(context.Background(), Config{Root: root}, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("connect after starter exited: %v", err)
	}
	defer conn.Close()
	info, err := conn.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.PID != pids[0] {
		t.Errorf("pid %d, want the surviving %d", info.PID, pids[0])
	}
	// It runs in a session of its own, not the starter's.
	if sid, err := unix.Getsid(info.PID); err != nil || sid != info.PID {
		t.Errorf("session of own containerd: %d (%v), want %d", sid, err, info.PID)
	}
}

// TestOwnContainerdRestartsAfterStop checks a stale socket and pid file do not
// stop a new start.
func TestOwnContainerdRestartsAfterStop(t *testing.T) {
	root := ownRoot(t)
	ctx := context.Background()
	c, err := connect(ctx, Config{Root: root}, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := StopOwn(ctx, root, testLogger(t)); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := ownContainerdPIDs(t, root); len(got) != 0 {
		t.Fatalf("containerd still running after StopOwn: %v", got)
	}
	c, err = connect(ctx, Config{Root: root}, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("connect after stop: %v", err)
	}
	c.Close()
}

// TestAutoPrefersSystem stands a containerd in for the system one: auto must
// use it and start nothing under its own root.
func TestAutoPrefersSystem(t *testing.T) {
	system := ownRoot(t)
	ctx := context.Background()
	sys, err := connect(ctx, Config{Root: system}, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()

	root := ownRoot(t)
	c, err := connect(ctx, Config{Root: root}, testLogger(t), sys.Address())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Own || info.Address != sys.Address() {
		t.Errorf("info %+v: want the system containerd at %s", info, sys.Address())
	}
	if pids := ownContainerdPIDs(t, root); len(pids) != 0 {
		t.Errorf("own containerd started although the system one answers: %v", pids)
	}
}

// TestAutoStaleSystemSocket leaves a socket file nobody listens on where the
// system containerd would be: auto must fall back to its own, quickly.
func TestAutoStaleSystemSocket(t *testing.T) {
	root := ownRoot(t)
	stale := filepath.Join(t.TempDir(), "containerd.sock")
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: stale}); err != nil {
		t.Fatal(err)
	}
	unix.Close(fd) // the file stays; connecting to it is refused

	began := time.Now()
	c, err := connect(context.Background(), Config{Root: root}, testLogger(t), stale)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer c.Close()
	took := time.Since(began)
	t.Logf("fallback from a stale system socket to own containerd: %v", took)
	if c.own == nil {
		t.Error("want own containerd")
	}
	if took > 5*time.Second {
		t.Errorf("fallback took %v", took)
	}
}
