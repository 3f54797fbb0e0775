//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"leci/api"
	"leci/host"
	"leci/runtime"
)

// image is the tests' busybox image: its registry is a closed port on
// loopback, so that no pull can reach beyond this host.
const image = "127.0.0.1:1/leci/busybox:1.35"

// exampleImageRef is the busybox image the examples name.
const exampleImageRef = "leci.local/busybox:1.35"

func TestInitContainersRunInOrderOnceBeforeApps(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: init-order
RestartPolicy: Never
InitContainer:
  - {Name: first, Image: ` + image + `, Command: [sh, -c, "echo first >> /work/trace"], VolumeMount: [{Name: work, MountPath: /work}]}
  - {Name: second, Image: ` + image + `, Command: [sh, -c, "echo second >> /work/trace"], VolumeMount: [{Name: work, MountPath: /work}]}
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "echo app >> /work/trace; cat /work/trace"], VolumeMount: [{Name: work, MountPath: /work}]}
Volume:
  - {Name: work, Type: EmptyDirVolume}
`)
	st := hr.waitPhase(id, api.GroupSucceeded)
	if got, want := hr.logOf(id, "app", 1), "first\nsecond\napp\n"; got != want {
		t.Errorf("trace = %q, want %q (each init once, in order, before the app)", got, want)
	}
	for _, c := range append(st.InitContainers, st.Containers...) {
		if c.Current.Reason != runtime.ReasonCompleted || c.RestartCount != 0 || c.Attempt != 1 {
			t.Errorf("%s: %s %s, attempt %d", c.Name, c.Current.State, c.Current.Reason, c.Attempt)
		}
	}
	hr.delete(id)
}

func TestFailingInitUnderNeverFailsGroup(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: init-fails
RestartPolicy: Never
InitContainer:
  - {Name: broken, Image: ` + image + `, Command: [sh, -c, "exit 3"]}
Container:
  - {Name: app, Image: ` + image + `, Command: ["true"]}
`)
	st := hr.waitPhase(id, api.GroupFailed)
	if c := st.InitContainers[0]; c.Current.ExitCode != 3 || c.Current.Reason != runtime.ReasonError {
		t.Errorf("init: %+v, want exit 3 Error", c.Current)
	}
	if c := st.Containers[0]; c.Started || c.Attempt != 0 {
		t.Errorf("app started (attempt %d) after a failed init", c.Attempt)
	}
	hr.delete(id)
}

func TestFailingInitUnderAlwaysRetriesAndAppWaits(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: init-retries
RestartPolicy: Always
InitContainer:
  - {Name: broken, Image: ` + image + `, Command: [sh, -c, "exit 1"]}
Container:
  - {Name: app, Image: ` + image + `, Command: ["true"]}
`)
	st := hr.waitFor(id, 30*time.Second, "two init restarts", func(st runtime.GroupStatus) bool {
		return st.InitContainers[0].RestartCount >= 2
	})
	if st.Phase != api.GroupPending || st.Containers[0].Started {
		t.Errorf("phase %s, app started %v; want Pending and the app never started", st.Phase, st.Containers[0].Started)
	}
	if p := st.InitContainers[0].Previous; p == nil || p.ExitCode != 1 {
		t.Errorf("previous state = %+v, want exit 1", p)
	}
	hr.delete(id)
}

func TestProcessSettingsApplied(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: process
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c]
    Arg: ['echo "$GREETING|$POD_IP|$(pwd)|$(id -u):$(id -g)|$(hostname)"']
    WorkingDir: /tmp
    EnvironmentVar:
      - {Key: GREETING, Value: hello world}
      - {Key: POD_IP, FieldRef: {FieldPath: status.podIP}}
    SecurityContext: {RunAsUser: 1000}
    SecurityContextRunAsGroup: 1000
`)
	st := hr.waitPhase(id, api.GroupSucceeded)
	want := "hello world|" + st.IPv4 + "|/tmp|1000:1000|process\n"
	if st.IPv4 == "" {
		t.Error("group has no IP")
	}
	if got := hr.logOf(id, "app", 1); got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
	hr.delete(id)
}

func TestReadOnlyRootfs(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: readonly
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "touch /x && echo wrote || echo refused"]
    SecurityContext: {ReadOnlyRootFilesystem: true}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	if got := hr.logOf(id, "app", 1); !strings.Contains(got, "refused") {
		t.Errorf("output = %q, want the write refused", got)
	}
	hr.delete(id)
}

