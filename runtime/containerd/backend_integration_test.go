//go:build integration

package containerd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"

	"leci/internal/testimage"
	"leci/logs"
	"leci/pod"
)

// TestBackendSandboxNamespaceFiles starts the sandbox of a group that does
// not share its PID namespace: no process, its IPC and UTS namespaces held
// as files with the hostname set, the sysctls applied by each container,
// one shim per container, and nothing left once removed.
func TestBackendSandboxNamespaceFiles(t *testing.T) {
	e := newBackendEnv(t)
	cfg := e.sandboxConfig()
	cfg.Resources = pod.Resources{CPU: 0.5, MemoryBytes: 256 << 20}
	cfg.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "81"}
	sb := e.startSandbox(t, cfg)
	if sb.PID != 0 || sb.PIDPath != "" || sb.NetNSPath != e.netns || sb.CgroupParent != "/leci/"+e.group {
		t.Errorf("sandbox = %+v, want no process", sb)
	}
	for _, p := range []string{sb.IPCPath, sb.UTSPath} {
		if !strings.HasPrefix(p, e.root) {
			t.Errorf("namespace file %s is not under leci's root %s", p, e.root)
		}
	}
	if list, err := e.b.ListContainers(e.ctx, e.group); err != nil || len(list) != 0 {
		t.Errorf("containers of a group with no sandbox process: %+v (%v)", list, err)
	}
	// Started again (leci restarted), it keeps the same namespaces.
	if again := e.startSandbox(t, cfg); again.IPCPath != sb.IPCPath || nsInode(t, again.UTSPath) != nsInode(t, sb.UTSPath) {
		t.Errorf("second start: %+v, want %+v", again, sb)
	}

	sleeper := e.containerConfig("sleeper", "sleep 1000")
	sleeperExit := e.start(t, sb, sleeper)
	probe := e.containerConfig("probe", "hostname; for n in net ipc uts; do readlink /proc/self/ns/$n; done; cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
	exit, out := e.run(t, sb, probe)
	if exit.Code != 0 {
		t.Fatalf("probe exit %+v, output %q", exit, out)
	}
	want := fmt.Sprintf("%s\nnet:[%d]\nipc:[%d]\nuts:[%d]\n81\n", cfg.Hostname, nsInode(t, e.netns), nsInode(t, sb.IPCPath), nsInode(t, sb.UTSPath))
	if out != want {
		t.Errorf("probe saw %q, want %q", out, want)
	}
	if err := e.b.RemoveContainer(e.ctx, sleeper.ID); err != nil {
		t.Fatal(err)
	}
	awaitExit(t, sleeperExit, 10*time.Second)
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.removed = true
	e.assertGroupGone(t)
	for _, p := range []string{sb.IPCPath, sb.UTSPath, filepath.Dir(sb.IPCPath)} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left after removal (%v)", p, err)
		}
	}
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Errorf("second remove sandbox: %v", err)
	}
}

