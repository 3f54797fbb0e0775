package docker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
	"golang.org/x/sys/unix"

	"leci/internal/capped"
	"leci/pod"
)

// Exec runs cmd in a running container, as the container's own user, in its
// working directory and environment, and waits for it. When ctx is done the
// command is killed and ctx's error returned. At most maxOutput bytes of its
// stdout and stderr (interleaved) are kept.
func (b *Backend) Exec(ctx context.Context, id string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	if err := checkID("container", id); err != nil {
		return pod.ExecResult{}, err
	}
	if len(cmd) == 0 {
		return pod.ExecResult{}, errors.New("exec: no command")
	}
	// The calls themselves must not be cut short by ctx: the command is
	// killed when it ends, and its exit is still read.
	nctx := context.WithoutCancel(ctx)
	created, err := b.cli.ContainerExecCreate(nctx, id, container.ExecOptions{Cmd: cmd, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("exec in %s: %w", id, err)
	}
	resp, err := b.cli.ContainerExecAttach(nctx, created.ID, container.ExecAttachOptions{})
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("start exec in %s: %w", id, err)
	}
	defer resp.Close()
	out := &capped.Buffer{Max: maxOutput}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		stdcopy.StdCopy(out, out, resp.Reader)
	}()
	select {
	case <-copied:
	case <-ctx.Done():
		b.killExec(nctx, created.ID)
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		return pod.ExecResult{Output: out.Bytes()}, ctx.Err()
	}
	code, err := b.execExitCode(nctx, created.ID)
	if err != nil {
		return pod.ExecResult{Output: out.Bytes()}, err
	}
	return pod.ExecResult{ExitCode: code, Output: out.Bytes()}, nil
}

// execExitCode reads an exec's exit code once the Engine has seen it end,
// which may be a moment after its output ended.
func (b *Backend) execExitCode(ctx context.Context, execID string) (int, error) {
	delay := time.Millisecond
	deadline := time.Now().Add(10 * time.Second)
	for {
		ins, err := b.cli.ContainerExecInspect(ctx, execID)
		if err != nil {
			return 0, fmt.Errorf("inspect exec: %w", err)
		}
		if !ins.Running {
			return ins.ExitCode, nil
		}
		if time.Now().After(deadline) {
			return 0, errors.New("exec output ended but the command still runs")
		}
		time.Sleep(delay)
		delay = min(2*delay, 100*time.Millisecond)
	}
}

// killExec kills an exec's process. The Engine API has no call for it, so
// its pid is signalled directly, which works only when the Engine runs on
// this host (in its pid namespace).
func (b *Backend) killExec(ctx context.Context, execID string) {
	ins, err := b.cli.ContainerExecInspect(ctx, execID)
	if err != nil || !ins.Running || ins.Pid <= 0 {
		return
	}
	if err := unix.Kill(ins.Pid, unix.SIGKILL); err != nil {
		b.log.Warn("kill exec", "pid", ins.Pid, "err", err)
	}
}

// ExecAttach runs an interactive command attached to eio's streams and
// returns its exit code once it has exited and its output has been copied.
func (b *Backend) ExecAttach(ctx context.Context, id string, eio pod.ExecIO) (int, error) {
	if err := checkID("container", id); err != nil {
		return 0, err
	}
	if len(eio.Cmd) == 0 {
		return 0, errors.New("exec: no command")
	}
	nctx := context.WithoutCancel(ctx)
	// The terminal's first size is known before the start: API 1.42 takes
	// it with the exec (ConsoleSize); older Engines get it at once after.
	var first *pod.TermSize
	if eio.TTY && eio.Resize != nil {
		select {
		case size, ok := <-eio.Resize:
			if ok {
				first = &size
			}
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	var consoleSize *[2]uint
	if first != nil {
		consoleSize = &[2]uint{uint(first.Height), uint(first.Width)}
	}
	created, err := b.cli.ContainerExecCreate(nctx, id, container.ExecOptions{
		ConsoleSize:  consoleSize,
		Cmd:          eio.Cmd,
		Env:          eio.Env,
		WorkingDir:   eio.WorkingDir,
		User:         eio.User,
		Tty:          eio.TTY,
		AttachStdin:  eio.Stdin != nil,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	resp, err := b.cli.ContainerExecAttach(nctx, created.ID, container.ExecAttachOptions{Tty: eio.TTY})
	if err != nil {
		return 0, fmt.Errorf("start exec in %s: %w", id, err)
	}
	defer resp.Close()

	if first != nil {
		b.resizeStartingExec(nctx, created.ID, *first)
	}
	if eio.Resize != nil {
		go b.resizeExec(nctx, created.ID, eio.Resize)
	}
	if eio.Stdin != nil {
		go func() {
			io.Copy(resp.Conn, eio.Stdin)
			if eio.TTY {
				// dockerd closes a terminal session's output when its input
				// closes, so the input stays open; end of input is said as
				// a terminal says it, with ^D.
				resp.Conn.Write([]byte{4})
				return
			}
			// End of input: the command reads EOF, its output goes on.
			resp.CloseWrite()
		}()
	}
	stdout, stderr := writerOr(eio.Stdout), writerOr(eio.Stderr)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		if eio.TTY {
			io.Copy(stdout, resp.Reader)
		} else {
			stdcopy.StdCopy(stdout, stderr, resp.Reader)
		}
	}()
	select {
	case <-copied:
	case <-ctx.Done():
		b.killExec(nctx, created.ID)
		resp.Close()
		<-copied
		return 0, ctx.Err()
	}
	return b.execExitCode(nctx, created.ID)
}

// resizeStartingExec sets the terminal size of an exec just started. The
// Engine holds the call until the process runs; an Engine before API 1.42
// (Docker 23) can size the terminal no earlier, so a command that asks for
// its size at once may still see 0x0 there.
func (b *Backend) resizeStartingExec(ctx context.Context, execID string, size pod.TermSize) {
	if size.Width == 0 && size.Height == 0 {
		return // no size known: the runtime's default
	}
	opts := container.ResizeOptions{Width: uint(size.Width), Height: uint(size.Height)}
	if err := b.cli.ContainerExecResize(ctx, execID, opts); err != nil {
		// An exec that has already ended has no terminal to size.
		b.log.Debug("set the exec's terminal size", "err", err)
	}
}

// resizeExec passes the terminal's later sizes on.
func (b *Backend) resizeExec(ctx context.Context, execID string, sizes <-chan pod.TermSize) {
	for size := range sizes {
		opts := container.ResizeOptions{Width: uint(size.Width), Height: uint(size.Height)}
		if err := b.cli.ContainerExecResize(ctx, execID, opts); err != nil {
			b.log.Debug("resize exec", "err", err)
		}
	}
}

func writerOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
