package network

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"leci/internal/netns"
	"leci/internal/nsfile"
)

// ErrNetNSExists is returned by Setup for a group whose network namespace is
// already pinned: setting it up again would leak its first address.
var ErrNetNSExists = errors.New("network namespace already exists")

// isNetNS tells whether path is a pinned namespace, not a plain file
// left behind.
func isNetNS(path string) bool { return nsfile.IsPinned(path) }

// createNetNS makes a new network namespace and pins it by bind mounting it
// onto path, which must not be a live namespace already.
func createNetNS(path string) error {
	if err := makePinPoint(path); err != nil {
		return err
	}
	err := netns.OnThread(func() error {
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			return fmt.Errorf("unshare network namespace: %w", err)
		}
		return nil
	}, func() error {
		if err := unix.Mount(netns.ThreadPath(), path, "none", unix.MS_BIND, ""); err != nil {
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