// TestBackendSandbox starts the sandbox of a group that shares its PID
// namespace, and checks what its containers share with it, that one shim
// serves the group, and that removing leaves nothing behind.
func TestBackendSandbox(t *testing.T) {
	e := newBackendEnv(t)
	if n := len(shimPIDs(t, e.conn.Namespace())); n != 0 {
		t.Fatalf("%d shims before the sandbox", n)
	}
	cfg := e.sandboxConfig()
	cfg.SharePID = true
	cfg.Resources = pod.Resources{CPU: 0.5, MemoryBytes: 256 << 20}
	cfg.Sysctls = map[string]string{"net.ipv4.ip_unprivileged_port_start": "81"}
	sb := e.startSandbox(t, cfg)

	if err := syscall.Kill(sb.PID, 0); err != nil {
		t.Fatalf("sandbox pid %d: %v", sb.PID, err)
	}
	if sb.NetNSPath != e.netns || sb.PIDPath != fmt.Sprintf("/proc/%d/ns/pid", sb.PID) || sb.CgroupParent != "/leci/"+e.group {
		t.Errorf("sandbox = %+v", sb)
	}
	for _, n := range []struct{ name, file string }{{"ipc", sb.IPCPath}, {"uts", sb.UTSPath}} {
		if nsInode(t, fmt.Sprintf("/proc/%d/ns/%s", sb.PID, n.name)) != nsInode(t, n.file) {
			t.Errorf("the sandbox process is not in the group's %s namespace %s", n.name, n.file)
		}
	}
	if got := nsInode(t, fmt.Sprintf("/proc/%d/ns/net", sb.PID)); got != nsInode(t, e.netns) {
		t.Errorf("sandbox is not in the network namespace")
	}
	// The group's limits are on the group's cgroup.
	for file, want := range map[string]string{
		"/sys/fs/cgroup/cpu/leci/" + e.group + "/cpu.cfs_quota_us":         "50000",
		"/sys/fs/cgroup/memory/leci/" + e.group + "/memory.limit_in_bytes": "268435456",
	} {
		if b, err := os.ReadFile(file); err == nil && strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %s, want %s", file, b, want)
		}
	}

	// A long-running container, for the shim count and the listing.
	sleeper := e.containerConfig("sleeper", "sleep 1000")
	sleeperExit := e.start(t, sb, sleeper)
	if pids := shimPIDs(t, e.conn.Namespace()); len(pids) != 1 {
		t.Errorf("shims serving the group: %v, want one", pids)
	}
	list, err := e.b.ListContainers(e.ctx, e.group)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]pod.ContainerInfo{}
	for _, c := range list {
		kinds[c.Kind] = c
	}
	if s := kinds[pod.KindSandbox]; len(list) != 2 || !s.Running || s.PID != sb.PID || s.GroupID != e.group {
		t.Errorf("list = %+v", list)
	}
	if a := kinds[pod.KindApp]; !a.Running || a.Name != "sleeper" || a.ID != sleeper.ID {
		t.Errorf("app in list = %+v", a)
	}
	if all, err := e.b.ListContainers(e.ctx, ""); err != nil || len(all) != 2 {
		t.Errorf("list all = %+v, %v", all, err)
	}

	// More CPU than the group has: v1 refuses that quota, so it is capped.
	probe := e.containerConfig("probe", "hostname; for n in net ipc uts pid; do readlink /proc/self/ns/$n; done; cat /proc/sys/net/ipv4/ip_unprivileged_port_start")
	probe.Resources.CPU = 2
	exit, out := e.run(t, sb, probe)
	if exit.Code != 0 {
		t.Fatalf("probe exit %+v, output %q", exit, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 {
		t.Fatalf("probe output %q", out)
	}
	if lines[5] != "81" {
		t.Errorf("sandbox sysctl seen in the container as %q, want 81", lines[5])
	}
	if lines[0] != cfg.Hostname {
		t.Errorf("hostname = %q, want %q", lines[0], cfg.Hostname)
	}
	for i, want := range []string{
		fmt.Sprintf("net:[%d]", nsInode(t, e.netns)),
		fmt.Sprintf("ipc:[%d]", nsInode(t, sb.IPCPath)),
		fmt.Sprintf("uts:[%d]", nsInode(t, sb.UTSPath)),
	} {
		if lines[i+1] != want {
			t.Errorf("namespace %d = %q, want %q", i, lines[i+1], want)
		}
	}
	if pidNS := fmt.Sprintf("pid:[%d]", nsInode(t, fmt.Sprintf("/proc/%d/ns/pid", sb.PID))); lines[4] != pidNS {
		t.Errorf("container's PID namespace %s, want the sandbox's %s", lines[4], pidNS)
	}
	if exit.StartedAt.IsZero() || exit.FinishedAt.Before(exit.StartedAt) {
		t.Errorf("exit times %+v", exit)
	}

	// Removing a running container kills it; its exit still arrives.
	if err := e.b.RemoveContainer(e.ctx, sleeper.ID); err != nil {
		t.Fatal(err)
	}
	if exit := awaitExit(t, sleeperExit, 10*time.Second); exit.Code != 137 || exit.Signal != 9 {
		t.Errorf("removed sleeper exit %+v, want 137 by signal 9", exit)
	}
	if err := e.b.RemoveContainer(e.ctx, sleeper.ID); err != nil {
		t.Errorf("second remove: %v", err)
	}

	// Starting the sandbox again adopts it.
	if again := e.startSandbox(t, cfg); again.PID != sb.PID {
		t.Errorf("second start: pid %d, want the running %d", again.PID, sb.PID)
	}

	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.removed = true
	e.assertGroupGone(t)
	if err := syscall.Kill(sb.PID, 0); err == nil && !isZombie(sb.PID) {
		t.Errorf("sandbox pid %d still alive", sb.PID)
	}
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Errorf("second remove sandbox: %v", err)
	}
	// The last task gone, the group's shim exits.
	deadline := time.Now().Add(5 * time.Second)
	for len(shimPIDs(t, e.conn.Namespace())) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := shimPIDs(t, e.conn.Namespace()); len(pids) != 0 {
		t.Errorf("shims left: %v", pids)
	}
}

