// Package netns runs code inside a Linux network namespace: on a goroutine
// locked to an OS thread switched into it, the caller's thread untouched.
// Sockets opened there belong to that namespace for their whole life, which
// is how the network setup and the probes reach into a group's namespace.
package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ThreadPath is the network namespace of the calling OS thread, which
// is not the process's once the thread has switched.
func ThreadPath() string {
	return fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
}

// Run runs fn on an OS thread switched into the network namespace at
// path and waits for it. Sockets and netlink handles that fn opens belong
// to that namespace and stay so after fn returns; goroutines fn starts do
// not run in it.
func Run(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open network namespace: %w", err)
	}
	defer target.Close()

	return OnThread(func() error {
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("enter network namespace %s: %w", path, err)
		}
		return nil
	}, fn)
}

// OnThread runs enter, then fn, on a fresh goroutine locked to its OS
// thread, so the caller's thread is never switched, and switches the thread
// back to its original network namespace afterwards. The thread is unlocked
// only once it is back; otherwise the goroutine ends locked and Go ends the
// thread with it, so no other goroutine ever runs in the other namespace.
func OnThread(enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(ThreadPath())
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
