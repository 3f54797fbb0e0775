package testutil

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrNoDockerd is returned (wrapped) by StartDockerd when dockerd or the
// containerd it runs on is not installed, so that callers can skip, or fail
// in CI, as RequireBinary does.
var ErrNoDockerd = errors.New("dockerd not installed (hack/install-deps.sh installs docker.io)")

// Dockerd is a Docker Engine started for tests, with all of its state, its
// socket and its containerd in one directory, apart from any system Docker or
// containerd and from leci's own containerd.
type Dockerd struct {
	// Host is the Engine API address, "unix://<dir>/docker.sock".
	Host string
	// Dir holds everything of this dockerd; LogFile is its log, and that of
	// its containerd (containerd.log next to it).
	Dir     string
	LogFile string

	dockerd    *exec.Cmd
	dockerdErr chan error
	ctrd       *exec.Cmd
	ctrdErr    chan error
	stopOnce   sync.Once
	stopErr    error
}

// StartDockerd starts a dockerd with everything of its own under dir (which
// must be short: unix socket paths are limited to 107 bytes): data root, exec
// root, pid file, socket, trust key (Docker 20.10 writes one), a daemon.json
// of its own (so the host's /etc/docker/daemon.json, with its mirrors or
// registries, is not read), and
// its own containerd. dockerd 20.10 would otherwise use a system containerd
// whenever /run/containerd/containerd.sock exists, or start a managed one.
// The engine has no bridge, touches no iptables rule or sysctl and uses the
// cgroupfs driver, as leci's groups bring their own network and cgroups.
// It returns once /_ping answers. A missing dockerd or containerd gives an
// error wrapping ErrNoDockerd. The one thing outside dir is the empty
// directory /run/docker/plugins, whose path dockerd fixes.
func StartDockerd(ctx context.Context, dir string) (*Dockerd, error) {
	dockerdBin, err := exec.LookPath("dockerd")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDockerd, err)
	}
	ctrdBin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoDockerd, err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	socket := filepath.Join(dir, "docker.sock")
	if len(socket) > 100 {
		return nil, fmt.Errorf("dockerd socket path too long for a unix socket: %s", socket)
	}
	for _, sub := range []string{"data", "exec", "containerd"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return nil, err
		}
	}
	d := &Dockerd{Host: "unix://" + socket, Dir: dir, LogFile: filepath.Join(dir, "dockerd.log")}

	ctrdSocket := filepath.Join(dir, "containerd", "containerd.sock")
	ctrdConfig := filepath.Join(dir, "containerd", "config.toml")
	if err := os.WriteFile(ctrdConfig, []byte(dockerdContainerdConfig(filepath.Join(dir, "containerd"), ctrdSocket)), 0o600); err != nil {
		return nil, err
	}
	d.ctrd, d.ctrdErr, err = startLogged(ctrdBin, filepath.Join(dir, "containerd.log"), "--config", ctrdConfig)
	if err != nil {
		return nil, fmt.Errorf("start containerd for dockerd: %w", err)
	}
	if err := waitSocket(ctx, ctrdSocket, d.ctrdErr); err != nil {
		d.Stop()
		return nil, fmt.Errorf("containerd for dockerd did not come up, see %s: %w", filepath.Join(dir, "containerd.log"), err)
	}

	daemonJSON := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(daemonJSON, []byte(daemonConfig(dockerdBin, dir)), 0o600); err != nil {
		d.Stop()
		return nil, err
	}
	d.dockerd, d.dockerdErr, err = startLogged(dockerdBin, d.LogFile,
		"--config-file", daemonJSON,
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"),
		"--host", d.Host,
		"--containerd", ctrdSocket,
		"--bridge", "none",
		"--iptables=false",
		"--ip6tables=false",
		"--ip-masq=false",
		"--ip-forward=false",
		"--userland-proxy=false",
		"--exec-opt", "native.cgroupdriver=cgroupfs",
	)
	if err != nil {
		d.Stop()
		return nil, fmt.Errorf("start dockerd: %w", err)
	}
	if err := d.waitPing(ctx); err != nil {
		d.Stop()
		return nil, fmt.Errorf("dockerd did not come up, see %s: %w", d.LogFile, err)
	}
	return d, nil
}

