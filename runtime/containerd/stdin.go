package containerd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"leci/pod"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"golang.org/x/sys/unix"
)

// A container with Stdin gets a stdin FIFO, <root>/stdio/<id>/in: the
// runc shim copies it to the process's stdin and holds a write end of its
// own until CloseIO, so the process reads no end of file while nothing is
// attached; an attach opens the FIFO and writes into it, from any leci
// process of the host.
//
// The shim connects stdin only with FIFO IO: its binary logger (how other
// containers log) leaves the process's stdin on /dev/null. Such a
// container's stdout and stderr therefore go to FIFOs as well (out, err),
// which the log writer reads: the same leci-helper log-writer the shim runs
// for the others, with the same files (the FIFOs' read ends as fds 3 and 4,
// the ready pipe as 5), but started by leci. It runs in a session of its
// own, so that it outlives the leci process that started it, and ends at
// the end of file of both FIFOs, once the shim has closed them after the
// process's exit. With a terminal, the shim copies the stdin FIFO to it
// whatever the logger, and the binary logger stays.

// stdioDir is where the FIFOs of container id are.
func (b *Backend) stdioDir(id string) string { return filepath.Join(b.opts.Root, "stdio", id) }

// The FIFOs' names in stdioDir.
const (
	stdinFIFO  = "in"
	stdoutFIFO = "out"
	stderrFIFO = "err"
)

// newTaskFor creates the task of a container with its IO: its log, a terminal when it
// has one, and its stdin FIFO with Stdin.
func (b *Backend) newTaskFor(ctx context.Context, made madeContainer) (client.Task, error) {
	ctr, spec, ext := made.ctr, made.spec, made.ext
	if !ext.Stdin {
		return b.newTask(ctx, ctr, spec, made.rootfs, b.ioFor(ext))
	}
	dir := b.stdioDir(ctr.ID())
	if err := makeFIFOs(dir); err != nil {
		return nil, fmt.Errorf("container %s: %w", ctr.ID(), err)
	}
	stdin := filepath.Join(dir, stdinFIFO)
	if ext.TTY {
		return b.newTask(ctx, ctr, spec, made.rootfs, withStdin(b.ioFor(ext), stdin))
	}
	fio, err := b.startFIFOLogWriter(dir, ext.LogPath)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ctr.ID(), err)
	}
	// Once the task exists the shim holds the output FIFOs' write ends,
	// and the log writer's end of file is theirs.
	defer fio.Close()
	return b.newTask(ctx, ctr, spec, made.rootfs, func(string) (cio.IO, error) { return fio, nil })
}

// makeFIFOs makes dir anew with the three FIFOs, root's alone.
func makeFIFOs(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, name := range []string{stdinFIFO, stdoutFIFO, stderrFIFO} {
		if err := unix.Mkfifo(filepath.Join(dir, name), 0o600); err != nil {
			return fmt.Errorf("make FIFO %s: %w", name, err)
		}
	}
	return nil
}

// startFIFOLogWriter starts the log writer on the output FIFOs of dir and
// waits until it is ready. The returned IO, given to the task, holds a
// write end of each output FIFO until it is closed: without one, the
// writer would read end of file before the shim has opened them.
func (b *Backend) startFIFOLogWriter(dir, logPath string) (*fifoIO, error) {
	args, err := b.logWriterArgs(logPath)
	if err != nil {
		return nil, err
	}
	fio := &fifoIO{config: cio.Config{Stdin: filepath.Join(dir, stdinFIFO), Stdout: filepath.Join(dir, stdoutFIFO), Stderr: filepath.Join(dir, stderrFIFO)}}
	var readers []*os.File
	defer func() {
		for _, f := range readers {
			f.Close()
		}
	}()
	for _, path := range []string{fio.config.Stdout, fio.config.Stderr} {
		// O_RDWR opens a FIFO without waiting for a reader; O_NONBLOCK
		// lets the read end open with no writer yet.
		keep, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			fio.Close()
			return nil, err
		}
		fio.keep = append(fio.keep, keep)
		r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			fio.Close()
			return nil, err
		}
		readers = append(readers, r)
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		fio.Close()
		return nil, err
	}
	defer readyR.Close()
	cmd := exec.Command(args[0], args[1:]...)
	cmd.ExtraFiles = append(readers, readyW)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	readyW.Close()
	if err != nil {
		fio.Close()
		return nil, fmt.Errorf("start the log writer: %w", err)
	}
	// The writer is this process's child until this process ends.
	go func() { _ = cmd.Wait() }()
	if _, err := readyR.Read(make([]byte, 1)); err != nil && !errors.Is(err, io.EOF) {
		fio.Close()
		return nil, fmt.Errorf("wait for the log writer: %w", err)
	}
	return fio, nil
}