func TestMemoryLimitOOMKills(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: oom
RestartPolicy: Never
Container:
  - Name: hog
    Image: ` + image + `
    Memory: 0.03125
    Command: [sh, -c, "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo survived"]
`)
	st := hr.waitPhase(id, api.GroupFailed)
	if c := st.Containers[0].Current; c.Reason != runtime.ReasonOOMKilled || c.ExitCode != 137 {
		t.Errorf("hog ended %s with %d, want OOMKilled and 137", c.Reason, c.ExitCode)
	}
	hr.delete(id)
}

func TestShareProcessNamespace(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: sharepid
RestartPolicy: Never
ShareProcessNamespace: true
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "ps -o pid,args"]}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	out := hr.logOf(id, "app", 1)
	if !strings.Contains(out, "/leci pause") {
		t.Errorf("ps output does not show the sandbox process:\n%s", out)
	}
	hr.delete(id)
}

func TestContainersShareLocalhost(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: localhost
RestartPolicy: Never
TerminationGracePeriodSeconds: 1
Container:
  - {Name: server, Image: ` + image + `, Command: [sh, -c, "echo hi-from-server > /tmp/index.html; httpd -f -p 127.0.0.1:8080 -h /tmp"]}
  - Name: client
    Image: ` + image + `
    Command: [sh, -c, "for i in $(seq 50); do wget -q -O- http://127.0.0.1:8080/index.html && exit 0; sleep 0.1; done; exit 1"]
`)
	hr.waitFor(id, 30*time.Second, "client done", func(st runtime.GroupStatus) bool {
		return st.Containers[1].Current.State == api.StateTerminated
	})
	// Attempts before the server listens print "connection refused".
	if got := hr.logOf(id, "client", 1); !strings.HasSuffix(got, "hi-from-server\n") {
		t.Errorf("client got %q, want the server's page over localhost", got)
	}
	hr.delete(id)
}

func TestGracePeriodHonoured(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: grace
TerminationGracePeriodSeconds: 2
Container:
  - {Name: stubborn, Image: ` + image + `, Command: [sh, -c, "trap '' TERM; while true; do sleep 0.1; done"]}
  - {Name: polite, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
`)
	hr.waitPhase(id, api.GroupRunning)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	updates, _ := hr.h.Engine.Watch(ctx, id)
	start := time.Now()
	hr.delete(id)
	took := time.Since(start)
	var last runtime.GroupStatus
	for st := range updates {
		last = st
	}
	if took < 2*time.Second || took > 6*time.Second {
		t.Errorf("delete took %s, want the 2 s grace period then SIGKILL", took)
	}
	if c := last.Containers[0].Current; c.ExitCode != 137 {
		t.Errorf("stubborn ended with %d (%s), want 137 after SIGKILL", c.ExitCode, c.State)
	}
	if c := last.Containers[1].Current; c.ExitCode != 0 {
		t.Errorf("polite ended with %d (%s), want 0 after SIGTERM", c.ExitCode, c.State)
	}
}

func TestRestartAlwaysRestartsApp(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: restarts
RestartPolicy: Always
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "echo run; exit 2"]}
`)
	st := hr.waitFor(id, 30*time.Second, "two restarts", func(st runtime.GroupStatus) bool { return st.Containers[0].RestartCount >= 2 })
	if st.Containers[0].Previous == nil || st.Containers[0].Previous.ExitCode != 2 {
		t.Errorf("previous = %+v, want exit 2", st.Containers[0].Previous)
	}
	for attempt := 1; attempt <= 2; attempt++ {
		if got := hr.logOf(id, "app", attempt); got != "run\n" {
			t.Errorf("log of attempt %s = %q", strconv.Itoa(attempt), got)
		}
	}
	hr.delete(id)
}

func TestExecInRunningContainer(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: exec-target
TerminationGracePeriodSeconds: 1
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; echo ready > /tmp/state; while true; do sleep 0.1; done"]}
`)
	hr.waitPhase(id, api.GroupRunning)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := hr.h.Engine.Exec(ctx, id, "app", []string{"sh", "-c", "cat /etc/hostname /tmp/state; exit 7"}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitCode != 7 || string(res.Output) != "exec-target\nready\n" {
		t.Errorf("exec = %d %q, want 7 and the hostname and state", res.ExitCode, res.Output)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancelShort()
	start := time.Now()
	if _, err := hr.h.Engine.Exec(short, id, "app", []string{"sleep", "30"}, 1024); err == nil || time.Since(start) > 6*time.Second {
		t.Errorf("an exec past its deadline returned %v after %s, want a deadline error soon", err, time.Since(start))
	}
	hr.delete(id)
}

func TestActiveDeadlineExpiresGroup(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: deadline
ActiveDeadlineSeconds: 2
TerminationGracePeriodSeconds: 1
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
`)
	start := time.Now()
	st := hr.waitPhase(id, api.GroupExpired)
	if took := time.Since(start); took < 1500*time.Millisecond || took > 8*time.Second {
		t.Errorf("expired after %s, want about 2 s", took)
	}
	if c := st.Containers[0]; c.Current.State != api.StateTerminated || c.RestartCount != 0 {
		t.Errorf("app = %s, %d restarts; want stopped and not restarted", c.Current.State, c.RestartCount)
	}
	hr.delete(id)
}