// RequireDockerd starts a dockerd under a fresh directory for one test and
// stops it when the test ends; it skips the test when dockerd is not
// installed, or fails it with CI=true.
func RequireDockerd(t testing.TB) *Dockerd {
	t.Helper()
	RequireRoot(t)
	d, err := StartDockerd(context.Background(), TempDir(t, "leci-dockerd-"))
	if errors.Is(err, ErrNoDockerd) {
		skipOrFail(t, "%v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Errorf("stop dockerd: %v", err)
		}
	})
	return d
}

// Stop ends dockerd (which stops its containers) and then its containerd,
// each with SIGTERM and, after a while, SIGKILL, and unmounts whatever is
// left under Dir (container netns and rootfs mounts of a dockerd that was
// killed). It leaves Dir itself in place. Calls after the first return the
// first one's result.
func (d *Dockerd) Stop() error {
	d.stopOnce.Do(func() { d.stopErr = d.stop() })
	return d.stopErr
}

func (d *Dockerd) stop() error {
	var errs []error
	if d.dockerd != nil {
		// dockerd gives its containers 15 s to stop on SIGTERM.
		errs = append(errs, stopProcess(d.dockerd, d.dockerdErr, 30*time.Second))
	}
	if d.ctrd != nil {
		errs = append(errs, stopProcess(d.ctrd, d.ctrdErr, 10*time.Second))
	}
	// Shims of containers dockerd could not stop outlive containerd; they
	// run from its state directory and are killed so that nothing is left.
	killShimsUnder(d.Dir)
	errs = append(errs, UnmountAll(d.Dir))
	return errors.Join(errs...)
}

// waitPing waits until the Engine API answers GET /_ping with OK.
func (d *Dockerd) waitPing(ctx context.Context) error {
	socket := strings.TrimPrefix(d.Host, "unix://")
	cl := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", socket)
		}},
	}
	defer cl.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://docker/_ping", nil)
		resp, err := cl.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && string(body) == "OK" {
				return nil
			}
			err = fmt.Errorf("/_ping: %s %q", resp.Status, body)
		}
		last = err
		select {
		case err := <-d.dockerdErr:
			return fmt.Errorf("dockerd exited: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// daemonConfig is the daemon.json of a test dockerd. Docker before 23 keeps
// a trust key, by default /etc/docker/key.json, which is put under dir
// instead; later versions have no such key and refuse the setting.
func daemonConfig(dockerdBin, dir string) string {
	out, err := exec.Command(dockerdBin, "--version").Output()
	if err != nil {
		return "{}\n"
	}
	// "Docker version 20.10.24+dfsg1, build 5d6db84"
	var major int
	if _, err := fmt.Sscanf(strings.TrimPrefix(string(out), "Docker version "), "%d.", &major); err != nil || major >= 23 {
		return "{}\n"
	}
	return fmt.Sprintf("{\"deprecated-key-path\": %q}\n", filepath.Join(dir, "key.json"))
}

// dockerdContainerdConfig is the configuration of dockerd's own containerd:
// no CRI, state and sockets under dir.
func dockerdContainerdConfig(dir, socket string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), socket, socket+".ttrpc")
}

// startLogged starts bin in a process group of its own (so that a ^C to the
// test does not reach it before Stop does) with its output in logFile; the
// channel gets its exit.
func startLogged(bin, logFile string, args ...string) (*exec.Cmd, chan error, error) {
	logf, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Dir = "/"
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	return cmd, exited, nil
}

// stopProcess sends SIGTERM, waits up to grace, then SIGKILLs.
func stopProcess(cmd *exec.Cmd, exited chan error, grace time.Duration) error {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", cmd.Path, err)
	}
	select {
	case <-exited:
		return nil
	case <-time.After(grace):
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", filepath.Base(cmd.Path), grace)
}

// waitSocket waits until a unix socket accepts connections.
func waitSocket(ctx context.Context, socket string, exited chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if c, err := net.Dial("unix", socket); err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// killShimsUnder kills the containerd shims whose command line names a path
// under dir: containerd's shims have their own session and outlive it.
func killShimsUnder(dir string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "containerd-shim") {
			continue
		}
		// dockerd's shims are started with -address <dir>/containerd/containerd.sock.
		if !strings.Contains(string(b), dir+"/") {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(filepath.Base(filepath.Dir(p)), "%d", &pid); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
