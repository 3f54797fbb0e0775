//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/host"
	"leci/runtime/containerd"
)

// The daemon's robustness: containerd going away under running groups, a
// daemon killed in the middle of creates, and many creates and deletes at
// once. Helpers to start a daemon and talk to it are daemon_test.go's.

// survivor is a group of one container that runs until SIGTERM; marker,
// on its process's command line, finds that process on the host. With
// prepared, an init container first writes into an EmptyDir volume, which
// the app container reads with a ConfigFile volume's file before it runs.
type survivor struct {
	name     string
	marker   string
	prepared bool
	// With full (and prepared), the group also has every other local
	// volume type (an EmptyDir in memory, hostDir as a HostPath) and
	// publishes port.
	full    bool
	hostDir string
	port    int
}

// newSurvivors names n groups uniquely, so that no other test's processes
// carry their markers.
func newSurvivors(prefix string, n int) []survivor {
	tag := rand.IntN(1 << 24)
	out := make([]survivor, n)
	for i := range out {
		name := fmt.Sprintf("%s-%x-%d", prefix, tag, i)
		out[i] = survivor{name: name, marker: "# " + name}
	}
	return out
}

func (s survivor) request() string {
	if s.full {
		return fmt.Sprintf(`ContainerGroupName: %[1]s
TerminationGracePeriodSeconds: 1
InitContainer:
  - Name: init
    Image: %[2]s
    Command: [sh, -c, "echo ready > /work/ready && echo ready > /mem/ready"]
    VolumeMount: [{Name: work, MountPath: /work}, {Name: mem, MountPath: /mem}]
Container:
  - Name: app
    Image: %[2]s
    Command: [sh, -c, "grep -q ready /work/ready && grep -q ready /mem/ready && grep -q key=value /config/app.conf && test -d /host || exit 1; trap 'exit 0' TERM; while true; do sleep 0.2; done %[3]s"]
    Port: [{Port: %[4]d, Protocol: TCP}]
    VolumeMount: [{Name: work, MountPath: /work}, {Name: mem, MountPath: /mem}, {Name: config, MountPath: /config}, {Name: host, MountPath: /host, ReadOnly: true}]
Volume:
  - {Name: work, Type: EmptyDirVolume}
  - {Name: mem, Type: EmptyDirVolume, EmptyDirVolume: {Medium: Memory}}
  - {Name: config, Type: ConfigFileVolume, ConfigFileVolume: {ConfigFileToPath: [{Path: app.conf, Content: a2V5PXZhbHVl}]}}
  - {Name: host, Type: HostPathVolume, HostPathVolume: {Path: %[5]s, Type: Directory}}
`, s.name, image, s.marker, s.port, s.hostDir)
	}
	if s.prepared {
		return fmt.Sprintf(`ContainerGroupName: %[1]s
TerminationGracePeriodSeconds: 1
InitContainer:
  - Name: init
    Image: %[2]s
    Command: [sh, -c, "echo ready > /work/ready"]
    VolumeMount: [{Name: work, MountPath: /work}]
Container:
  - Name: app
    Image: %[2]s
    Command: [sh, -c, "grep -q ready /work/ready && grep -q key=value /config/app.conf || exit 1; trap 'exit 0' TERM; while true; do sleep 0.2; done %[3]s"]
    VolumeMount: [{Name: work, MountPath: /work}, {Name: config, MountPath: /config}]
Volume:
  - {Name: work, Type: EmptyDirVolume}
  - {Name: config, Type: ConfigFileVolume, ConfigFileVolume: {ConfigFileToPath: [{Path: app.conf, Content: a2V5PXZhbHVl}]}}
`, s.name, image, s.marker)
	}
	return fmt.Sprintf("ContainerGroupName: %s\nTerminationGracePeriodSeconds: 1\nContainer:\n"+
		"  - {Name: app, Image: %s, Command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.2; done %s\"]}\n",
		s.name, image, s.marker)
}