func TestTerminationMessages(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: termination
RestartPolicy: Never
Container:
  - {Name: file, Image: ` + image + `, Command: [sh, -c, "echo -n 'bad config' > /dev/termination-log; exit 2"]}
  - {Name: custom, Image: ` + image + `, TerminationMessagePath: /tmp/why, SecurityContext: {RunAsUser: 1000}, Command: [sh, -c, "echo -n done > /tmp/why"]}
  - {Name: logs, Image: ` + image + `, TerminationMessagePolicy: FallbackToLogsOnError, Command: [sh, -c, "echo first; echo last words; exit 3"]}
`)
	st := hr.waitPhase(id, api.GroupFailed)
	want := map[string]string{"file": "bad config", "custom": "done", "logs": "first\nlast words\n"}
	for _, c := range st.Containers {
		if c.Current.Message != want[c.Name] {
			t.Errorf("%s: termination message %q, want %q", c.Name, c.Current.Message, want[c.Name])
		}
	}
	hr.delete(id)
}

// The sandbox's root filesystem is shared by every group: starting groups
// must not change it (a rebuild under a starting sandbox breaks it). Only
// the containerd backend has one: Docker's sandbox is an image.
func TestSandboxRootfsStaysPut(t *testing.T) {
	if !runsOn(t, host.RuntimeContainerd) {
		return
	}
	hr := newHarness(t)
	// Only a group that shares its PID namespace has a sandbox process.
	group := func(name string) string {
		return hr.create("ContainerGroupName: " + name + "\nRestartPolicy: Never\nShareProcessNamespace: true\nContainer:\n  - {Name: app, Image: " + image + ", Command: [\"true\"]}\n")
	}
	a := group("first")
	hr.waitPhase(a, api.GroupSucceeded)
	dir := filepath.Join(hr.cfg.Root, "sandbox-rootfs")
	before, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	b := group("second")
	hr.waitPhase(b, api.GroupSucceeded)
	after, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the sandbox rootfs was rebuilt by the second group's start")
	}
	hr.delete(a)
	hr.delete(b)
}

// A sandbox whose process died is started again before the next container
// joins it, instead of every start failing on its gone namespaces. On
// containerd only a group that shares its PID namespace has a sandbox
// process (TestGroupNamespacesAreFiles); on Docker every group has one.
func TestDeadSandboxIsReplaced(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: sandbox-dies
TerminationGracePeriodSeconds: 1
ShareProcessNamespace: true
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "sleep 0.5"]}
`)
	st := hr.waitFor(id, 30*time.Second, "a first run", func(st runtime.GroupStatus) bool { return st.Containers[0].Started })
	if err := syscall.Kill(st.Host.Sandbox.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	restarts := st.Containers[0].RestartCount
	st = hr.waitFor(id, 30*time.Second, "two more runs", func(st runtime.GroupStatus) bool {
		return st.Containers[0].RestartCount >= restarts+2
	})
	changed := false
	for _, e := range st.Events {
		changed = changed || e.Reason == "SandboxChanged"
	}
	if !changed || st.Host.Sandbox.PID == 0 {
		t.Errorf("no SandboxChanged event (pid %d); events %+v", st.Host.Sandbox.PID, st.Events)
	}
	hr.delete(id)
}

// On containerd a group that does not share its PID namespace has no
// sandbox process: its IPC and UTS namespaces are files that every
// container joins, run after run, with the group's hostname set. On
// Docker the sandbox container holds them (UTS aside), with the same
// result for the containers.
func TestGroupNamespacesAreFiles(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: ns-files
RestartPolicy: OnFailure
Container:
  - Name: a
    Image: ` + image + `
    Command: [sh, -c, "echo $(readlink /proc/self/ns/ipc) $(readlink /proc/self/ns/uts) $(hostname); [ -e /work/again ] || { touch /work/again; exit 1; }"]
    VolumeMount: [{Name: work, MountPath: /work}]
  - {Name: b, Image: ` + image + `, Command: [sh, -c, "echo $(readlink /proc/self/ns/ipc) $(readlink /proc/self/ns/uts) $(hostname)"]}
Volume: [{Name: work, Type: EmptyDirVolume}]
`)
	st := hr.waitPhase(id, api.GroupSucceeded)
	if testRuntime == host.RuntimeContainerd && st.Host.Sandbox.PID != 0 {
		t.Errorf("sandbox PID %d: a group without a shared PID namespace needs no sandbox process", st.Host.Sandbox.PID)
	}
	// What the containers must share: Docker has no container: UTS mode,
	// so there each has its own UTS namespace, with the group's hostname.
	shared := func(line string) string {
		f := strings.Fields(line)
		if len(f) == 3 && testRuntime == host.RuntimeDocker {
			f[1] = "uts:?"
		}
		return strings.Join(f, " ")
	}
	// a fails once and is run again: both runs see the same namespaces.
	want := shared(hr.logOf(id, "b", 1))
	if !strings.HasSuffix(want, " ns-files") {
		t.Errorf("b: %q, want the namespaces and the hostname ns-files", want)
	}
	if st.Containers[0].RestartCount != 1 {
		t.Errorf("a restarted %d times, want 1", st.Containers[0].RestartCount)
	}
	for attempt := 1; attempt <= st.Containers[0].Attempt; attempt++ {
		if got := shared(hr.logOf(id, "a", attempt)); got != want {
			t.Errorf("a, run %d: %q, b: %q; want the same IPC and UTS namespaces and hostname", attempt, got, want)
		}
	}
	hr.delete(id)
}
