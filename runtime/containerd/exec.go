package containerd

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/internal/capped"
	"leci/pod"
)

// Exec runs cmd in a running container, as the container's own user, in its
// working directory and environment, and waits for it. When ctx is done the
// command is killed and ctx's error returned. At most maxOutput bytes of its
// stdout and stderr (interleaved) are kept.
func (b *Backend) Exec(ctx context.Context, id string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	nctx := b.conn.WithNamespace(context.WithoutCancel(ctx))
	task, ps, err := b.execProcess(nctx, id, cmd)
	if err != nil {
		return pod.ExecResult{}, err
	}
	ps.Terminal = false

	out := &capped.Buffer{Max: maxOutput}
	execID := execName()
	proc, err := task.Exec(nctx, execID, ps, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer deleteExec(nctx, proc)
	exited, err := proc.Wait(nctx)
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("wait for exec in %s: %w", id, err)
	}
	if err := proc.Start(nctx); err != nil {
		return pod.ExecResult{}, fmt.Errorf("start exec in %s: %w", id, err)
	}
	select {
	case st := <-exited:
		proc.IO().Wait()
		return pod.ExecResult{ExitCode: int(st.ExitCode()), Output: out.Bytes()}, nil
	case <-ctx.Done():
		killExec(nctx, proc, exited)
		return pod.ExecResult{Output: out.Bytes()}, ctx.Err()
	}
}

// execProcess loads a container's task and returns the process spec of an
// exec of cmd in it: the container's own user, working directory and
// environment. nctx carries the namespace.
func (b *Backend) execProcess(nctx context.Context, id string, cmd []string) (client.Task, *specs.Process, error) {
	if err := checkID("container", id); err != nil {
		return nil, nil, err
	}
	if len(cmd) == 0 {
		return nil, nil, errors.New("exec: no command")
	}
	ctr, err := b.conn.Client().LoadContainer(nctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("load container %s: %w", id, err)
	}
	task, err := ctr.Task(nctx, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("load task %s: %w", id, err)
	}
	spec, err := ctr.Spec(nctx)
	if err != nil {
		return nil, nil, fmt.Errorf("container %s spec: %w", id, err)
	}
	if spec.Process == nil {
		return nil, nil, fmt.Errorf("container %s spec has no process", id)
	}
	ps := *spec.Process
	ps.Args = cmd
	ps.ConsoleSize = nil
	return task, &ps, nil
}

// deleteExec removes an exec process (and its FIFOs), on a bounded context
// of its own so that it runs even after the caller's ctx is done.
func deleteExec(nctx context.Context, proc client.Process) {
	dctx, cancel := context.WithTimeout(nctx, 10*time.Second)
	defer cancel()
	proc.Delete(dctx)
}

// killExec kills an exec process and waits a little for its exit, so that
// deleteExec finds it stopped.
func killExec(nctx context.Context, proc client.Process, exited <-chan client.ExitStatus) {
	proc.Kill(nctx, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
}

func execName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "exec-" + hex.EncodeToString(b)
}