// logWriterArgs is the command line of the log writer of logPath: the one
// the shim would run for LogIO's binary URI, which it builds the same way
// (the URI's path, then each query key with its first value).
func (b *Backend) logWriterArgs(logPath string) ([]string, error) {
	if logPath == "" {
		return nil, errors.New("a container with Stdin needs a log for its output")
	}
	if b.opts.LogIO == nil {
		return nil, errors.New("a container with Stdin needs a binary log writer, and the backend has none (BackendOptions.LogIO)")
	}
	i, err := b.opts.LogIO(logPath)("")
	if err != nil {
		return nil, err
	}
	stdout := i.Config().Stdout
	i.Close()
	u, err := url.Parse(stdout)
	if err != nil || u.Scheme != "binary" {
		return nil, fmt.Errorf("a container with Stdin needs a binary log writer, and its log goes to %q", stdout)
	}
	args := []string{u.Path}
	q := u.Query()
	for _, k := range slices.Sorted(maps.Keys(q)) {
		args = append(args, k, q.Get(k))
	}
	return args, nil
}

// fifoIO is a task's IO as FIFO paths the shim opens; leci copies nothing.
type fifoIO struct {
	config cio.Config
	once   sync.Once
	keep   []*os.File
}

func (f *fifoIO) Config() cio.Config { return f.config }
func (f *fifoIO) Cancel()            {}
func (f *fifoIO) Wait()              {}
func (f *fifoIO) Close() error {
	f.once.Do(func() {
		for _, k := range f.keep {
			k.Close()
		}
	})
	return nil
}

// withStdin adds the stdin FIFO to c's IO.
func withStdin(c cio.Creator, stdin string) cio.Creator {
	return func(id string) (cio.IO, error) {
		i, err := c(id)
		if err != nil {
			return nil, err
		}
		return stdinIO{i, stdin}, nil
	}
}

type stdinIO struct {
	cio.IO
	stdin string
}

func (s stdinIO) Config() cio.Config {
	c := s.IO.Config()
	c.Stdin = s.stdin
	return c
}

// OpenStdin opens the stdin FIFO of a running container with Stdin.
func (b *Backend) OpenStdin(ctx context.Context, id string) (io.WriteCloser, error) {
	ctx, ctr, ext, err := b.loadWithExtension(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ext.Stdin {
		return nil, fmt.Errorf("container %s has no stdin", id)
	}
	// Non-blocking, the open fails (ENXIO) rather than wait when the
	// shim's read end is gone: the process has ended or its stdin was
	// closed.
	f, err := os.OpenFile(filepath.Join(b.stdioDir(id), stdinFIFO), os.O_WRONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, unix.ENXIO) || errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("the stdin of container %s is closed: %w", id, pod.ErrNotRunning)
	}
	if err != nil {
		return nil, err
	}
	w := &stdinWriter{File: f}
	if ext.StdinOnce {
		w.closeIO = func() error {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			task, err := ctr.Task(cctx, nil)
			if err == nil {
				err = task.CloseIO(cctx, client.WithStdinCloser)
			}
			if errdefs.IsNotFound(err) {
				return nil
			}
			return err
		}
	}
	return w, nil
}

// stdinWriter is an attach's end of a stdin FIFO; closeIO, with
// StdinOnce, closes the shim's, which ends the process's stdin.
type stdinWriter struct {
	*os.File
	closeIO func() error
}

func (w *stdinWriter) Close() error {
	err := w.File.Close()
	if w.closeIO != nil {
		err = errors.Join(err, w.closeIO())
	}
	return err
}

// removeStdio removes a container's FIFOs.
func (b *Backend) removeStdio(id string) {
	if err := os.RemoveAll(b.stdioDir(id)); err != nil {
		b.log.Warn("remove container FIFOs", "container", id, "err", err)
	}
}
