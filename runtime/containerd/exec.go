package containerd

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"

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
	nctx := b.conn.WithNamespace(context.WithoutCancel(ctx))
	ctr, err := b.conn.Client().LoadContainer(nctx, id)
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("load container %s: %w", id, err)
	}
	task, err := ctr.Task(nctx, nil)
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("load task %s: %w", id, err)
	}
	spec, err := ctr.Spec(nctx)
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("container %s spec: %w", id, err)
	}
	ps := *spec.Process
	ps.Args = cmd
	ps.Terminal = false

	out := &boundedBuffer{max: maxOutput}
	execID := execName()
	proc, err := task.Exec(nctx, execID, &ps, cio.NewCreator(cio.WithStreams(nil, out, out)))
	if err != nil {
		return pod.ExecResult{}, fmt.Errorf("exec in %s: %w", id, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(nctx, 10*time.Second)
		defer cancel()
		proc.Delete(dctx)
	}()
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
		proc.Kill(nctx, syscall.SIGKILL)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
		return pod.ExecResult{Output: out.Bytes()}, ctx.Err()
	}
}

func execName() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "exec-" + hex.EncodeToString(b)
}

// boundedBuffer keeps the first max bytes written to it and drops the rest,
// so that a chatty command cannot grow leci's memory.
type boundedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *boundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// ExecAttach runs an interactive command attached to eio's streams.
func (b *Backend) ExecAttach(ctx context.Context, id string, eio pod.ExecIO) (int, error) {
	return 0, errors.ErrUnsupported
}