// ExecAttach runs an interactive command attached to eio's streams, as the
// container's own user, in its working directory and environment, and
// returns its exit code once it has exited and its output has been copied.
// When ctx is done the command is killed and ctx's error returned.
//
// With a TTY the first size on eio.Resize is awaited and becomes the
// terminal's initial size (the spec's ConsoleSize: a resize before the start
// would find no console yet); later sizes resize it. Reading eio.Stdin starts
// only once the command has started, and its end (or read error) closes the
// command's stdin, which the shim keeps open otherwise. A read of eio.Stdin
// blocked when the command exits is left to the caller to end (by closing
// what it reads from). Stdout and Stderr are written by two goroutines: one
// writer given for both must be safe for that.
func (b *Backend) ExecAttach(ctx context.Context, id string, eio pod.ExecIO) (int, error) {
	nctx := b.conn.WithNamespace(context.WithoutCancel(ctx))
	task, ps, err := b.execProcess(nctx, id, eio.Cmd)
	if err != nil {
		return 0, err
	}
	if err := applyExecSettings(ps, eio); err != nil {
		return 0, err
	}
	ps.Terminal = eio.TTY
	var resize <-chan pod.TermSize
	if eio.TTY {
		resize = eio.Resize
		if resize != nil {
			select {
			case sz, ok := <-resize:
				if ok && sz.Width > 0 && sz.Height > 0 {
					ps.ConsoleSize = &specs.Box{Width: uint(sz.Width), Height: uint(sz.Height)}
				}
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}

	stdout, stderr := eio.Stdout, eio.Stderr
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil && !eio.TTY {
		stderr = io.Discard
	}
	var stdin *execStdin
	streams := cio.WithStreams(nil, stdout, stderr)
	if eio.Stdin != nil {
		stdin = &execStdin{r: eio.Stdin, started: make(chan struct{})}
		streams = cio.WithStreams(stdin, stdout, stderr)
		// Unblocks the copy goroutine however this ends; its Read then
		// answers EOF without touching eio.Stdin.
		defer stdin.start(nil)
	}
	opts := []cio.Opt{streams}
	if eio.TTY {
		opts = append(opts, cio.WithTerminal)
	}
	proc, err := task.Exec(nctx, execName(), ps, cio.NewCreator(opts...))
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer deleteExec(nctx, proc)
	exited, err := proc.Wait(nctx)
	if err != nil {
		return 0, fmt.Errorf("wait for exec in %s: %w", id, err)
	}
	if err := proc.Start(nctx); err != nil {
		return 0, fmt.Errorf("start exec in %s: %w", id, err)
	}
	if stdin != nil {
		stdin.start(func() {
			if err := proc.CloseIO(nctx, client.WithStdinCloser); err != nil {
				b.log.Debug("close exec stdin", "container", id, "err", err)
			}
		})
	}
	resizeDone := make(chan struct{})
	defer close(resizeDone)
	if resize != nil {
		go func() {
			for {
				select {
				case sz, ok := <-resize:
					if !ok {
						return
					}
					if err := proc.Resize(nctx, uint32(sz.Width), uint32(sz.Height)); err != nil {
						b.log.Debug("resize exec terminal", "container", id, "err", err)
					}
				case <-resizeDone:
					return
				}
			}
		}()
	}

	select {
	case st := <-exited:
		code, _, err := st.Result()
		if err != nil {
			return 0, fmt.Errorf("exec in %s: %w", id, err)
		}
		// The output may lag the exit; a process the command left behind
		// holding its output open must not hold the session past ctx.
		copied := make(chan struct{})
		go func() { proc.IO().Wait(); close(copied) }()
		select {
		case <-copied:
		case <-ctx.Done():
			proc.IO().Cancel()
			return int(code), ctx.Err()
		}
		return int(code), nil
	case <-ctx.Done():
		killExec(nctx, proc, exited)
		return 0, ctx.Err()
	}
}

// execStdin is an exec's stdin as cio copies it: reading waits for the
// command's start (before it there is no process whose stdin to close), and
// the first read error or end calls onEnd once, to close the command's stdin.
type execStdin struct {
	r         io.Reader
	started   chan struct{}
	startOnce sync.Once
	onEnd     func() // nil when the command never started
	endOnce   sync.Once
}

// start lets reads begin; onEnd is called at the input's end. Only the first
// call counts; start(nil) makes reads answer EOF at once.
func (s *execStdin) start(onEnd func()) {
	s.startOnce.Do(func() {
		s.onEnd = onEnd
		close(s.started)
	})
}

func (s *execStdin) Read(p []byte) (int, error) {
	<-s.started
	if s.onEnd == nil {
		return 0, io.EOF
	}
	n, err := s.r.Read(p)
	if err != nil {
		s.endOnce.Do(s.onEnd)
	}
	return n, err
}

// applyExecSettings gives an exec process the environment, working
// directory and user eio asks for. A user is UID[:GID]: a name would need
// the container's /etc/passwd, which the exec does not read.
func applyExecSettings(ps *specs.Process, eio pod.ExecIO) error {
	if len(eio.Env) > 0 {
		// A copy: the slice is the container spec's. A key given replaces
		// the container's own (the first of two would win in getenv).
		ps.Env = slices.Clone(ps.Env)
		for _, kv := range eio.Env {
			key, _, _ := strings.Cut(kv, "=")
			ps.Env = slices.DeleteFunc(ps.Env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
			ps.Env = append(ps.Env, kv)
		}
	}
	if eio.WorkingDir != "" {
		ps.Cwd = eio.WorkingDir
	}
	if eio.User != "" {
		uid, gid, hasGID := strings.Cut(eio.User, ":")
		u, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return fmt.Errorf("exec user %q: containerd takes a user as UID[:GID], in numbers", eio.User)
		}
		ps.User.UID, ps.User.AdditionalGids = uint32(u), nil
		if hasGID {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return fmt.Errorf("exec user %q: containerd takes a user as UID[:GID], in numbers", eio.User)
			}
			ps.User.GID = uint32(g)
		}
	}
	return nil
}
