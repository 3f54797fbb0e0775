//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"leci/api"
	"leci/internal/testutil"
)

// daemon runs `leci daemon` on the harness's root until stopped.
type daemon struct {
	hr   *harness
	cmd  *exec.Cmd
	sock string
}

// startDaemon starts leci daemon with extra flags.
func (hr *harness) startDaemon(extra ...string) *daemon {
	hr.t.Helper()
	d := &daemon{hr: hr, sock: filepath.Join(hr.cfg.Root, "leci.sock")}
	d.cmd = hr.leci("", append([]string{"--log-level", "info", "daemon", "--listen", "unix://" + d.sock}, extra...)...)
	var out bytes.Buffer
	d.cmd.Stderr = &out
	if err := d.cmd.Start(); err != nil {
		hr.t.Fatal(err)
	}
	// Stopped before the harness checks what is left.
	hr.t.Cleanup(func() {
		d.stop()
		hr.t.Logf("daemon output:\n%s", out.String())
	})
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("unix", d.sock); err == nil {
			c.Close()
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	hr.t.Fatalf("the daemon did not listen:\n%s", out.String())
	return nil
}

func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	d.cmd.Wait()
}

func (d *daemon) stop() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	}
}

// client runs a leci client command against the daemon.
func (d *daemon) client(stdin string, args ...string) (string, error) {
	cmd := d.hr.leci(stdin, args...)
	cmd.Env = append(os.Environ(), "LECI_HOST=unix://"+d.sock)
	out, err := cmd.Output()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), fmt.Errorf("%v: %s", err, ee.Stderr)
	}
	return string(out), err
}

func (d *daemon) describe(id string) api.ContainerGroupDetail {
	d.hr.t.Helper()
	out, err := d.client("", "describe", id, "-o", "json")
	if err != nil {
		d.hr.t.Fatal(err)
	}
	var g api.ContainerGroupDetail
	if err := json.Unmarshal([]byte(out), &g); err != nil {
		d.hr.t.Fatalf("describe: %v\n%s", err, out)
	}
	return g
}

func (d *daemon) waitStatus(id string, status api.GroupStatus) api.ContainerGroupDetail {
	d.hr.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		g := d.describe(id)
		if g.Status == status {
			return g
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(g.Containers)
			d.hr.t.Fatalf("%s is %s, want %s; containers: %s", id, g.Status, status, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// mainPID is the oldest process whose command line holds marker: a
// container's own process, not the short-lived forks of its shell.
func mainPID(marker string) int {
	best, bestStart := 0, uint64(0)
	procs, _ := testutil.Processes()
	for _, p := range procs {
		if !strings.Contains(strings.ReplaceAll(p.Cmdline, "\x00", " "), marker) {
			continue
		}
		// The oldest by start time, not the lowest PID: PIDs wrap around,
		// and a fork of the shell may get a lower one.
		st, ok := testutil.Stat(p.PID)
		if ok && (best == 0 || st.Start < bestStart || st.Start == bestStart && p.PID < best) {
			best, bestStart = p.PID, st.Start
		}
	}
	return best
}

// startedPID is mainPID once the process has shown up: a container is
// Running as soon as runc has started it, a moment before its process has
// replaced runc's and carries the marker.
func startedPID(t testing.TB, marker string) int {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if pid := mainPID(marker); pid != 0 {
			return pid
		}
		if time.Now().After(deadline) {
			t.Errorf("no process with %q after 10 s", marker)
			return 0
		}
	}
}

// A daemon killed with SIGKILL while creating groups: once restarted, every
// acknowledged group converges, running containers keep their process and
// restart count, and deleting everything leaves nothing behind.
func TestDaemonKilledAndRestarted(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	const n = 5
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := fmt.Sprintf("ContainerGroupName: survivor-%d\nTerminationGracePeriodSeconds: 1\nContainer:\n  - {Name: app, Image: %s, Command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.2; done # survivor-%d\"]}\n", i, image, i)
			out, err := d.client(req, "create", "-f", "-")
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = strings.TrimSpace(out)
		}()
	}
	wg.Wait()
	d.waitStatus(ids[0], api.GroupRunning)
	d.kill()

	d = hr.startDaemon()
	before := map[string]int{}
	for i, id := range ids {
		g := d.waitStatus(id, api.GroupRunning)
		if c := g.Containers[0]; c.RestartCount != 0 {
			t.Errorf("%s: %d restarts after the daemon's restart, want 0", id, c.RestartCount)
		}
		before[id] = startedPID(t, fmt.Sprintf("# survivor-%d", i))
	}
	// Killed again, once everything runs: the processes are the same after.
	d.kill()
	d = hr.startDaemon()
	for i, id := range ids {
		d.waitStatus(id, api.GroupRunning)
		if after := mainPID(fmt.Sprintf("# survivor-%d", i)); after != before[id] {
			t.Errorf("%s: process %d after a restart of the daemon, want %d (adopted, not restarted)", id, after, before[id])
		}
	}
	if _, err := d.client("", append([]string{"delete"}, ids...)...); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _ := d.client("", "ps", "-a", "-o", "json")
		if !strings.Contains(out, "eci-") || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.stop()
}

// The daemon refuses a privileged container with HTTP 403
// Forbidden.Privileged, and makes nothing, unless it was started with
// --allow-privileged.
func TestDaemonRefusesPrivilegedWithoutOptIn(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", d.sock)
	}}}
	form := url.Values{
		"Action": {"CreateContainerGroup"}, "Version": {"2018-08-08"}, "ContainerGroupName": {"root"},
		"Container.1.Name": {"root"}, "Container.1.Image": {image}, "Container.1.SecurityContextPrivileged": {"true"},
	}
	resp, err := hc.PostForm("http://leci/", form)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `"Code":"Forbidden.Privileged"`) || !strings.Contains(string(body), "Container.1.SecurityContextPrivileged") {
		t.Errorf("privileged create: HTTP %d %s, want 403 Forbidden.Privileged naming the field", resp.StatusCode, body)
	}
	if out, err := d.client("", "ps", "-a", "-o", "json"); err != nil || strings.Contains(out, "eci-") {
		t.Errorf("groups after a refused create: %s %v, want none", out, err)
	}
}
