//go:build integration

package containerd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"leci/internal/capped"
	"leci/pod"
)

// TestBackendExecAttach runs interactive commands in a running container:
// stdin to cat, separate stdout and stderr, the exit code, a terminal with
// its size and a resize, and a kill when the context ends.
func TestBackendExecAttach(t *testing.T) {
	e := newBackendEnv(t)
	sb := e.startSandbox(t, e.sandboxConfig())
	cfg := e.containerConfig("app", "exec sleep 3600")
	e.start(t, sb, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	t.Run("stdin", func(t *testing.T) {
		out := sharedOutput()
		code, err := e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{
			Cmd: []string{"cat"}, Stdin: strings.NewReader("hello\nworld\n"), Stdout: out, Stderr: out,
		})
		if err != nil || code != 0 || string(out.Bytes()) != "hello\nworld\n" {
			t.Errorf("cat: code %d, err %v, output %q; want 0 and the input back", code, err, out.Bytes())
		}
	})

	t.Run("no stdin", func(t *testing.T) {
		out := sharedOutput()
		code, err := e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{Cmd: []string{"sh", "-c", "echo start; cat; echo end"}, Stdout: out, Stderr: out})
		if err != nil || code != 0 || string(out.Bytes()) != "start\nend\n" {
			t.Errorf("cat without stdin: code %d, err %v, output %q; want 0, and cat reading nothing", code, err, out.Bytes())
		}
	})

	t.Run("exit code and streams", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		code, err := e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{
			Cmd: []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, Stdout: &stdout, Stderr: &stderr,
		})
		if err != nil || code != 7 || stdout.String() != "out\n" || stderr.String() != "err\n" {
			t.Errorf("code %d, err %v, stdout %q, stderr %q; want 7, out, err", code, err, stdout.String(), stderr.String())
		}
	})

	t.Run("tty", func(t *testing.T) {
		stdinR, stdinW := io.Pipe()
		defer stdinW.Close()
		outR, outW := io.Pipe()
		lines := make(chan string, 100)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(outR)
			for sc.Scan() {
				lines <- strings.TrimRight(sc.Text(), "\r")
			}
		}()
		resize := make(chan pod.TermSize, 2)
		resize <- pod.TermSize{Width: 80, Height: 24}
		type result struct {
			code int
			err  error
		}
		done := make(chan result, 1)
		go func() {
			code, err := e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{
				Cmd: []string{"sh", "-c", `tty; stty size; while read x; do [ "$x" = q ] && exit 3; stty size; done`},
				TTY: true, Stdin: stdinR, Stdout: outW, Resize: resize,
			})
			outW.Close()
			done <- result{code, err}
		}()
		next := func(what string) string {
			t.Helper()
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("output ended before %s", what)
				}
				return l
			case <-ctx.Done():
				t.Fatalf("no %s", what)
			}
			return ""
		}
		if l := next("tty"); !strings.HasPrefix(l, "/dev/pts/") {
			t.Errorf("tty printed %q, want /dev/pts/N", l)
		}
		if l := next("first size"); l != "24 80" {
			t.Errorf("initial stty size %q, want 24 80", l)
		}
		resize <- pod.TermSize{Width: 100, Height: 30}
		// The resize and the input travel separately to the shim: ask for
		// the size until the shell sees the new one.
		for i := 0; ; i++ {
			if _, err := io.WriteString(stdinW, "\n"); err != nil {
				t.Fatal(err)
			}
			if l := next("echo of the newline"); l != "" {
				t.Fatalf("echo of a newline: %q", l)
			}
			l := next("size")
			if l == "30 100" {
				break
			}
			if l != "24 80" || i == 100 {
				t.Fatalf("stty size after a resize: %q, want 30 100", l)
			}
		}
		if _, err := io.WriteString(stdinW, "q\n"); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.code != 3 {
			t.Errorf("tty session: code %d, err %v; want 3", r.code, r.err)
		}
	})

	t.Run("killed when ctx ends", func(t *testing.T) {
		cctx, ccancel := context.WithCancel(ctx)
		defer ccancel()
		outR, outW := io.Pipe()
		done := make(chan error, 1)
		go func() {
			_, err := e.b.ExecAttach(cctx, cfg.ID, pod.ExecIO{
				Cmd: []string{"sh", "-c", "echo started; exec sleep 3601"}, Stdout: outW, Stderr: io.Discard,
			})
			outW.Close()
			done <- err
		}()
		if l, err := bufio.NewReader(outR).ReadString('\n'); err != nil || l != "started\n" {
			t.Fatalf("first output %q, %v", l, err)
		}
		go io.Copy(io.Discard, outR)
		ccancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("exec after cancel: %v, want context.Canceled", err)
		}
		ps := sharedOutput()
		if code, err := e.b.ExecAttach(ctx, cfg.ID, pod.ExecIO{Cmd: []string{"ps", "-o", "args"}, Stdout: ps, Stderr: ps}); err != nil || code != 0 {
			t.Fatalf("ps: code %d, err %v, output %q", code, err, ps.Bytes())
		}
		if strings.Contains(string(ps.Bytes()), "sleep 3601") {
			t.Errorf("the cancelled exec still runs:\n%s", ps.Bytes())
		}
	})
}

// sharedOutput is one writer for both stdout and stderr, which are copied
// by separate goroutines.
func sharedOutput() *capped.Buffer { return &capped.Buffer{Max: 1 << 20} }
