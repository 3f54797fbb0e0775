package logs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// WriterCommand is the name of leci's hidden subcommand that runs the binary
// logger: the runc shim runs "<leci> log-writer <path>".
const WriterCommand = "log-writer"

// The files the runc shim passes to a binary logger (cmd.ExtraFiles, so they
// start at 3): the read ends of the container's stdout and stderr pipes, and
// the write end of a pipe the shim reads from until the logger is ready.
const (
	shimStdoutFD = 3
	shimStderrFD = 4
	shimReadyFD  = 5
)

// BinaryArgs returns the args for cio.BinaryIO(leciPath, BinaryArgs(path)),
// with which the runc shim runs
//
//	<leciPath> log-writer <path>
//
// containerd's client encodes the args as the query of a binary:// URI. The
// shim (NewBinaryCmd: pkg/process/io_util.go in containerd 1.6,
// cmd/containerd-shim-runc-v2/process/io_util.go in 2.x, the same code)
// builds argv by ranging over the parsed query, a map: for each key it
// appends the key, then the key's first value. With two keys the order of
// the pairs would change from run to run, so there is one key, the
// subcommand, and its value is the log path. The shim also replaces the
// environment with CONTAINER_ID and CONTAINER_NAMESPACE alone (no PATH, no
// HOME), leaves stdin, stdout and stderr on /dev/null and keeps its own
// working directory, which is why path must be absolute.
func BinaryArgs(path string) map[string]string {
	return map[string]string{WriterCommand: path}
}

// RunShimWriter is the main of "leci log-writer PATH": RunWriter on the
// files the shim passes (fd 3 stdout, fd 4 stderr, fd 5 ready), until both
// streams end.
//
// The writer is the shim's child, not the leci daemon's, so it does not care
// whether the daemon runs. When the task is deleted the shim closes its ends
// of the pipes and then sends SIGTERM, waiting 12 s before SIGKILL (1.6 and
// 2.x alike): SIGTERM and SIGINT therefore do not stop the writer at once but
// start the drain (WriterOptions.DrainTimeout), and a normal end exits 0.
// SIGHUP and SIGPIPE are ignored: neither means the logs should stop.
func RunShimWriter(ctx context.Context, path string, opts WriterOptions) error {
	if !filepath.IsAbs(path) {
		return fmt.Errorf("log path %q is not absolute", path)
	}
	files := make([]*os.File, 0, 3)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	for _, fd := range []int{shimStdoutFD, shimStderrFD, shimReadyFD} {
		if err := checkShimFD(fd); err != nil {
			return err
		}
		if fd != shimReadyFD {
			// Non-blocking, the fd goes through Go's poller, so that a read
			// deadline can end the drain when another process still holds
			// the pipe's write end (a container's orphaned child, say).
			if err := unix.SetNonblock(fd, true); err != nil {
				return fmt.Errorf("fd %d: set non-blocking: %w", fd, err)
			}
		}
		files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("fd%d", fd)))
	}

	signal.Ignore(unix.SIGHUP, unix.SIGPIPE)
	ctx, stop := signal.NotifyContext(ctx, unix.SIGTERM, unix.SIGINT)
	defer stop()
	return RunWriter(ctx, path, files[0], files[1], files[2], opts)
}

// checkShimFD makes sure fd is the pipe end the shim passes: run any other
// way, fds 3 to 5 may be free or, worse, the Go runtime's own (epoll, eventfd).
func checkShimFD(fd int) error {
	wantMode, end := unix.O_RDONLY, "read"
	if fd == shimReadyFD {
		wantMode, end = unix.O_WRONLY, "write"
	}
	var st unix.Stat_t
	err := unix.Fstat(fd, &st)
	if err == nil && st.Mode&unix.S_IFMT != unix.S_IFIFO {
		err = errors.New("not a pipe")
	}
	if err == nil {
		var fl int
		fl, err = unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
		if err == nil && fl&unix.O_ACCMODE != wantMode {
			err = fmt.Errorf("not a pipe's %s end", end)
		}
	}
	if err != nil {
		return fmt.Errorf("fd %d: %w (%s is run by containerd's shim, which passes stdout and stderr as fds 3 and 4 and a ready pipe as fd 5)", fd, err, WriterCommand)
	}
	return nil
}