// TestBackendOneShimPerGroup checks that a group with no sandbox process
// has one shim for all its app containers while any of them has a task
// (and its init containers another), that a
// task made as the last one is deleted never lands on a shim that is
// exiting, and that no shim is left once the group is gone.
func TestBackendOneShimPerGroup(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	if sb.PID != 0 {
		t.Fatalf("a group that shares no PID namespace has a sandbox process %d", sb.PID)
	}
	var exits []<-chan pod.Exit
	for _, name := range []string{"a", "b", "c"} {
		exits = append(exits, e.start(t, sb, e.containerConfig(name, "sleep 1000")))
	}
	if pids := shimPIDs(t, e.conn.Namespace()); len(pids) != 1 {
		t.Errorf("shims serving three containers of the group: %v, want one", pids)
	}
	shim := shimPIDs(t, e.conn.Namespace())
	// An init container has a shim of its own (the app containers' creates,
	// one at a time in their shim, do not hold up its create), which goes
	// with its last task.
	initCfg := e.containerConfig("init", "sleep 1000")
	initCfg.Kind = pod.KindInit
	initExit := e.start(t, sb, initCfg)
	if pids := shimPIDs(t, e.conn.Namespace()); len(pids) != 2 || !slices.Contains(pids, shim[0]) {
		t.Errorf("shims with an init container beside the apps: %v, want the apps' %v and one more", pids, shim)
	}
	if err := e.b.RemoveContainer(e.ctx, initCfg.ID); err != nil {
		t.Fatal(err)
	}
	awaitExit(t, initExit, 10*time.Second)
	if pids := shimPIDs(t, e.conn.Namespace()); !slices.Equal(pids, shim) {
		t.Errorf("shims once the init container is removed: %v, want the apps' %v", pids, shim)
	}
	if err := e.b.RemoveContainer(e.ctx, e.group+"-a"); err != nil {
		t.Fatal(err)
	}
	awaitExit(t, exits[0], 10*time.Second)
	// Another container while b and c keep the shim up: the same shim.
	exits = append(exits, e.start(t, sb, e.containerConfig("d", "sleep 1000")))
	if pids := shimPIDs(t, e.conn.Namespace()); !slices.Equal(pids, shim) {
		t.Errorf("shims after a container came and went: %v, want %v", pids, shim)
	}
	for i, name := range []string{"b", "c", "d"} {
		if err := e.b.RemoveContainer(e.ctx, e.group+"-"+name); err != nil {
			t.Fatal(err)
		}
		awaitExit(t, exits[i+1], 10*time.Second)
	}
	// A container run, removed and run again, as a restart does, each time
	// the group's only one: every run starts, on a shim of its own.
	for i := range 15 {
		cfg := e.containerConfig(fmt.Sprintf("r%d", i), "true")
		if exit, _ := e.run(t, sb, cfg); exit.Code != 0 {
			t.Fatalf("run %d: exit %+v", i, exit)
		}
	}
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.removed = true
	e.assertGroupGone(t)
	deadline := time.Now().Add(5 * time.Second)
	for len(shimPIDs(t, e.conn.Namespace())) != 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if pids := shimPIDs(t, e.conn.Namespace()); len(pids) != 0 {
		t.Errorf("shims left: %v", pids)
	}
}