// pollStatus describes a group until it has status, for goroutines that
// must not stop the test.
func (d *daemon) pollStatus(id string, status api.GroupStatus, timeout time.Duration) (api.ContainerGroupDetail, error) {
	deadline := time.Now().Add(timeout)
	var last api.ContainerGroupDetail
	for {
		out, err := d.client("", "describe", id, "-o", "json")
		if err == nil {
			last = api.ContainerGroupDetail{}
			if err := json.Unmarshal([]byte(out), &last); err != nil {
				return last, fmt.Errorf("describe %s: %w", id, err)
			}
			if last.Status == status {
				return last, nil
			}
		}
		if time.Now().After(deadline) {
			b, _ := json.Marshal(last.Containers)
			return last, fmt.Errorf("%s is %s, want %s (%v); containers: %s", id, last.Status, status, err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// groupIDs lists the ids of every group the daemon knows.
func (d *daemon) groupIDs() []string {
	d.hr.t.Helper()
	out, err := d.client("", "ps", "-a", "-o", "json")
	if err != nil {
		d.hr.t.Fatal(err)
	}
	var groups []api.ContainerGroupDetail
	if err := json.Unmarshal([]byte(out), &groups); err != nil {
		d.hr.t.Fatalf("ps: %v\n%s", err, out)
	}
	var ids []string
	for _, g := range groups {
		ids = append(ids, g.ContainerGroupID)
	}
	return ids
}

// deleteAll deletes every group the daemon knows and waits until they are
// gone.
func (d *daemon) deleteAll() {
	d.hr.t.Helper()
	ids := d.groupIDs()
	if len(ids) > 0 {
		if _, err := d.client("", append([]string{"delete"}, ids...)...); err != nil {
			d.hr.t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(d.groupIDs()) > 0 {
		if time.Now().After(deadline) {
			d.hr.t.Fatalf("groups left after delete: %v", d.groupIDs())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// killAt is when createAll kills the daemon (SIGKILL): as soon as acked
// creates are acknowledged, or once the time after has passed since the
// first was, whether or not every create has been answered by then. The
// zero value does not kill it.
type killAt struct {
	acked int
	after time.Duration
}

// createAll sends the creates of every survivor at once and returns the
// ids the daemon acknowledged, by name. The daemon is killed at kill, with
// the creates not yet answered still on their way (their errors are then
// expected; without a kill they fail the test).
func (d *daemon) createAll(groups []survivor, kill killAt) map[string]string {
	acked := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	var killOnce sync.Once
	killed := make(chan struct{})
	var armOnce sync.Once
	arm := func(after time.Duration) {
		armOnce.Do(func() {
			time.AfterFunc(after, func() {
				killOnce.Do(d.kill)
				close(killed)
			})
		})
	}
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := d.client(g.request(), "create", "-f", "-")
			if err != nil {
				if kill == (killAt{}) {
					d.hr.t.Errorf("create %s: %v", g.name, err)
				}
				return
			}
			mu.Lock()
			acked[g.name] = strings.TrimSpace(out)
			n := len(acked)
			mu.Unlock()
			if kill.acked > 0 && n >= kill.acked {
				killOnce.Do(d.kill)
			}
			if kill.after > 0 {
				arm(kill.after)
			}
		}()
	}
	wg.Wait()
	switch {
	case kill.after > 0:
		arm(0) // when no create was acknowledged
		<-killed
	case kill.acked > 0:
		killOnce.Do(d.kill)
	}
	return acked
}

// checkLostAnswers checks, after a daemon was killed during creates and
// started again, that every acknowledged group is known, and that a create
// whose answer was lost made a whole group (recorded before it was
// answered, it reaches Running like the others) or nothing at all.
func (d *daemon) checkLostAnswers(acked map[string]string) {
	d.hr.t.Helper()
	known, answered := map[string]bool{}, map[string]bool{}
	for _, id := range acked {
		answered[id] = true
	}
	for _, id := range d.groupIDs() {
		known[id] = true
		if !answered[id] {
			d.hr.t.Logf("%s was created, but its answer was lost with the daemon", id)
			d.waitStatus(id, api.GroupRunning)
		}
	}
	for _, id := range acked {
		if !known[id] {
			d.hr.t.Errorf("acknowledged group %s is gone after the daemon's restart", id)
		}
	}
}

// A daemon killed (SIGKILL) while ten creates are on their way, twice, the
// second time with the first groups running: after each restart every
// acknowledged group converges to Running, the containers that were running
// keep their process and restart count, a create whose answer was lost
// either made a whole group (recorded before it was answered) or nothing at
// all, and deleting everything leaves nothing behind.
func TestDaemonKilledDuringCreates(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	first := newSurvivors("kd", 10)
	acked := d.createAll(first, killAt{acked: 5})
	t.Logf("acknowledged before the kill: %d of %d", len(acked), len(first))

	d = hr.startDaemon()
	pids := map[string]int{}
	for _, g := range first {
		id, ok := acked[g.name]
		if !ok {
			continue
		}
		st := d.waitStatus(id, api.GroupRunning)
		if c := st.Containers[0]; c.RestartCount != 0 {
			t.Errorf("%s: %d restarts after the daemon's restart, want 0", g.name, c.RestartCount)
		}
		pids[g.name] = startedPID(t, g.marker)
	}

	// Again, with the first groups running under the daemon that is killed.
	second := newSurvivors("ke", 10)
	acked2 := d.createAll(second, killAt{acked: 5})
	t.Logf("acknowledged before the second kill: %d of %d", len(acked2), len(second))
	d = hr.startDaemon()
	for name, id := range acked2 {
		acked[name] = id
	}
	for _, g := range append(first, second...) {
		id, ok := acked[g.name]
		if !ok {
			continue
		}
		st := d.waitStatus(id, api.GroupRunning)
		if c := st.Containers[0]; c.RestartCount != 0 {
			t.Errorf("%s: %d restarts after the daemon's restarts, want 0", g.name, c.RestartCount)
		}
		if before, ok := pids[g.name]; ok {
			if after := mainPID(g.marker); after != before {
				t.Errorf("%s: process %d after the daemon's restart, want %d (adopted, not restarted)", g.name, after, before)
			}
		}
	}

	// A create whose answer was lost: its group is whole (it converges like
	// the others) or is nowhere, not even as a process.
	d.checkLostAnswers(acked)
	d.deleteAll()
	for _, g := range append(first, second...) {
		if pid := mainPID(g.marker); pid != 0 {
			t.Errorf("%s: process %d left after every group was deleted", g.name, pid)
		}
	}
	d.stop()
	// The harness checks, as the test ends, that no container, snapshot,
	// mount, network namespace, address, cgroup or directory is left.
}

// Ten groups created and deleted through the API at once, each as soon as
// it runs: every call succeeds, and nothing is left.
func TestDaemonConcurrentCreatesAndDeletes(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	groups := newSurvivors("cd", 10)
	var wg sync.WaitGroup
	for _, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := d.client(g.request(), "create", "-f", "-")
			if err != nil {
				t.Errorf("create %s: %v", g.name, err)
				return
			}
			id := strings.TrimSpace(out)
			if _, err := d.pollStatus(id, api.GroupRunning, 60*time.Second); err != nil {
				t.Error(err)
			}
			if _, err := d.client("", "delete", id); err != nil {
				t.Errorf("delete %s: %v", g.name, err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for len(d.groupIDs()) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if ids := d.groupIDs(); len(ids) > 0 {
		t.Errorf("groups left after their deletes: %v", ids)
	}
	for _, g := range groups {
		if pid := mainPID(g.marker); pid != 0 {
			t.Errorf("%s: process %d left after its delete", g.name, pid)
		}
	}
	d.stop()
}

// ownContainerd is a containerd of the test's own, under its leci root, that
// it can kill and start again.
type ownContainerd struct {
	t    *testing.T
	cfg  containerd.Config
	conn *containerd.Conn
}

// startOwnContainerd starts leci's own containerd under the harness's root,
// with the test image in the harness's namespace, and points the harness's
// leci commands (and so its daemon) at its socket. When the test ends it
// checks that no container or snapshot beyond the image's is left there,
// and stops it.
func startOwnContainerd(hr *harness) *ownContainerd {
	t := hr.t
	t.Helper()
	ctx := context.Background()
	c := &ownContainerd{t: t, cfg: containerd.Config{Namespace: hr.cfg.Namespace, Root: hr.cfg.Root}}
	conn, err := containerd.ConnectOwn(ctx, c.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c.conn = conn
	t.Cleanup(func() {
		assertContainerdEmpty(t, &host.Host{Conn: conn})
		conn.Close()
		if err := containerd.StopOwn(context.Background(), hr.cfg.Root, nil); err != nil {
			t.Errorf("stop the test's containerd: %v", err)
		}
	})
	if _, err := conn.Import(ctx, bytes.NewReader(testImage.Bytes())); err != nil {
		t.Fatal(err)
	}
	hr.cfg.Containerd = conn.Address()
	return c
}

// kill stops containerd with SIGKILL, as a crash would, and waits until it
// is gone. The containers run on under their shims.
func (c *ownContainerd) kill() {
	c.t.Helper()
	info, err := c.conn.Info(context.Background())
	if err != nil || info.PID == 0 {
		c.t.Fatalf("the test's containerd: %+v %v", info, err)
	}
	if err := unix.Kill(info.PID, unix.SIGKILL); err != nil {
		c.t.Fatal(err)
	}
	// This process started it, and reaps it.
	for deadline := time.Now().Add(10 * time.Second); unix.Kill(info.PID, 0) == nil; {
		if time.Now().After(deadline) {
			c.t.Fatalf("containerd %d still there after SIGKILL", info.PID)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// start starts containerd again at the same address.
func (c *ownContainerd) start() {
	c.t.Helper()
	conn, err := containerd.ConnectOwn(context.Background(), c.cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		c.t.Fatal(err)
	}
	conn.Close()
}

// containerd killed and started again under a daemon with running groups:
// meanwhile the daemon answers reads and refuses writes with 503
// ServiceUnavailable; afterwards it is back by itself, its groups run on
// with the same processes and no restart, an exit that happened meanwhile
// is seen, and creates, execs and deletes work.
func TestContainerdRestartedUnderDaemon(t *testing.T) {
	if !runsOn(t, host.RuntimeContainerd) {
		return
	}
	hr := newHarness(t)
	ctd := startOwnContainerd(hr)
	d := hr.startDaemon()

	groups := newSurvivors("cr", 3)
	ids := map[string]string{}
	pids := map[string]int{}
	for name, id := range d.createAll(groups, killAt{}) {
		ids[name] = id
	}
	for _, g := range groups {
		d.waitStatus(ids[g.name], api.GroupRunning)
		pids[g.name] = startedPID(t, g.marker)
	}
	// A group whose container exits, with code 3, while containerd is away:
	// when the test puts a file into a host directory it mounts.
	signals := t.TempDir()
	exiter := newSurvivors("cx", 1)[0]
	out, err := d.client(fmt.Sprintf(`ContainerGroupName: %s
RestartPolicy: Never
Container:
  - Name: app
    Image: %s
    Command: [sh, -c, "while [ ! -e /signals/go ]; do sleep 0.1; done; exit 3 %s"]
    VolumeMount: [{Name: signals, MountPath: /signals}]
Volume:
  - {Name: signals, Type: HostPathVolume, HostPathVolume: {Path: %s, Type: Directory}}
`, exiter.name, image, exiter.marker, signals), "create", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	exiterID := strings.TrimSpace(out)
	d.waitStatus(exiterID, api.GroupRunning)

	ctd.kill()

	// Reads are answered from what the daemon knows.
	for _, g := range groups {
		if st := d.describe(ids[g.name]); st.Status != api.GroupRunning {
			t.Errorf("%s is %s while containerd is away, want Running", g.name, st.Status)
		}
	}
	if _, err := d.client("", "logs", ids[groups[0].name]); err != nil {
		t.Errorf("logs while containerd is away: %v", err)
	}
	if _, err := d.client("", "events", ids[groups[0].name]); err != nil {
		t.Errorf("events while containerd is away: %v", err)
	}
	// Writes are refused, clearly, and change nothing.
	refused := newSurvivors("cn", 1)[0]
	for what, args := range map[string][]string{
		"create":  {"create", "-f", "-"},
		"exec":    {"exec", ids[groups[0].name], "--", "true"},
		"delete":  {"delete", ids[groups[1].name]},
		"restart": {"restart", ids[groups[2].name]},
	} {
		_, err := d.client(refused.request(), args...)
		if err == nil || !strings.Contains(err.Error(), "ServiceUnavailable") || !strings.Contains(err.Error(), "containerd") {
			t.Errorf("%s while containerd is away: %v, want ServiceUnavailable saying containerd does not answer", what, err)
		}
	}
	if n := len(d.groupIDs()); n != len(groups)+1 {
		t.Errorf("%d groups while containerd is away, want %d", n, len(groups)+1)
	}
	if err := os.WriteFile(filepath.Join(signals, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); mainPID(exiter.marker) != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the exiting container did not exit")
		}
		time.Sleep(50 * time.Millisecond)
	}

	ctd.start()

	// Back by itself: the first exec that works shows it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := d.client("", "exec", ids[groups[0].name], "--", "echo", "back")
		if err == nil {
			if strings.TrimSpace(out) != "back" {
				t.Errorf("exec after containerd's return: %q, want back", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec after containerd's return: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	st, err := d.pollStatus(exiterID, api.GroupFailed, 30*time.Second)
	if err != nil {
		t.Fatalf("the exit while containerd was away was not seen: %v", err)
	}
	if c := st.Containers[0].CurrentState; c.State != api.StateTerminated || c.ExitCode != 3 {
		t.Errorf("exited container: %+v, want Terminated with code 3", c)
	}
	for _, g := range groups {
		st := d.describe(ids[g.name])
		if st.Status != api.GroupRunning || st.Containers[0].RestartCount != 0 {
			t.Errorf("%s after containerd's restart: %s with %d restarts, want Running with 0", g.name, st.Status, st.Containers[0].RestartCount)
		}
		if pid := mainPID(g.marker); pid != pids[g.name] {
			t.Errorf("%s: process %d after containerd's restart, want %d", g.name, pid, pids[g.name])
		}
	}
	out, err = d.client(refused.request(), "create", "-f", "-")
	if err != nil {
		t.Fatalf("create after containerd's return: %v", err)
	}
	d.waitStatus(strings.TrimSpace(out), api.GroupRunning)
	d.deleteAll()
	for _, g := range append(groups, exiter, refused) {
		if pid := mainPID(g.marker); pid != 0 {
			t.Errorf("%s: process %d left after every group was deleted", g.name, pid)
		}
	}
	d.stop()
}

// leci's own containerd (--containerd auto, no system containerd) killed
// under a daemon: the daemon starts it again by itself, and the groups run
// on with the same processes and no restart.
func TestOwnContainerdRestartedByDaemon(t *testing.T) {
	if !runsOn(t, host.RuntimeContainerd) {
		return
	}
	if c, err := net.DialTimeout("unix", containerd.SystemAddress, time.Second); err == nil {
		c.Close()
		t.Logf("not applicable: a system containerd answers at %s, so --containerd auto would use it", containerd.SystemAddress)
		return
	}
	hr := newHarness(t)
	ctd := startOwnContainerd(hr)
	hr.cfg.Containerd = containerd.AutoAddress // finds the one under its root
	d := hr.startDaemon()
	groups := newSurvivors("co", 2)
	ids := d.createAll(groups, killAt{})
	pids := map[string]int{}
	for _, g := range groups {
		d.waitStatus(ids[g.name], api.GroupRunning)
		pids[g.name] = startedPID(t, g.marker)
	}

	ctd.kill()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := d.client("", "exec", ids[groups[0].name], "--", "true")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("containerd is not back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, g := range groups {
		st := d.describe(ids[g.name])
		if st.Status != api.GroupRunning || st.Containers[0].RestartCount != 0 {
			t.Errorf("%s after containerd's restart: %s with %d restarts, want Running with 0", g.name, st.Status, st.Containers[0].RestartCount)
		}
		if pid := mainPID(g.marker); pid != pids[g.name] {
			t.Errorf("%s: process %d after containerd's restart, want %d", g.name, pid, pids[g.name])
		}
	}
	d.deleteAll()
	d.stop()
}
