package containerd

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// sandboxMountpoints are made in the sandbox rootfs up front: the spec's
// default mounts (/dev, /proc, /sys and the /run tmpfs) land on them. runc
// would otherwise create them in the shared host directory, and the next
// start would find the tree changed and rebuild it under a starting sandbox.
var sandboxMountpoints = []string{"dev", "proc", "run", "sys"}

// fileStamp identifies a file's version without reading it.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func stampOf(fi fs.FileInfo) fileStamp {
	st, _ := fi.Sys().(*syscall.Stat_t)
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st != nil {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}

// ensureSandboxRootfs returns the sandbox's root filesystem, a directory
// holding only the configured files (mode 0755) and empty mount points. It
// is built once and rebuilt when a source file changed; a rebuild is made
// aside and swapped in with one rename, so a sandbox starting meanwhile sees
// the old tree or the new one, never half of one.
func (b *Backend) ensureSandboxRootfs() (string, error) {
	b.rootfsMu.Lock()
	defer b.rootfsMu.Unlock()
	dir := b.sandboxRootfsPath()
	current, err := rootfsCurrent(dir, b.opts.SandboxRootfsFiles, b.rootfsSeen)
	if err != nil {
		return "", err
	}
	if current {
		return dir, nil
	}
	if err := os.MkdirAll(b.opts.Root, 0o711); err != nil {
		return "", fmt.Errorf("sandbox rootfs: %w", err)
	}
	tmp, err := os.MkdirTemp(b.opts.Root, "."+sandboxRootfsDir+"-")
	if err != nil {
		return "", fmt.Errorf("sandbox rootfs: %w", err)
	}
	defer os.RemoveAll(tmp) // after a swap it holds the old tree
	if err := buildRootfs(tmp, b.opts.SandboxRootfsFiles); err != nil {
		return "", fmt.Errorf("sandbox rootfs: %w", err)
	}
	if err := swapDir(tmp, dir); err != nil {
		return "", fmt.Errorf("sandbox rootfs: %w", err)
	}
	clear(b.rootfsSeen)
	if _, err := rootfsCurrent(dir, b.opts.SandboxRootfsFiles, b.rootfsSeen); err != nil {
		return "", err
	}
	b.log.Info("prepared sandbox rootfs", "dir", dir)
	return dir, nil
}

// rootfsCurrent tells whether dir holds exactly files with their sources'
// content. Files whose source and copy are unchanged since seen recorded
// them are not read again; those found equal are recorded.
func rootfsCurrent(dir string, files map[string]string, seen map[string]fileStamp) (bool, error) {
	want := map[string]bool{}
	for _, m := range sandboxMountpoints {
		want[m] = true
	}
	for dest := range files {
		want[topLevel(dest)] = true
	}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sandbox rootfs: %w", err)
	}
	if len(entries) != len(want) {
		return false, nil
	}
	for _, e := range entries {
		if !want[e.Name()] {
			return false, nil
		}
	}
	for dest, src := range files {
		si, err := os.Stat(src)
		if err != nil {
			return false, fmt.Errorf("sandbox rootfs file %s: %w", dest, err)
		}
		di, err := os.Lstat(filepath.Join(dir, dest))
		if err != nil || !di.Mode().IsRegular() || di.Mode().Perm() != 0o755 {
			return false, nil
		}
		key := dest + "\x00" + src
		ss, ds := stampOf(si), stampOf(di)
		if seen[key+"\x00src"] == ss && seen[key+"\x00dest"] == ds {
			continue
		}
		if !os.SameFile(si, di) {
			same, err := sameContent(src, filepath.Join(dir, dest), si.Size(), di.Size())
			if err != nil || !same {
				return false, err
			}
		}
		seen[key+"\x00src"], seen[key+"\x00dest"] = ss, ds
	}
	return true, nil
}

func topLevel(p string) string {
	first, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	return first
}

func sameContent(a, b string, sizeA, sizeB int64) (bool, error) {
	if sizeA != sizeB {
		return false, nil
	}
	ha, err := hashFile(a)
	if err != nil {
		return false, err
	}
	hb, err := hashFile(b)
	if err != nil {
		return false, nil // an unreadable copy is rebuilt
	}
	return bytes.Equal(ha, hb), nil
}

func hashFile(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// buildRootfs fills the empty directory dir.
func buildRootfs(dir string, files map[string]string) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for _, m := range sandboxMountpoints {
		if err := os.Mkdir(filepath.Join(dir, m), 0o755); err != nil {
			return err
		}
	}
	for _, dest := range slices.Sorted(maps.Keys(files)) {
		target := filepath.Join(dir, dest)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		if err := placeFile(files[dest], target); err != nil {
			return fmt.Errorf("%s: %w", dest, err)
		}
	}
	return nil
}

// placeFile hard-links src to target when that gives a root-owned 0755
// file (no copy of a 30 MB binary per rebuild), and copies it otherwise.
func placeFile(src, target string) error {
	si, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st, ok := si.Sys().(*syscall.Stat_t); ok && si.Mode().Perm() == 0o755 && st.Uid == 0 {
		if err := os.Link(src, target); err == nil {
			return nil
		}
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	// The umask may have narrowed the mode.
	return os.Chmod(target, 0o755)
}

// swapDir puts the directory fresh at dir in one step. An old dir is
// exchanged with fresh (so fresh's path then holds the old tree, for the
// caller to remove); a missing one is simply renamed into place.
func swapDir(fresh, dir string) error {
	err := unix.Renameat2(unix.AT_FDCWD, fresh, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.ENOENT):
		return os.Rename(fresh, dir)
	case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS):
		// A filesystem without RENAME_EXCHANGE: move the old tree into
		// fresh's place in two renames, with a moment where dir is absent.
		old := fresh + ".old"
		if err := os.Rename(dir, old); err != nil {
			return err
		}
		if err := os.Rename(fresh, dir); err != nil {
			return errors.Join(err, os.Rename(old, dir))
		}
		return os.Rename(old, fresh)
	default:
		return &os.LinkError{Op: "exchange", Old: fresh, New: dir, Err: err}
	}
}
