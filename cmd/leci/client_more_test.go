package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/runtime"
)

func TestWaitReached(t *testing.T) {
	g := api.ContainerGroupDetail{ContainerGroupID: "eci-x", Status: api.GroupRunning,
		Containers: []api.ContainerDetail{{Ready: true}, {Ready: false}}}
	if done, err := waitReached(g, "running"); !done || err != nil {
		t.Errorf("running: %v %v", done, err)
	}
	if done, err := waitReached(g, "ready"); done || err != nil {
		t.Errorf("ready with a container not ready: %v %v", done, err)
	}
	g.Status = api.GroupFailed
	if _, err := waitReached(g, "running"); err == nil {
		t.Error("a failed group reached running")
	}
	g.Status = api.GroupSucceeded
	if done, err := waitReached(g, "running"); !done || err != nil {
		t.Errorf("succeeded, waiting for running: %v %v", done, err)
	}
	if _, err := waitReached(g, "ready"); err == nil {
		t.Error("a succeeded group reached ready")
	}
}

func TestClientEventsRestartWaitFollow(t *testing.T) {
	e := newClientEnv(t)
	host := "unix://" + e.sock

	code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host, "--wait", "ready")
	if code != 0 || !strings.Contains(errOut, ": Running") {
		t.Fatalf("create --wait ready: %d %q %q", code, out, errOut)
	}
	id := strings.TrimSpace(out)
	if code, _, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host, "--wait", "soon"); code != exitUsage {
		t.Errorf("--wait soon: %d %q", code, errOut)
	}

	code, out, errOut = e.leci(t, "", "events", id, "--host", host)
	if code != 0 || !strings.HasPrefix(out, "LAST SEEN") {
		t.Errorf("events: %d %q %q", code, out, errOut)
	}
	code, out, errOut = e.leci(t, "", "events", id, "-o", "json", "--host", host)
	if code != 0 || !strings.HasPrefix(strings.TrimSpace(out), "[") {
		t.Errorf("events -o json: %d %q %q", code, out, errOut)
	}

	// The test engine cannot restart: the daemon's error is reported.
	code, _, errOut = e.leci(t, "", "restart", id, "--host", host)
	if code != exitFailed || !strings.Contains(errOut, "NotImplemented") {
		t.Errorf("restart: %d %q", code, errOut)
	}

	// logs -f prints what is there, then what comes, until the group is
	// deleted. The test holds the lock a log writer holds while it runs.
	path := runtime.LogPath(e.root, id, "web", 1)
	os.MkdirAll(filepath.Dir(path), 0o755)
	unlock := holdWriterLock(t, path)
	now := time.Now().UTC()
	os.WriteFile(path, []byte(now.Format(time.RFC3339Nano)+" stdout F one\n"), 0o644)
	go func() {
		time.Sleep(300 * time.Millisecond)
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(time.Now().UTC().Format(time.RFC3339Nano) + " stdout F two\n")
		f.Close()
		time.Sleep(300 * time.Millisecond)
		unlock()
		e.groups.Delete(context.Background(), id)
	}()
	code, out, errOut = e.leci(t, "", "logs", "-f", id, "--host", host)
	if code != 0 || out != "one\ntwo\n" {
		t.Errorf("logs -f: %d %q %q", code, out, errOut)
	}
}

