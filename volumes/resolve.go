package volumes

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Resolution rules for openat2. Inside a volume a symbolic link may be
// followed while it stays inside (RESOLVE_BENEATH refuses absolute links
// and any ".." that climbs out); magic links (/proc/self/fd/N, ...) never.
// ConfigFile paths follow no symbolic link at all.
const (
	resolveInVolume   = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS
	resolveNoSymlinks = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS
)

// openBeneath opens rel below the directory open at root, with openat2 and
// the given resolution rules. An empty rel opens root itself again.
func openBeneath(root int, rel string, flags int, resolve uint64) (int, error) {
	if rel == "" {
		rel = "."
	}
	how := &unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC), Resolve: resolve}
	for {
		fd, err := unix.Openat2(root, rel, how)
		if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
			// EAGAIN: a rename raced with the lookup; the kernel asks to retry.
			continue
		}
		return fd, err
	}
}

// mkdirAllBeneath makes every missing directory of rel below root, each
// with exactly perm (whatever the umask); rel itself may exist as a file. Every prefix is resolved from
// root with the given rules, so a symbolic link planted by a container can
// neither lead the creation outside nor be followed where resolve forbids.
func mkdirAllBeneath(root int, rel string, perm uint32, resolve uint64) error {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	parent, err := unix.Dup(root)
	if err != nil {
		return err
	}
	defer func() { unix.Close(parent) }()
	for i, name := range parts {
		if name == "" || name == "." {
			continue
		}
		if name == ".." {
			return unix.EXDEV
		}
		prefix := strings.Join(parts[:i+1], "/")
		flags := unix.O_PATH | unix.O_DIRECTORY
		if i == len(parts)-1 {
			flags = unix.O_PATH // what exists at the end may be a file
		}
		fd, err := openBeneath(root, prefix, flags, resolve)
		for attempt := 0; errors.Is(err, unix.ENOENT) && attempt < 3; attempt++ {
			switch err := unix.Mkdirat(parent, name, perm); {
			case err == nil:
				if err := chmodNew(parent, name, perm); err != nil {
					return err
				}
			case !errors.Is(err, unix.EEXIST):
				// EEXIST: made by someone else meanwhile, or a dangling
				// symlink; the next lookup tells.
				return err
			}
			fd, err = openBeneath(root, prefix, flags, resolve)
		}
		if err != nil {
			return err
		}
		unix.Close(parent)
		parent = fd
	}
	return nil
}

// chmodNew sets the mode of a directory just made in parent, through a
// handle opened without following a symbolic link.
func chmodNew(parent int, name string, perm uint32) error {
	fd, err := openBeneath(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, resolveNoSymlinks)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, perm)
}

// resolveReason says in words why a path inside a volume did not resolve.
func resolveReason(err error) string {
	switch {
	case errors.Is(err, unix.EXDEV):
		return "it leads outside the volume (through a symbolic link or '..'); only paths inside the volume may be mounted"
	case errors.Is(err, unix.ELOOP):
		return "it goes through a symbolic link that may not be followed here, or through too many"
	case errors.Is(err, unix.ENOENT):
		return "it does not exist in the volume"
	case errors.Is(err, unix.ENOTDIR):
		return "one of its parents is not a directory"
	case errors.Is(err, unix.ENOSYS):
		return "this kernel has no openat2 (Linux 5.6 or later is needed to resolve paths safely)"
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return fmt.Sprint(err)
}
