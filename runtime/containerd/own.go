package containerd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"

	"leci/internal/atomicfile"
)

const (
	// startTimeout bounds taking the start lock and waiting for a fresh
	// containerd to answer; it boots in well under a second.
	startTimeout = 30 * time.Second
	// stopTimeout is how long StopOwn waits after SIGTERM before SIGKILL.
	stopTimeout = 10 * time.Second
	// maxSocketPath is the room in sockaddr_un.sun_path, less the NUL byte.
	maxSocketPath = 107
)

// ownDaemon is leci's own containerd: its files all live in one directory,
// Root/containerd, so that leci processes on one root find and share it.
type ownDaemon struct {
	dir     string
	socket  string
	config  string
	logFile string
	pidFile string
	lock    string
	pid     int
}

func ownPaths(dir string) *ownDaemon {
	return &ownDaemon{
		dir:     dir,
		socket:  filepath.Join(dir, "containerd.sock"),
		config:  filepath.Join(dir, "config.toml"),
		logFile: filepath.Join(dir, "containerd.log"),
		pidFile: filepath.Join(dir, "containerd.pid"),
		lock:    filepath.Join(dir, "lock"),
	}
}

// ensureOwn returns leci's own containerd in dir, started if it is not
// running. Starts are serialised across processes by a flock on dir/lock, so
// that concurrent leci processes start one containerd between them.
func ensureOwn(ctx context.Context, dir string, log *slog.Logger) (*ownDaemon, error) {
	d, cl, err := ensureOwnDialled(ctx, dir, DefaultNamespace, log)
	if cl != nil {
		cl.Close()
	}
	return d, err
}

// ensureOwnDialled is ensureOwn that, when the running containerd answers
// at once (the common case), also answers the client that asked it, in
// namespace: a caller who wants a connection need not dial again. The
// client is nil when containerd had to be waited for or started.
func ensureOwnDialled(ctx context.Context, dir, namespace string, log *slog.Logger) (*ownDaemon, *client.Client, error) {
	d := ownPaths(dir)
	// containerd also listens on socket+".ttrpc".
	if n := len(d.socket) + len(".ttrpc"); n > maxSocketPath {
		return nil, nil, fmt.Errorf("leci root %s is too long for a unix socket path under it (%d > %d bytes)", filepath.Dir(dir), n, maxSocketPath)
	}
	if cl, err := dial(ctx, d.socket, namespace, probeTimeout); err == nil {
		d.pid, _ = d.runningPID()
		return d, cl, nil
	}
	d, err := startOwn(ctx, d, log)
	return d, nil, err
}

// startOwn starts the containerd of d unless another process does, or
// has, or it runs but does not answer yet, and waits until it answers.
func startOwn(ctx context.Context, d *ownDaemon, log *slog.Logger) (*ownDaemon, error) {
	dir := d.dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create own containerd directory: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	unlock, err := lockFile(ctx, d.lock)
	if err != nil {
		return nil, fmt.Errorf("lock own containerd: %w", err)
	}
	defer unlock()

	// Another process may have started it while this one waited for the lock.
	if answers(ctx, d.socket) {
		d.pid, _ = d.runningPID()
		return d, nil
	}
	// A containerd of ours that runs but does not answer (yet) is waited for,
	// not doubled: a second one on the same root would block on its database.
	if pid, ok := d.runningPID(); ok {
		log.Info("own containerd is running but not answering yet, waiting", "pid", pid)
		if err := waitAnswer(ctx, d.socket, nil); err != nil {
			return nil, fmt.Errorf("own containerd (pid %d) does not answer, see %s: %w", pid, d.logFile, err)
		}
		d.pid = pid
		return d, nil
	}
	if err := d.start(ctx, log); err != nil {
		return nil, err
	}
	return d, nil
}