// TestBackendRemoveContainersOfOneShimAtOnce removes all the app
// containers of a group at once, as a group's delete does, several times:
// the deletes race their shim's shutdown (the last task's delete stops it
// under the others' answers), and each must still succeed and leave
// nothing behind.
func TestBackendRemoveContainersOfOneShimAtOnce(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	for round := range 4 {
		names := []string{"a", "b", "c", "d"}
		var exits []<-chan pod.Exit
		for _, name := range names {
			exits = append(exits, e.start(t, sb, e.containerConfig(fmt.Sprintf("%s%d", name, round), "sleep 1000")))
		}
		// Stopped first, so that the deletes meet in the shim.
		for _, name := range names {
			if err := e.b.StopContainer(e.ctx, fmt.Sprintf("%s-%s%d", e.group, name, round), 0); err != nil {
				t.Fatal(err)
			}
		}
		for _, exit := range exits {
			awaitExit(t, exit, 10*time.Second)
		}
		errs := make(chan error, len(names))
		for _, name := range names {
			go func() { errs <- e.b.RemoveContainer(e.ctx, fmt.Sprintf("%s-%s%d", e.group, name, round)) }()
		}
		for range names {
			if err := <-errs; err != nil {
				t.Errorf("round %d: remove: %v", round, err)
			}
		}
		if list, err := e.b.ListContainers(e.ctx, e.group); err != nil || len(list) != 0 {
			t.Fatalf("round %d: containers left: %+v (%v)", round, list, err)
		}
	}
	if err := e.b.RemoveSandbox(e.ctx, e.group); err != nil {
		t.Fatal(err)
	}
	e.removed = true
	e.assertGroupGone(t)
}

// TestBackendCreateUnpacksAnImageWithoutSnapshots: an image whose layers
// are not unpacked (imported by another client, its snapshots removed) is
// no longer "there" for the pull policy, and a container made from it
// anyway gets its layers unpacked and runs.
func TestBackendCreateUnpacksAnImageWithoutSnapshots(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	ctx := e.conn.WithNamespace(e.ctx)
	sn := e.conn.Client().SnapshotService(snapshotter)
	var committed []string
	if err := sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if info.Kind == snapshots.KindCommitted {
			committed = append(committed, info.Name)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(committed) == 0 {
		t.Fatal("the imported image has no committed snapshot")
	}
	for _, name := range committed {
		if err := sn.Remove(ctx, name); err != nil {
			t.Fatalf("remove snapshot %s: %v", name, err)
		}
	}
	if ok, err := e.conn.Exists(e.ctx, testimage.DefaultRef); err != nil || ok {
		t.Fatalf("exists with its snapshots removed: %v, %v; want false", ok, err)
	}
	if exit, out := e.run(t, sb, e.containerConfig("unpacked", "echo ran")); exit.Code != 0 || out != "ran\n" {
		t.Fatalf("exit %+v, output %q", exit, out)
	}
	if ok, err := e.conn.Exists(e.ctx, testimage.DefaultRef); err != nil || !ok {
		t.Errorf("exists after the create unpacked it: %v, %v; want true", ok, err)
	}
}

// TestBackendProcess checks command, args, env, working directory, user,
// RunAsNonRoot and a read-only root.
func TestBackendProcess(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())

	uid := int64(testimage.AppUID)
	cfg := e.containerConfig("proc", "")
	cfg.Command = []string{"sh", "-c"}
	cfg.Args = []string{`id -u; id -g; pwd; echo "$X"; touch /rootfs-is-writable 2>/dev/null && echo rw`}
	cfg.Env = []string{"X=hello"}
	cfg.WorkingDir = "/tmp"
	cfg.User = pod.User{UID: &uid, NonRoot: true}
	exit, out := e.run(t, sb, cfg)
	// touch fails: uid 1000 may not write to /.
	if want := "1000\n1000\n/tmp\nhello\n"; exit.Code == 0 || out != want {
		t.Errorf("exit %d, output %q; want %q and a failing touch", exit.Code, out, want)
	}

	// As root, the writable root takes the file; read-only, it does not.
	rw := e.containerConfig("rw", "touch /x && echo wrote")
	if exit, out := e.run(t, sb, rw); exit.Code != 0 || out != "wrote\n" {
		t.Errorf("writable root: exit %d, output %q", exit.Code, out)
	}
	ro := e.containerConfig("ro", "touch /x")
	ro.ReadOnlyRootfs = true
	if exit, out := e.run(t, sb, ro); exit.Code == 0 || !strings.Contains(out, "Read-only file system") {
		t.Errorf("read-only root: exit %d, output %q", exit.Code, out)
	}

	// Mounts: a read-only bind and a tmpfs.
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("from host"), 0o644); err != nil {
		t.Fatal(err)
	}
	mnt := e.containerConfig("mounts", "cat /data/f; echo; touch /data/g 2>/dev/null || echo ro-ok; touch /scratch/g && echo tmpfs-ok")
	mnt.Mounts = []pod.Mount{
		{Source: src, Destination: "/data", ReadOnly: true},
		{Type: "tmpfs", Destination: "/scratch", Options: []string{"size=1m"}},
	}
	if exit, out := e.run(t, sb, mnt); exit.Code != 0 || !strings.HasPrefix(out, "from host\n") || !strings.Contains(out, "ro-ok\ntmpfs-ok\n") {
		t.Errorf("mounts: exit %d, output %q", exit.Code, out)
	}

	// A terminal's output is logged too, by the log writer.
	tty := e.containerConfig("tty", "echo on-a-tty")
	tty.TTY = true
	if exit, out := e.run(t, sb, tty); exit.Code != 0 || !strings.Contains(out, "on-a-tty") {
		t.Errorf("with a TTY: exit %d, output %q", exit.Code, out)
	}

	// The image's user is root: RunAsNonRoot refuses it, and leaves nothing.
	nonRoot := e.containerConfig("nonroot", "true")
	nonRoot.User = pod.User{NonRoot: true}
	err := e.b.CreateContainer(e.ctx, sb, nonRoot)
	if !errors.Is(err, pod.ErrCreateConfig) {
		t.Fatalf("create as non-root with a root image: %v, want ErrCreateConfig", err)
	}
	if list, err := e.b.ListContainers(e.ctx, e.group); err != nil || len(list) != 0 {
		t.Errorf("containers after a refused create: %+v (%v), want none", list, err)
	}
	if n := countSnapshots(t, e.conn); n != 1 {
		t.Errorf("snapshots after a refused create: %d, want the image's one", n)
	}
}

