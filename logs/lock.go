package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// lockName is the file a writer holds a shared flock on while it runs. The
// lock, not a pid file, tells readers whether a writer is still there: the
// kernel drops it however the writer ends, SIGKILL included. It is shared
// so that a writer never waits for another (two writers on one path are a
// caller's mistake, not something to queue up).
func lockName(path string) string { return path + ".lock" }

// lockWriter takes the shared lock for a writer of path.
func lockWriter(path string) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(lockName(path), os.O_RDONLY|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log lock: %w", err)
	}
	// Blocking: a reader in Writing holds the lock exclusively only for
	// an instant.
	if err := flock(f, unix.LOCK_SH); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// Writing reports whether a writer (RunWriter) has path open. It is false
// before the writer started, too: a caller asks only once the container's
// task exists, since the shim waits for its writer to be ready before it
// answers the task's creation.
func Writing(path string) (bool, error) {
	f, err := os.Open(lockName(path))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open log lock: %w", err)
	}
	defer f.Close()
	err = flock(f, unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		return false, nil // closing the file releases the lock
	case errors.Is(err, unix.EWOULDBLOCK):
		return true, nil
	default:
		return false, fmt.Errorf("lock %s: %w", f.Name(), err)
	}
}

func flock(f *os.File, how int) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		for {
			ferr = unix.Flock(int(fd), how)
			if !errors.Is(ferr, unix.EINTR) {
				return
			}
		}
	}); err != nil {
		return err
	}
	return ferr
}
