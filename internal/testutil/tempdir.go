package testutil

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"leci/internal/mountinfo"
)

// TempDir makes a directory under /tmp with a short name, for roots that hold
// unix sockets (whose paths are limited to 107 bytes, which t.TempDir's names
// can exceed), and removes it when the test ends, unmounting first whatever
// is still mounted under it (overlay snapshots, bind mounts).
func TempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("make temp dir: %v", err)
	}
	t.Cleanup(func() {
		if err := UnmountAll(dir); err != nil {
			t.Errorf("unmount under %s: %v", dir, err)
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return dir
}

// UnmountAll lazily unmounts every mount point at or under dir, deepest
// first, as read from /proc/self/mountinfo.
func UnmountAll(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	points, err := mountinfo.Under(dir)
	if err != nil {
		return err
	}
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return &os.PathError{Op: "unmount", Path: p, Err: err}
		}
	}
	return nil
}