// TestBackendOOM checks that a container killed by the OOM killer says so.
func TestBackendOOM(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	cfg := e.containerConfig("hog", `x=$(dd if=/dev/zero bs=1M count=64 2>/dev/null | tr '\000' a); echo survived`)
	cfg.Resources.MemoryBytes = 16 << 20
	exit, out := e.run(t, sb, cfg)
	if !exit.OOMKilled || exit.Code != 137 || exit.Signal != 9 {
		t.Errorf("exit %+v, output %q; want OOM-killed with 137", exit, out)
	}

	ok := e.containerConfig("fine", "true")
	ok.Resources.MemoryBytes = 16 << 20
	if exit, _ := e.run(t, sb, ok); exit.OOMKilled || exit.Code != 0 {
		t.Errorf("exit %+v, want a clean 0", exit)
	}
}

// TestBackendStop checks that the grace period is honoured both ways.
func TestBackendStop(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())

	stubborn := e.containerConfig("stubborn", "trap '' TERM; sleep 1000")
	exited := e.start(t, sb, stubborn)
	// A second watcher, as a restarted leci adopting the container has.
	adopted, err := e.b.WaitContainer(e.ctx, stubborn.ID)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // let the trap be set
	began := time.Now()
	if err := e.b.StopContainer(e.ctx, stubborn.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(began)
	if took < 900*time.Millisecond || took > 5*time.Second {
		t.Errorf("stop of a TERM-ignoring container took %v, want about the 1 s grace", took)
	}
	if exit := awaitExit(t, exited, 5*time.Second); exit.Code != 137 || exit.Signal != 9 {
		t.Errorf("exit %+v, want 137 by SIGKILL", exit)
	}
	if exit := awaitExit(t, adopted, 5*time.Second); exit.Code != 137 || !exit.StartedAt.IsZero() {
		t.Errorf("adopted watcher's exit %+v, want 137 with no start time", exit)
	}
	// Waiting on an exited container yields its exit at once.
	late, err := e.b.WaitContainer(e.ctx, stubborn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if exit := awaitExit(t, late, 5*time.Second); exit.Code != 137 {
		t.Errorf("late watcher's exit %+v", exit)
	}
	if err := e.b.StopContainer(e.ctx, stubborn.ID, time.Second); err != nil {
		t.Errorf("second stop: %v", err)
	}
	if err := e.b.RemoveContainer(e.ctx, stubborn.ID); err != nil {
		t.Fatal(err)
	}

	polite := e.containerConfig("polite", "trap 'exit 0' TERM; while true; do sleep 0.1; done")
	exited = e.start(t, sb, polite)
	time.Sleep(200 * time.Millisecond)
	began = time.Now()
	if err := e.b.StopContainer(e.ctx, polite.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("stop of a TERM-honouring container took %v", took)
	}
	if exit := awaitExit(t, exited, 5*time.Second); exit.Code != 0 || exit.Signal != 0 {
		t.Errorf("exit %+v, want 0", exit)
	}
	if err := e.b.RemoveContainer(e.ctx, polite.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.b.StopContainer(e.ctx, polite.ID, time.Second); err != nil {
		t.Errorf("stop of a removed container: %v", err)
	}
}

// TestBackendSharePID checks that with a shared PID namespace a container
// sees the sandbox process as PID 1.
func TestBackendSharePID(t *testing.T) {
	e := newBackendEnv(t)
	cfg := e.sandboxConfig()
	cfg.SharePID = true
	sb := e.startSandbox(t, cfg)
	if sb.PIDPath == "" {
		t.Fatal("no PID namespace path with SharePID")
	}
	exit, out := e.run(t, sb, e.containerConfig("ps", "ps -o pid,args"))
	if exit.Code != 0 {
		t.Fatalf("ps: exit %d, %q", exit.Code, out)
	}
	want := "1 " + strings.Join(e.sbArgs, " ")
	found := false
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == want {
			found = true
		}
	}
	if !found {
		t.Errorf("ps output %q lacks %q", out, want)
	}
}

// TestBackendEnsureImage checks the pull policies without a registry.
func TestBackendEnsureImage(t *testing.T) {
	e := newBackendEnv(t)
	for _, policy := range []string{"", "IfNotPresent", "Never"} {
		if err := e.b.EnsureImage(e.ctx, testimage.DefaultRef, policy, pod.ImageAuth{}); err != nil {
			t.Errorf("present image, policy %q: %v", policy, err)
		}
	}
	// Port 1 on loopback: nothing listens, no traffic leaves the host.
	absent := "127.0.0.1:1/leci/absent:1"
	err := e.b.EnsureImage(e.ctx, absent, "Never", pod.ImageAuth{})
	if !errors.Is(err, pod.ErrImageNeverPull) || !strings.Contains(err.Error(), "absent") {
		t.Errorf("absent, Never: %v", err)
	}
	auth := pod.ImageAuth{PlainHTTP: []string{"127.0.0.1:1"}}
	for _, policy := range []string{"IfNotPresent", "Always"} {
		if err := e.b.EnsureImage(e.ctx, absent, policy, auth); !errors.Is(err, pod.ErrImagePull) {
			t.Errorf("absent, %s: %v, want ErrImagePull", policy, err)
		}
	}
	if err := e.b.EnsureImage(e.ctx, absent, "Sometimes", auth); err == nil {
		t.Error("unknown policy accepted")
	}
}

// TestBackendLogPath checks that output lands in the log file the engine
// named, in a directory the log writer creates, both streams of it.
func TestBackendLogPath(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	cfg := e.containerConfig("logs", "echo out; echo err >&2")
	cfg.LogPath = filepath.Join(e.logDir, "nested", "dir", "c.log")
	exit, _ := e.run(t, sb, cfg)
	lines, err := logs.Read(cfg.LogPath, logs.ReadOptions{})
	if err != nil {
		t.Fatalf("read log: %v", err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Stream+":"+l.Text)
	}
	slices.Sort(got)
	if exit.Code != 0 || strings.Join(got, "|") != "stderr:err|stdout:out" {
		t.Errorf("exit %d, log lines %q; want 0 and out, err", exit.Code, got)
	}
}
