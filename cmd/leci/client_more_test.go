package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leci/api"
	"leci/runtime"
)

func TestLogCursor(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := func(sec int) string { return t0.Add(time.Duration(sec) * time.Second).Format(time.RFC3339Nano) }
	var c logCursor
	var out bytes.Buffer
	c.write(&out, ts(0)+" a\n"+ts(1)+" b\n"+ts(1)+" c\n", false)
	// The next answer repeats b and c (same time), then has d at the same
	// time and e later.
	c.write(&out, ts(1)+" b\n"+ts(1)+" c\n"+ts(1)+" d\n"+ts(2)+" e\n", false)
	// An answer with nothing new.
	c.write(&out, ts(2)+" e\n", false)
	c.write(&out, ts(2)+" e\n"+ts(3)+" f with  spaces\n", true)
	want := "a\nb\nc\nd\ne\n" + ts(3) + " f with  spaces\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

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

	// logs -f prints what is there, then what comes, until the group is deleted.
	followPoll = 50 * time.Millisecond
	path := runtime.LogPath(e.root, id, "web", 1)
	os.MkdirAll(filepath.Dir(path), 0o755)
	now := time.Now().UTC()
	os.WriteFile(path, []byte(now.Format(time.RFC3339Nano)+" stdout F one\n"), 0o644)
	go func() {
		time.Sleep(300 * time.Millisecond)
		f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		f.WriteString(time.Now().UTC().Format(time.RFC3339Nano) + " stdout F two\n")
		f.Close()
		time.Sleep(300 * time.Millisecond)
		e.groups.Delete(context.Background(), id)
	}()
	code, out, errOut = e.leci(t, "", "logs", "-f", id, "--host", host)
	if code != 0 || out != "one\ntwo\n" {
		t.Errorf("logs -f: %d %q %q", code, out, errOut)
	}
}
