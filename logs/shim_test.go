package logs

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/cio"
)

// TestMain lets the test binary stand in for "leci log-writer PATH", so
// that the shim's argv contract is tested on this very code.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && os.Args[1] == WriterCommand {
		if err := RunShimWriter(context.Background(), os.Args[2], WriterOptions{}); err != nil {
			fmt.Fprintln(os.Stderr, "log-writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// shimCmd builds the logger's command the way the runc shim does
// (NewBinaryCmd, the same in containerd 1.6 and 2.x): the path of the URI is
// the binary, each query key and its first value are arguments, and the
// environment is CONTAINER_ID and CONTAINER_NAMESPACE alone.
func shimCmd(uri *url.URL, id, ns string) *exec.Cmd {
	var args []string
	for k, vs := range uri.Query() {
		args = append(args, k)
		if len(vs) > 0 {
			args = append(args, vs[0])
		}
	}
	cmd := exec.Command(uri.Path, args...)
	cmd.Env = []string{"CONTAINER_ID=" + id, "CONTAINER_NAMESPACE=" + ns}
	return cmd
}

func TestBinaryArgsArgv(t *testing.T) {
	// A path that needs escaping in a query.
	path := "/var/lib/leci/groups/eci-1/logs/a b&c=d;e?.log"
	c, err := cio.BinaryIO("/usr/local/bin/leci", BinaryArgs(path))("ctr")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	if cfg.Stdout != cfg.Stderr || !strings.HasPrefix(cfg.Stdout, "binary:///usr/local/bin/leci?") {
		t.Fatalf("URIs %q, %q", cfg.Stdout, cfg.Stderr)
	}
	uri, err := url.Parse(cfg.Stdout)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/usr/local/bin/leci", WriterCommand, path}
	for range 20 { // map order would show here
		if got := shimCmd(uri, "ctr", "ns").Args; !slices.Equal(got, want) {
			t.Fatalf("argv %q, want %q", got, want)
		}
	}
}

// fakeShim starts the logger as the shim does and waits for it to be ready.
type fakeShim struct {
	cmd        *exec.Cmd
	out, err   *os.File
	exited     chan struct{}
	exitErr    error
	readyBytes int
}

func startFakeShim(t *testing.T, path string) *fakeShim {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c, err := cio.BinaryIO(exe, BinaryArgs(path))("ctr")
	if err != nil {
		t.Fatal(err)
	}
	uri, err := url.Parse(c.Config().Stdout)
	if err != nil {
		t.Fatal(err)
	}
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	readyR, readyW := pipe(t)
	cmd := shimCmd(uri, "ctr", "ns")
	cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &fakeShim{cmd: cmd, out: outW, err: errW, exited: make(chan struct{})}
	go func() { s.exitErr = cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-s.exited })
	readyW.Close()
	outR.Close()
	errR.Close()
	// As the shim: one read, which binary-v2 wants to be a byte.
	b := make([]byte, 1)
	s.readyBytes, _ = readyR.Read(b)
	return s
}

// term is the shim's binaryIO.cancel: SIGTERM, then wait; it wants exit 0
// within limit.
func (s *fakeShim) term(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	began := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.exited:
		if s.exitErr != nil {
			t.Fatalf("logger after SIGTERM: %v, want exit 0", s.exitErr)
		}
	case <-time.After(limit):
		t.Fatalf("logger still running %v after SIGTERM", limit)
	}
	return time.Since(began)
}

func TestShimContract(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "c.log")
	s := startFakeShim(t, path)
	if s.readyBytes != 1 {
		t.Fatalf("ready pipe: read %d bytes, want 1 (binary-v2)", s.readyBytes)
	}
	fmt.Fprint(s.out, "to stdout\n")
	fmt.Fprint(s.err, "to stderr\n")
	// The shim's binaryIO.Close: close the pipes, then SIGTERM.
	s.out.Close()
	s.err.Close()
	s.term(t, 3*time.Second)
	got := texts(readAll(t, path, ReadOptions{}))
	slices.Sort(got)
	if strings.Join(got, "|") != "stderr:to stderr|stdout:to stdout" {
		t.Fatalf("lines %q", got)
	}
}

// TestShimContractHeldPipe: a process other than the shim still holds the
// container's stdout (an orphan of the container): after SIGTERM the logger
// keeps what was written and exits, within the shim's 12 s.
func TestShimContractHeldPipe(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	s := startFakeShim(t, path)
	fmt.Fprint(s.out, "written before\n")
	waitFor(t, path, 1)
	fmt.Fprint(s.out, "still in the pipe\n")
	s.err.Close()
	d := s.term(t, 10*time.Second)
	if d < DefaultDrainTimeout/2 {
		t.Errorf("exited %v after SIGTERM, before the drain timeout %v", d, DefaultDrainTimeout)
	}
	if got := texts(readAll(t, path, ReadOptions{})); strings.Join(got, "|") != "stdout:written before|stdout:still in the pipe" {
		t.Fatalf("lines %q", got)
	}
}

func TestShimWriterNeedsItsFiles(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, WriterCommand, filepath.Join(t.TempDir(), "c.log")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "fd 3") {
		t.Fatalf("without fds 3-5: %v, %s", err, out)
	}
	out, err = exec.Command(exe, WriterCommand, "relative.log").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not absolute") {
		t.Fatalf("relative path: %v, %s", err, out)
	}
}