// start runs containerd in a session of its own, so that it outlives the leci
// process and is not hit by signals sent to that process's group, and waits
// until its socket answers.
func (d *ownDaemon) start(ctx context.Context, log *slog.Logger) error {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return fmt.Errorf("start own containerd: %w", err)
	}
	if err := atomicfile.Write(d.config, []byte(ownConfig(d.dir)), 0o600); err != nil {
		return fmt.Errorf("write own containerd config: %w", err)
	}
	// A socket left by a containerd that died would make the wait below
	// succeed on nothing; the lock is held and no containerd of ours runs.
	for _, p := range []string{d.socket, d.socket + ".ttrpc"} {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove stale socket: %w", err)
		}
	}
	logf, err := os.OpenFile(d.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open own containerd log: %w", err)
	}
	defer logf.Close()

	// exec.Command, not CommandContext: the daemon must not die with ctx.
	cmd := exec.Command(bin, "--config", d.config)
	cmd.Dir = "/"
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start own containerd: %w", err)
	}
	// Waiting reaps it should it die while this process lives; it is
	// otherwise never returned from and ends with this process.
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	if err := atomicfile.Write(d.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("write own containerd pid file: %w", err)
	}
	if err := waitAnswer(ctx, d.socket, exited); err != nil {
		_ = cmd.Process.Kill()
		return fmt.Errorf("own containerd did not come up, see %s: %w", d.logFile, err)
	}
	d.pid = cmd.Process.Pid
	log.Info("started own containerd", "pid", d.pid, "socket", d.socket, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// runningPID returns the pid in the pid file if that process is a containerd
// run with this directory's config, so a recycled pid is never taken for it.
func (d *ownDaemon) runningPID() (int, bool) {
	b, err := os.ReadFile(d.pidFile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return 0, false
	}
	args := bytes.Split(bytes.TrimRight(cmdline, "\x00"), []byte{0})
	if len(args) == 0 || filepath.Base(string(args[0])) != "containerd" {
		return 0, false
	}
	for i := 0; i+1 < len(args); i++ {
		if string(args[i]) == "--config" && string(args[i+1]) == d.config {
			return pid, !isZombie(pid)
		}
	}
	return 0, false
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses and may
	// itself hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] == 'Z' || b[i+2] == 'X'
}

// answers tells whether a containerd answers on socket within probeTimeout.
func answers(ctx context.Context, socket string) bool {
	cl, err := dial(ctx, socket, DefaultNamespace, probeTimeout)
	if err != nil {
		return false
	}
	cl.Close()
	return true
}

// waitAnswer polls socket until containerd answers, ctx ends, or exited (if
// not nil) reports that the process died.
func waitAnswer(ctx context.Context, socket string, exited <-chan error) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if answers(ctx, socket) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-exited:
			return fmt.Errorf("containerd exited: %v", err)
		case <-tick.C:
		}
	}
}

// lockFile takes an exclusive flock on path, polling so that ctx bounds the
// wait. The lock goes with the process, so a crashed starter frees it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() {
				_ = unix.Flock(int(f.Fd()), unix.LOCK_UN)
				f.Close()
			}, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("flock %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StopOwn stops leci's own containerd on root, if it runs: SIGTERM, then
// SIGKILL after a grace period. Containers it ran keep running under their
// shims. It is meant for tests and for an explicit shutdown; leci never stops
// its containerd on its own, since other leci processes may share it.
func StopOwn(ctx context.Context, root string, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if root == "" {
		root = DefaultRoot
	}
	d := ownPaths(filepath.Join(root, "containerd"))
	pid, ok := d.runningPID()
	if !ok {
		return nil
	}
	if err := unix.Kill(pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("stop own containerd (pid %d): %w", pid, err)
	}
	ctx, cancel := context.WithTimeout(ctx, stopTimeout)
	defer cancel()
	if err := waitGone(ctx, d); err != nil {
		log.Warn("own containerd ignored SIGTERM, killing it", "pid", pid)
		_ = unix.Kill(pid, unix.SIGKILL)
		kctx, kcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer kcancel()
		if err := waitGone(kctx, d); err != nil {
			return fmt.Errorf("stop own containerd (pid %d): %w", pid, err)
		}
	}
	_ = os.Remove(d.pidFile)
	log.Info("stopped own containerd", "pid", pid)
	return nil
}

func waitGone(ctx context.Context, d *ownDaemon) error {
	for {
		if _, ok := d.runningPID(); !ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
