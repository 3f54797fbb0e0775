package volumes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/internal/mountinfo"
	"leci/internal/testutil"
)

// These tests mount, so they need root (and skip without it, or fail with
// CI=true).

// groupDir lays out a group's volumes directory as the engine does.
func groupDir(t *testing.T) (root, dir string) {
	t.Helper()
	testutil.RequireRoot(t)
	root = testutil.TempDir(t, "leci-vol")
	return root, filepath.Join(root, "groups", "eci-test", "volumes")
}

func mountOf(t *testing.T, path string) (point string, shared, slave bool) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	point, shared, slave, err = propagationOf(mountID(fd))
	if err != nil {
		t.Fatal(err)
	}
	return point, shared, slave
}

func sameFile(t *testing.T, a, b string) bool {
	t.Helper()
	var sa, sb unix.Stat_t
	if err := unix.Stat(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(b, &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

func assertCleanedUp(t *testing.T, m *Manager, root, dir string) {
	t.Helper()
	ctx := context.Background()
	if err := m.Cleanup(ctx, dir); err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if err := m.Cleanup(ctx, dir); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if points, _ := mountinfo.Under(root); len(points) != 0 {
		t.Errorf("mounts left: %v", points)
	}
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left: %v", dir, err)
	}
}

func TestPrepareEmptyDirsSharedAndCleanup(t *testing.T) {
	root, dir := groupDir(t)
	m := New(Config{Root: root})
	vols := []api.Volume{
		{Name: "disk", Type: api.VolumeEmptyDir},
		{Name: "mem", Type: api.VolumeEmptyDir, EmptyDirVolume: &api.EmptyDirVolume{Medium: "memory", SizeLimit: "0.0625"}},
		{Name: "cfg", Type: api.VolumeConfigFile, ConfigFileVolume: &api.ConfigFileVolume{
			ConfigFileToPath: []api.ConfigFileToPath{{Path: "a", Content: b64("x")}}}},
		{Name: "host", Type: api.VolumeHostPath, HostPathVolume: &api.HostPathVolume{Path: "/nonexistent/path", Type: "Directory"}},
	}
	srcs, err := m.Prepare(context.Background(), dir, vols)
	if err != nil {
		t.Fatal(err) // a missing host path does not fail the group
	}
	if point, shared, _ := mountOf(t, dir); point != dir || shared {
		t.Errorf("volumes directory: mount %s shared %v; want a private mount of its own", point, shared)
	}
	for _, name := range []string{"disk", "mem", "cfg"} {
		if point, shared, slave := mountOf(t, srcs[name]); point != srcs[name] || !shared || slave {
			t.Errorf("%s: mount %s shared %v slave %v; want a shared mount of its own", name, point, shared, slave)
		}
	}
	if got := permOf(t, srcs["disk"]); got != 0o777 {
		t.Errorf("disk EmptyDir mode %o", got)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(srcs["mem"], &sfs); err != nil {
		t.Fatal(err)
	}
	if sfs.Type != unix.TMPFS_MAGIC || int64(sfs.Blocks)*sfs.Bsize != 64<<20 {
		t.Errorf("memory EmptyDir: type %x, %d bytes; want a 64 MiB tmpfs", sfs.Type, int64(sfs.Blocks)*sfs.Bsize)
	}
	if got := permOf(t, srcs["mem"]); got != 0o777 {
		t.Errorf("memory EmptyDir mode %o", got)
	}
	// A missing host path of type Directory fails the mount, with reason.
	_, err = m.Mount(srcs["host"], vols[3], api.VolumeMount{Name: "host", MountPath: "/h"})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/path does not exist") {
		t.Errorf("missing host path: %v", err)
	}
	mt, err := m.Mount(srcs["cfg"], vols[2], api.VolumeMount{Name: "cfg", MountPath: "/etc/cfg"})
	if err != nil || !mt.ReadOnly || mt.Propagation != "rprivate" || mt.Source != srcs["cfg"] {
		t.Errorf("ConfigFile mount = %+v, %v; want read-only rprivate of the volume", mt, err)
	}
	assertCleanedUp(t, m, root, dir)
}

func TestSubPathStagedAndPinned(t *testing.T) {
	root, dir := groupDir(t)
	outside := testutil.TempDir(t, "leci-outside")
	m := New(Config{Root: root})
	vol := api.Volume{Name: "data", Type: api.VolumeEmptyDir}
	srcs, err := m.Prepare(context.Background(), dir, []api.Volume{vol})
	if err != nil {
		t.Fatal(err)
	}
	src := srcs["data"]
	vm := api.VolumeMount{Name: "data", MountPath: "/d", SubPath: "a/b/", MountPropagation: api.PropagationHostToContainer}
	mt, err := m.Mount(src, vol, vm)
	if err != nil {
		t.Fatal(err)
	}
	if mt.Propagation != "rslave" || !strings.HasPrefix(mt.Source, filepath.Join(dir, stagingDir)+"/") {
		t.Fatalf("mount = %+v, want rslave from a staging point", mt)
	}
	if !sameFile(t, mt.Source, filepath.Join(src, "a/b")) {
		t.Error("the staging point does not show the sub path")
	}
	if _, shared, _ := mountOf(t, mt.Source); !shared {
		t.Error("the staging point of a shared volume is not shared with it")
	}
	again, err := m.Mount(src, vol, vm)
	if err != nil || again.Source != mt.Source {
		t.Errorf("second mount of the same sub path: %+v, %v; want the same staging point", again, err)
	}
	// The sub path is swapped for a link to the host: the staged source
	// still shows the directory that was checked, and a new mount refuses.
	os.WriteFile(filepath.Join(src, "a/b/marker"), []byte("inside"), 0o644)
	if err := os.Rename(filepath.Join(src, "a/b"), filepath.Join(src, "a/moved")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(outside, filepath.Join(src, "a/b"))
	if data, err := os.ReadFile(filepath.Join(mt.Source, "marker")); err != nil || string(data) != "inside" {
		t.Errorf("staged source after the swap: %q, %v", data, err)
	}
	if _, err := m.Mount(src, vol, vm); err == nil || !strings.Contains(err.Error(), "leads outside the volume") {
		t.Errorf("mount through the swapped link: %v", err)
	}
	os.Symlink("/etc", filepath.Join(src, "etc"))
	marker := fmt.Sprintf("leci-test-%d", time.Now().UnixNano())
	if _, err := m.Mount(src, vol, api.VolumeMount{Name: "data", MountPath: "/d", SubPath: "etc/" + marker}); err == nil {
		t.Error("a sub path through a link to /etc was mounted")
	}
	if _, err := os.Lstat("/etc/" + marker); !os.IsNotExist(err) {
		os.Remove("/etc/" + marker)
		t.Errorf("/etc/%s was made: %v", marker, err)
	}
	// A file as sub path gets a file staging point.
	os.WriteFile(filepath.Join(src, "file"), []byte("f"), 0o644)
	fm, err := m.Mount(src, vol, api.VolumeMount{Name: "data", MountPath: "/f", SubPath: "file"})
	if err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(fm.Source); err != nil || string(data) != "f" {
		t.Errorf("file staging point: %q, %v", data, err)
	}
	assertCleanedUp(t, m, root, dir)
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files made outside: %v", entries)
	}
}

func TestConcurrentMountsShareOneStagingPoint(t *testing.T) {
	root, dir := groupDir(t)
	m := New(Config{Root: root})
	vol := api.Volume{Name: "data", Type: api.VolumeEmptyDir}
	srcs, err := m.Prepare(context.Background(), dir, []api.Volume{vol})
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			mt, err := m.Mount(srcs["data"], vol, api.VolumeMount{Name: "data", MountPath: "/d", SubPath: "x/y"})
			got[i], errs[i] = mt.Source, err
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || got[i] != got[0] {
			t.Errorf("mount %d: %q, %v; want %q", i, got[i], errs[i], got[0])
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, stagingDir)); len(entries) != 1 {
		t.Errorf("%d staging points, want 1", len(entries))
	}
	assertCleanedUp(t, m, root, dir)
}

func TestConfigFileSymlinkSwapSparesHost(t *testing.T) {
	root, dir := groupDir(t)
	host := testutil.TempDir(t, "leci-host")
	victim := filepath.Join(host, "victim")
	os.WriteFile(victim, []byte("host file"), 0o644)
	os.WriteFile(filepath.Join(host, "kept"), []byte("kept"), 0o644)
	m := New(Config{Root: root})
	vol := api.Volume{Name: "cfg", Type: api.VolumeConfigFile, ConfigFileVolume: &api.ConfigFileVolume{
		ConfigFileToPath: []api.ConfigFileToPath{{Path: "a.conf", Content: b64("a")}, {Path: "sub/b.conf", Content: b64("b")}},
	}}
	srcs, err := m.Prepare(context.Background(), dir, []api.Volume{vol})
	if err != nil {
		t.Fatal(err)
	}
	// What a container that got the volume writable would do.
	os.Remove(filepath.Join(srcs["cfg"], "a.conf"))
	os.Symlink(victim, filepath.Join(srcs["cfg"], "a.conf"))
	os.RemoveAll(filepath.Join(srcs["cfg"], "sub"))
	os.Symlink(host, filepath.Join(srcs["cfg"], "sub"))
	assertCleanedUp(t, m, root, dir)
	if data, err := os.ReadFile(victim); err != nil || string(data) != "host file" {
		t.Errorf("host file = %q, %v", data, err)
	}
	if data, err := os.ReadFile(filepath.Join(host, "kept")); err != nil || string(data) != "kept" {
		t.Errorf("host directory's file = %q, %v", data, err)
	}
}

func TestHostPathStagedAndPropagation(t *testing.T) {
	root, dir := groupDir(t)
	host := testutil.TempDir(t, "leci-host")
	os.MkdirAll(filepath.Join(host, "sub"), 0o755)
	m := New(Config{Root: root})
	srcs, err := m.Prepare(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	vol := api.Volume{Name: "h", Type: api.VolumeHostPath, HostPathVolume: &api.HostPathVolume{Path: host, Type: "Directory"}}
	src := filepath.Join(dir, "h")
	_ = srcs
	mt, err := m.Mount(src, vol, api.VolumeMount{Name: "h", MountPath: "/h", ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if !mt.ReadOnly || !sameFile(t, mt.Source, host) || !strings.HasPrefix(mt.Source, dir+"/") {
		t.Errorf("host path mount = %+v", mt)
	}
	// On a private mount, HostToContainer cannot work: refused with reason.
	if err := unix.Mount(host, host, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", host, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	vm := api.VolumeMount{Name: "h", MountPath: "/h", SubPath: "sub", MountPropagation: api.PropagationHostToContainer}
	if _, err := m.Mount(src, vol, vm); err == nil || !strings.Contains(err.Error(), "neither a shared nor a slave mount") {
		t.Errorf("HostToContainer on a private mount: %v", err)
	}
	if err := unix.Mount("", host, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	mt, err = m.Mount(src, vol, vm)
	if err != nil {
		t.Fatal(err)
	}
	if _, shared, _ := mountOf(t, mt.Source); !shared || !sameFile(t, mt.Source, filepath.Join(host, "sub")) {
		t.Errorf("staged shared host path: shared %v", shared)
	}
	// A mount made on the host after staging shows at the staging point.
	if err := unix.Mount("tmpfs", filepath.Join(host, "sub"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(mt.Source, &sfs); err != nil || sfs.Type != unix.TMPFS_MAGIC {
		t.Errorf("host mount did not propagate to the staging point: %x %v", sfs.Type, err)
	}
	assertCleanedUp(t, m, root, dir)
	if _, err := os.Stat(filepath.Join(host, "sub")); err != nil {
		t.Errorf("host directory gone: %v", err)
	}
}

func TestRemoveTreeStopsAtMounts(t *testing.T) {
	testutil.RequireRoot(t)
	dir := testutil.TempDir(t, "leci-rm")
	host := testutil.TempDir(t, "leci-host")
	os.WriteFile(filepath.Join(host, "victim"), []byte("host"), 0o644)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "mnt"), 0o755)
	if err := unix.Mount(host, filepath.Join(tree, "mnt"), "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(filepath.Join(tree, "mnt"), unix.MNT_DETACH)
	err := RemoveTree(tree)
	if err == nil || !strings.Contains(err.Error(), "is a mount point") {
		t.Errorf("RemoveTree over a mount: %v", err)
	}
	if data, err := os.ReadFile(filepath.Join(host, "victim")); err != nil || string(data) != "host" {
		t.Errorf("host file = %q, %v", data, err)
	}
}

func TestGC(t *testing.T) {
	root, _ := groupDir(t)
	groups := filepath.Join(root, "groups")
	ctx := context.Background()
	vols := []api.Volume{
		{Name: "mem", Type: api.VolumeEmptyDir, EmptyDirVolume: &api.EmptyDirVolume{Medium: "memory"}},
		{Name: "disk", Type: api.VolumeEmptyDir},
	}
	for _, id := range []string{"eci-live", "eci-dead"} {
		m := New(Config{Root: root})
		srcs, err := m.Prepare(ctx, filepath.Join(groups, id, "volumes"), vols)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Mount(srcs["disk"], vols[1], api.VolumeMount{Name: "disk", MountPath: "/x", SubPath: "s"}); err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Join(groups, id, "logs"), 0o755)
	}
	os.WriteFile(filepath.Join(groups, "stray-file"), nil, 0o644)
	if err := GC(ctx, groups, func(id string) bool { return id == "eci-live" }); err != nil {
		t.Fatal(err)
	}
	if points, _ := mountinfo.Under(filepath.Join(groups, "eci-dead")); len(points) != 0 {
		t.Errorf("mounts of the dead group left: %v", points)
	}
	if _, err := os.Lstat(filepath.Join(groups, "eci-dead", "volumes")); !os.IsNotExist(err) {
		t.Errorf("dead group's volumes left: %v", err)
	}
	if _, err := os.Stat(filepath.Join(groups, "eci-dead", "logs")); err != nil {
		t.Errorf("GC removed more than the volumes: %v", err)
	}
	if points, _ := mountinfo.Under(filepath.Join(groups, "eci-live")); len(points) < 3 {
		t.Errorf("live group's mounts touched: %v", points)
	}
	if err := GC(ctx, groups, func(string) bool { return false }); err != nil {
		t.Fatal(err)
	}
	if points, _ := mountinfo.Under(root); len(points) != 0 {
		t.Errorf("mounts left: %v", points)
	}
	if err := GC(ctx, filepath.Join(root, "missing"), func(string) bool { return false }); err != nil {
		t.Errorf("GC of a missing directory: %v", err)
	}
}

func TestNFSPrepare(t *testing.T) {
	root, dir := groupDir(t)
	m := New(Config{Root: root})
	vol := api.Volume{Name: "nfs", Type: api.VolumeNFS, NFSVolume: &api.NFSVolume{Server: "127.0.0.1", Path: "/export"}}
	_, err := m.Prepare(context.Background(), dir, []api.Volume{vol})
	if nfsSupported() != nil {
		// This kernel has no NFS client: the group fails with that reason.
		if err == nil || !strings.Contains(err.Error(), "no NFS client") {
			t.Errorf("NFS without a kernel client: %v", err)
		}
	} else if err == nil {
		// Nothing serves /export on loopback here unless a test set it up.
		t.Log("an NFS server answered on 127.0.0.1")
	}
	assertCleanedUp(t, m, root, dir)
}
