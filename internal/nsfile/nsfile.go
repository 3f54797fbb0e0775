// Package nsfile holds Linux namespaces as files: a namespace bind mounted
// onto a file lives as long as that mount, with no process in it, and a
// runtime joins it by path (the OCI spec's namespace path). leci keeps a
// group's network, IPC and UTS namespaces so, which is why a group needs a
// process of its own only to be PID 1 of a shared PID namespace.
package nsfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrExists is returned for a path that already holds a live namespace.
var ErrExists = errors.New("namespace already pinned")

// IsPinned tells whether path is a mounted namespace file (nsfs): a pinned
// namespace, not a plain file left behind.
func IsPinned(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// MakePinPoint makes the empty file a namespace is bind mounted onto, and
// its directory (0700: only root joins). A live namespace already at path
// is ErrExists; a plain file is what a crash between create and mount
// leaves: it pins nothing and can go.
func MakePinPoint(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if errors.Is(err, fs.ErrExist) {
		if IsPinned(path) {
			return fmt.Errorf("%s: %w", path, ErrExists)
		}
		if err := os.Remove(path); err != nil {
			return err
		}
		f, err = os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// Unpin unmounts the namespace at path and removes the file. A path that
// is not mounted, or is gone, is not an error.
func Unpin(path string) error {
	// Lazy unmount: a process that still has the file open does not make it
	// busy. Looped, in case the file was mounted over more than once.
	for range 8 {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break
		}
		if err != nil {
			return &os.PathError{Op: "unmount", Path: path, Err: err}
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// IPCUTS are the files of a group's IPC and UTS namespaces.
type IPCUTS struct {
	IPC, UTS string
}

// PinIPCUTS makes new IPC and UTS namespaces, sets hostname in the UTS one
// (when not empty), and pins them at p.IPC and p.UTS. It is done on an OS
// thread locked for it, which is switched back to its own namespaces
// afterwards; a thread that cannot be switched back ends with its
// goroutine, so no other goroutine ever runs in those namespaces. On
// failure nothing is left pinned.
func PinIPCUTS(p IPCUTS, hostname string) (retErr error) {
	for _, path := range []string{p.IPC, p.UTS} {
		if err := MakePinPoint(path); err != nil {
			return err
		}
	}
	defer func() {
		if retErr != nil {
			Unpin(p.IPC)
			Unpin(p.UTS)
		}
	}()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		var orig []*os.File
		defer func() {
			for _, f := range orig {
				f.Close()
			}
		}()
		for _, name := range []string{"ipc", "uts"} {
			f, err := os.Open(threadNSPath(name))
			if err != nil {
				runtime.UnlockOSThread()
				errc <- fmt.Errorf("open the thread's %s namespace: %w", name, err)
				return
			}
			orig = append(orig, f)
		}
		err := pinOnThisThread(p, hostname)
		for i, flag := range []int{unix.CLONE_NEWIPC, unix.CLONE_NEWUTS} {
			if serr := unix.Setns(int(orig[i].Fd()), flag); serr != nil {
				// Left locked: Go ends the thread with the goroutine.
				errc <- errors.Join(err, fmt.Errorf("switch the thread back: %w", serr))
				return
			}
		}
		runtime.UnlockOSThread()
		errc <- err
	}()
	return <-errc
}

// threadNSPath is the namespace file of the calling OS thread, which is
// not the process's once the thread has switched.
func threadNSPath(name string) string {
	return fmt.Sprintf("/proc/%d/task/%d/ns/%s", os.Getpid(), unix.Gettid(), name)
}

func pinOnThisThread(p IPCUTS, hostname string) error {
	if err := unix.Unshare(unix.CLONE_NEWIPC | unix.CLONE_NEWUTS); err != nil {
		return fmt.Errorf("unshare IPC and UTS namespaces: %w", err)
	}
	if hostname != "" {
		if err := unix.Sethostname([]byte(hostname)); err != nil {
			return fmt.Errorf("set hostname %q: %w", hostname, err)
		}
	}
	for _, ns := range []struct{ name, path string }{{"ipc", p.IPC}, {"uts", p.UTS}} {
		if err := unix.Mount(threadNSPath(ns.name), ns.path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin %s namespace on %s: %w", ns.name, ns.path, err)
		}
	}
	return nil
}

// Pinned tells whether both namespaces of p are pinned.
func (p IPCUTS) Pinned() bool { return IsPinned(p.IPC) && IsPinned(p.UTS) }

// Unpin removes both namespaces' files.
func (p IPCUTS) Unpin() error { return errors.Join(Unpin(p.IPC), Unpin(p.UTS)) }
