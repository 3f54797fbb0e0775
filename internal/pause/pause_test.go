package pause

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/internal/testutil"
)

// helperEnv switches the test binary into a helper process; its value is
// the mode.
const helperEnv = "LECI_PAUSE_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helper(mode))
	}
	os.Exit(m.Run())
}

// helper is the process the tests watch. It is a child subreaper, so that,
// like PID 1 of a PID namespace, it inherits the orphans of its children.
// Once ready it prints "ready", then starts a shell that prints the pid of a
// background sleep and exits at once, orphaning the sleep to the helper.
//
//	run:    pause.Run
//	noreap: waits for SIGTERM and reaps nothing (the control: it shows that
//	        the test sees a zombie when there is one)
func helper(mode string) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintln(os.Stderr, "subreaper:", err)
		return 3
	}
	orphan := func() {
		fmt.Println("ready")
		cmd := exec.Command("/bin/sh", "-c", "sleep 0.3 & echo $!")
		cmd.Stdout = os.Stdout
		// Not waited for: the reaping is the code under test.
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "start sh:", err)
			os.Exit(3)
		}
	}
	switch mode {
	case "run":
		started = orphan
		if err := Run(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, "run:", err)
			return 1
		}
		return 0
	case "noreap":
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, unix.SIGTERM)
		orphan()
		<-sigs
		// Leave no zombie to the host's init, which may not reap.
		reapAll()
		return 0
	}
	return 3
}

type helperProc struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{} // closed when the helper was waited for
	err   error         // what Wait said, once done is closed
}

func startHelper(t *testing.T, mode string) *helperProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	h := &helperProc{cmd: cmd, lines: make(chan string, 10), done: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			h.lines <- sc.Text()
		}
		io.Copy(io.Discard, out)
		h.err = cmd.Wait()
		close(h.done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-h.done:
		case <-time.After(5 * time.Second):
		}
	})
	return h
}

func (h *helperProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l := <-h.lines:
		return l
	case <-time.After(10 * time.Second):
		t.Fatal("no line from the helper")
		return ""
	}
}

// terminate sends SIGTERM and wants exit 0 promptly.
func (h *helperProc) terminate(t *testing.T) {
	t.Helper()
	began := time.Now()
	if err := h.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
		if h.err != nil {
			t.Fatalf("after SIGTERM: %v, want exit 0", h.err)
		}
		t.Logf("exited 0 %v after SIGTERM", time.Since(began))
	case <-time.After(3 * time.Second):
		t.Fatal("still running 3 s after SIGTERM")
	}
}

// orphanPID reads the helper's "ready" and the orphan's pid.
func orphanPID(t *testing.T, h *helperProc) int {
	t.Helper()
	if l := h.line(t); l != "ready" {
		t.Fatalf("helper said %q, want ready", l)
	}
	pid, err := strconv.Atoi(h.line(t))
	if err != nil {
		t.Fatalf("orphan pid: %v", err)
	}
	return pid
}

func TestRunReapsAdoptedZombie(t *testing.T) {
	h := startHelper(t, "run")
	waitReaped(t, h, orphanPID(t, h))
	h.terminate(t)
}

// waitReaped waits until the orphan pid, once seen adopted by the helper
// (it lives 300 ms), is gone, reaped by the helper.
func waitReaped(t *testing.T, h *helperProc, pid int) {
	t.Helper()
	adopted := false
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := testutil.Stat(pid)
		if !ok {
			if !adopted {
				t.Fatalf("orphan %d went before it was seen adopted by the helper", pid)
			}
			return
		}
		adopted = adopted || st.PPID == h.cmd.Process.Pid
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d still there 5 s on: state %s, parent %d (helper %d)", pid, st.State, st.PPID, h.cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestControlSeesZombie checks the check: without Run, the orphan stays a
// zombie of the helper.
func TestControlSeesZombie(t *testing.T) {
	h := startHelper(t, "noreap")
	pid := orphanPID(t, h)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, ok := testutil.Stat(pid)
		if !ok {
			t.Fatalf("orphan %d is gone: the helper reaped it, or it was never adopted", pid)
		}
		if st.State == "Z" && st.PPID == h.cmd.Process.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan %d: state %s, parent %d, want a zombie of %d", pid, st.State, st.PPID, h.cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if st, ok := testutil.Stat(pid); !ok || st.State != "Z" {
		t.Fatalf("zombie %d changed: state %q, present %v", pid, st.State, ok)
	}
	h.terminate(t)
}

func TestRunExitsOnSIGINT(t *testing.T) {
	h := startHelper(t, "run")
	waitReaped(t, h, orphanPID(t, h))
	if err := h.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.done:
		if h.err != nil {
			t.Fatalf("after SIGINT: %v, want exit 0", h.err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("still running 3 s after SIGINT")
	}
}

func TestRunIgnoresStraySignals(t *testing.T) {
	h := startHelper(t, "run")
	waitReaped(t, h, orphanPID(t, h))
	for _, s := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGQUIT, syscall.SIGPIPE} {
		if err := h.cmd.Process.Signal(s); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-h.done:
		t.Fatalf("exited on a stray signal: %v", h.err)
	case <-time.After(300 * time.Millisecond):
	}
	h.terminate(t)
}

func TestRunReturnsWhenContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestReapAllAllocatesNothing(t *testing.T) {
	if n := testing.AllocsPerRun(100, reapAll); n != 0 {
		t.Fatalf("reapAll allocates %v times a call", n)
	}
}
