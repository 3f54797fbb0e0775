package volumes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"leci/internal/mountinfo"
)

// cleanupDir unmounts everything at or under dir and removes it.
func cleanupDir(dir string) error {
	real, err := filepath.EvalSymlinks(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := unmountUnder(real); err != nil {
		return err
	}
	return RemoveTree(real)
}

// unmountUnder detaches every mount at or below dir, deepest first, until
// none is left (mounts may be stacked on one point).
func unmountUnder(dir string) error {
	for range 16 {
		points, err := mountinfo.Under(dir)
		if err != nil {
			return err
		}
		if len(points) == 0 {
			return nil
		}
		for _, p := range points {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmount %s: %w", p, err)
			}
		}
	}
	points, _ := mountinfo.Under(dir)
	return fmt.Errorf("mounts left under %s: %s", dir, strings.Join(points, ", "))
}

// RemoveTree removes path and everything below it like os.RemoveAll, but
// never follows a symbolic link (a link is removed, not its target) and
// never enters another mount: a mount point met on the way is left in place
// and reported, so a mount that could not be unmounted cannot cost the host
// its files. A path that does not exist is no error.
func RemoveTree(path string) error {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return os.Remove(path)
	}
	parent, err := unix.Open(filepath.Dir(path), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Dir(path), Err: err}
	}
	defer unix.Close(parent)
	return removeAt(parent, filepath.Base(path), path, -1)
}

// removeAt removes the directory name of parent (shown as path in errors)
// with all it holds; mnt is the mount it must be on (-1: the one it is on).
func removeAt(parent int, name, path string, mnt int64) error {
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &os.PathError{Op: "open", Path: path, Err: err}
	}
	id := int64(mountID(fd))
	if id == 0 {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil {
			id = -int64(st.Dev) - 2 // without mount ids, tell mounts by device
		}
	}
	if mnt == -1 {
		mnt = id
	}
	if id != mnt {
		unix.Close(fd)
		return fmt.Errorf("%s is a mount point: left in place", path)
	}
	var errs []error
	f := os.NewFile(uintptr(fd), path)
	for {
		names, err := f.Readdirnames(256)
		for _, n := range names {
			child := filepath.Join(path, n)
			err := unix.Unlinkat(fd, n, 0)
			switch {
			case err == nil || errors.Is(err, unix.ENOENT):
			case errors.Is(err, unix.EISDIR):
				// Linux answers EISDIR for a directory.
				if err := removeAt(fd, n, child, mnt); err != nil {
					errs = append(errs, err)
				}
			default:
				errs = append(errs, &os.PathError{Op: "remove", Path: child, Err: err})
			}
		}
		if err == io.EOF || len(names) == 0 {
			break
		}
		if err != nil {
			errs = append(errs, err)
			break
		}
	}
	f.Close()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := unix.Unlinkat(parent, name, unix.AT_REMOVEDIR); err != nil && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "remove", Path: path, Err: err}
	}
	return nil
}

// GC removes, at start-up, the volumes of groups that no longer run: for
// each group directory under groupsDir whose id live denies, it unmounts
// everything under <groupsDir>/<id>/volumes and removes that directory
// (the group's other files are not its business).
func GC(ctx context.Context, groupsDir string, live func(groupID string) bool) error {
	entries, err := os.ReadDir(groupsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if !e.IsDir() || live(e.Name()) {
			continue
		}
		if err := cleanupDir(filepath.Join(groupsDir, e.Name(), "volumes")); err != nil {
			errs = append(errs, fmt.Errorf("group %s: %w", e.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// propagationOf reads the propagation of the mount with the given id from
// /proc/self/mountinfo: its mount point, and whether it is shared (has
// peers) and a slave (has a master).
func propagationOf(id uint64) (point string, shared, slave bool, err error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", false, false, err
	}
	defer f.Close()
	return parsePropagation(f, id)
}

func parsePropagation(r io.Reader, id uint64) (point string, shared, slave bool, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	want := strconv.FormatUint(id, 10)
	for sc.Scan() {
		// "36 35 98:0 /mnt1 /mnt2 rw,noatime shared:1 master:2 - ext3 /dev/root rw"
		pre, _, ok := strings.Cut(sc.Text(), " - ")
		fields := strings.Fields(pre)
		if !ok || len(fields) < 6 || fields[0] != want {
			continue
		}
		for _, opt := range fields[6:] {
			shared = shared || strings.HasPrefix(opt, "shared:")
			slave = slave || strings.HasPrefix(opt, "master:")
		}
		return mountinfo.Unescape(fields[4]), shared, slave, nil
	}
	if err := sc.Err(); err != nil {
		return "", false, false, err
	}
	return "", false, false, fmt.Errorf("mount %d is not in /proc/self/mountinfo", id)
}

// checkSourcePropagation refuses a propagation the mount of the file open
// at fd cannot give: rshared needs it shared, rslave shared or a slave
// (otherwise nothing would ever propagate, silently).
func checkSourcePropagation(fd int, prop string) error {
	if prop != "rshared" && prop != "rslave" {
		return nil
	}
	id := mountID(fd)
	if id == 0 {
		return nil // the kernel cannot tell; runc will do what it can
	}
	point, shared, slave, err := propagationOf(id)
	if err != nil {
		return err
	}
	switch {
	case prop == "rshared" && !shared:
		return fmt.Errorf("it is on mount %s, which is not a shared mount: Bidirectional propagation needs one (mount --make-shared %s)", point, point)
	case prop == "rslave" && !shared && !slave:
		return fmt.Errorf("it is on mount %s, which is neither a shared nor a slave mount: HostToContainer propagation needs one (mount --make-shared %s)", point, point)
	}
	return nil
}
