package network

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"leci/internal/nsfile"
)

// ErrNetNSExists is returned by Setup for a group whose network namespace is
// already pinned: setting it up again would leak its first address.
var ErrNetNSExists = errors.New("network namespace already exists")

// threadNetNSPath is the network namespace of the calling OS thread, which
// is not the process's once the thread has switched.
func threadNetNSPath() string {
	return fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
}

// isNetNS tells whether path is a pinned namespace, not a plain file
// left behind.
func isNetNS(path string) bool { return nsfile.IsPinned(path) }

// createNetNS makes a new network namespace and pins it by bind mounting it
// onto path, which must not be a live namespace already.
func createNetNS(path string) error {
	if err := makePinPoint(path); err != nil {
		return err
	}
	err := onNetNSThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		return nil
	}, func() error {
		if err := unix.Mount(threadNetNSPath(), path, "none", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("pin network namespace on %s: %w", path, err)
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// makePinPoint makes the empty file a namespace is bind mounted onto; a
// live namespace already at path is ErrNetNSExists.
func makePinPoint(path string) error {
	err := nsfile.MakePinPoint(path)
	if errors.Is(err, nsfile.ErrExists) {
		return fmt.Errorf("%s: %w", path, ErrNetNSExists)
	}
	return err
}

// pinNetNS pins the existing network namespace nsPath (a /proc/<pid>/ns/net
// file, or another pinned one) at path, as createNetNS pins a new one.
func pinNetNS(nsPath, path string) error {
	if !isNetNS(nsPath) {
		return fmt.Errorf("%s is not a network namespace", nsPath)
	}
	if err := makePinPoint(path); err != nil {
		return err
	}
	if err := unix.Mount(nsPath, path, "none", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("pin network namespace %s on %s: %w", nsPath, path, err)
	}
	return nil
}

// removeNetNS unpins the namespace at path and removes the file. A path
// that is not mounted, or is gone, is not an error.
func removeNetNS(path string) error { return nsfile.Unpin(path) }

// RunInNetNS runs fn on an OS thread switched into the network namespace at
// path and waits for it. Sockets and netlink handles that fn opens belong
// to that namespace and stay so after fn returns; goroutines fn starts do
// not run in it.
func RunInNetNS(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()

	return onNetNSThread(func() error {
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", path, err)
		}
		return nil
	}, fn)
}

// onNetNSThread runs enter, then fn, on a fresh goroutine locked to its OS
// thread, so the caller's thread is never switched, and switches the thread
// back to its original network namespace afterwards. The thread is unlocked
// only once it is back; otherwise the goroutine ends locked and Go ends the
// thread with it, so no other goroutine ever runs in the other namespace.
func onNetNSThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(threadNetNSPath())
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(fnErr, fmt.Errorf("switch back to the original network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}