// holdWriterLock takes the lock of a log writer on path, as logs.RunWriter
// does, until the returned function is called.
func holdWriterLock(t *testing.T, path string) func() {
	t.Helper()
	f, err := os.OpenFile(path+".lock", os.O_RDONLY|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return func() { f.Close() }
}

// leci logs streams all lines by default, with no cap, and selects them
// with --tail, --since and --until; --all-containers and --prefix as
// kubectl.
func TestClientLogs(t *testing.T) {
	e := newClientEnv(t)
	host := "unix://" + e.sock
	id := e.create(t, host, webYAML)
	t0 := time.Now().UTC().Add(-time.Hour)
	var b strings.Builder
	const n = 5000 // beyond DescribeContainerLog's 2000 lines
	for i := range n {
		fmt.Fprintf(&b, "%s stdout F line %d\n", t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), i)
	}
	for name, content := range map[string]string{"web": b.String(), "side": t0.Format(time.RFC3339Nano) + " stderr F side says\n"} {
		path := runtime.LogPath(e.root, id, name, 1)
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := func(args ...string) (int, string, string) {
		return e.leci(t, "", append([]string{"logs", id, "--host", host}, args...)...)
	}
	if code, out, errOut := logs(); code != 0 || strings.Count(out, "\n") != n || !strings.HasPrefix(out, "line 0\n") {
		t.Errorf("logs: %d, %d lines, %q", code, strings.Count(out, "\n"), errOut)
	}
	if code, out, _ := logs("--tail", "2"); code != 0 || out != fmt.Sprintf("line %d\nline %d\n", n-2, n-1) {
		t.Errorf("logs --tail 2: %d %q", code, out)
	}
	since := t0.Add(10 * time.Second).Format(time.RFC3339Nano)
	until := t0.Add(12 * time.Second).Format(time.RFC3339Nano)
	if code, out, _ := logs("--since", since, "--until", until); code != 0 || out != "line 10\nline 11\nline 12\n" {
		t.Errorf("logs --since %s --until %s: %d %q", since, until, code, out)
	}
	// t0 is an hour ago: the last 10 minutes hold the lines from 3000 s on.
	if code, out, _ := logs("--since", "10m"); code != 0 || !strings.HasPrefix(out, "line 300") {
		t.Errorf("logs --since 10m: %d, starts %q", code, out[:min(len(out), 20)])
	}
	if code, out, _ := logs("--all-containers", "--prefix", "--tail", "1"); code != 0 ||
		out != fmt.Sprintf("[group/cli-web/web] line %d\n[group/cli-web/side] side says\n", n-1) {
		t.Errorf("logs --all-containers --prefix --tail 1: %d %q", code, out)
	}
	// -p: the instance before the last restart.
	e.groups.mu.Lock()
	st := e.groups.groups[id]
	st.Containers = slices.Clone(st.Containers)
	st.Containers[0].Attempt, st.Containers[0].RestartCount = 2, 1
	e.groups.groups[id] = st
	e.groups.mu.Unlock()
	if err := os.WriteFile(runtime.LogPath(e.root, id, "web", 2), []byte(t0.Format(time.RFC3339Nano)+" stdout F second run\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := logs(); code != 0 || out != "second run\n" {
		t.Errorf("logs after a restart: %d %q %q", code, out, errOut)
	}
	if code, out, _ := logs("-p", "--tail", "1"); code != 0 || out != fmt.Sprintf("line %d\n", n-1) {
		t.Errorf("logs -p --tail 1: %d %q", code, out)
	}

	// Over TCP the stream is signed as the API's requests are.
	t.Setenv(envAccessKey, "cliak:clisecret")
	if code, out, errOut := e.leci(t, "", "logs", id, "-c", "side", "--host", "tcp://"+e.tcp); code != 0 || out != "side says\n" {
		t.Errorf("logs over TCP: %d %q %q", code, out, errOut)
	}
	t.Setenv(envAccessKey, "cliak:wrong")
	if code, _, errOut := e.leci(t, "", "logs", id, "--host", "tcp://"+e.tcp); code != exitFailed || !strings.Contains(errOut, "SignatureDoesNotMatch") {
		t.Errorf("logs over TCP with a wrong secret: %d %q", code, errOut)
	}
	for _, args := range [][]string{{"--since", "yesterday"}, {"--until", "-5m"}, {"-c", "web", "--all-containers"}} {
		if code, _, errOut := logs(args...); code != exitUsage {
			t.Errorf("logs %v: %d %q, want 2", args, code, errOut)
		}
	}
	if code, _, errOut := logs("-c", "nope"); code != exitFailed || !strings.Contains(errOut, "InvalidContainerName.NotFound") {
		t.Errorf("logs -c nope: %d %q", code, errOut)
	}
}

// leci events -w prints the events there are, then each new one and each
// seen again, until the group is deleted.
func TestClientEventsWatch(t *testing.T) {
	e := newClientEnv(t)
	host := "unix://" + e.sock
	id := e.create(t, host, webYAML)
	at := time.Now()
	event := func(reason string, count int) {
		e.groups.mu.Lock()
		defer e.groups.mu.Unlock()
		st := e.groups.groups[id]
		st.Events = slices.Clone(st.Events) // a copy: Get handed out the old one
		for i, ev := range st.Events {
			if ev.Reason == reason {
				st.Events[i].Count = count
				e.groups.groups[id] = st
				return
			}
		}
		st.Events = append(st.Events, runtime.Event{Type: "Normal", Reason: reason, Object: "web", Message: reason + " web", Count: count, First: at, Last: at})
		e.groups.groups[id] = st
	}
	event("Pulled", 1)
	eventsPoll = 20 * time.Millisecond
	go func() {
		time.Sleep(200 * time.Millisecond)
		event("Started", 1)
		time.Sleep(200 * time.Millisecond)
		event("Started", 2)
		time.Sleep(200 * time.Millisecond)
		e.groups.Delete(context.Background(), id)
	}()
	code, out, errOut := e.leci(t, "", "events", "-w", id, "--host", host, "--format", "{{.Reason}} {{.Count}}")
	if code != 0 || out != "Pulled 1\nStarted 1\nStarted 2\n" {
		t.Errorf("events -w: %d %q %q", code, out, errOut)
	}
}
