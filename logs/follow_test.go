package logs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// follow runs Follow in the background and collects what it shows.
type follow struct {
	mu    sync.Mutex
	lines []Line
	done  chan error
}

func startFollow(ctx context.Context, path string, opts FollowOptions) *follow {
	f := &follow{done: make(chan error, 1)}
	go func() {
		f.done <- Follow(ctx, path, opts, func(l Line) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.lines = append(f.lines, l)
			return nil
		})
	}()
	return f
}

func (f *follow) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return texts(f.lines)
}

// waitLines waits until the follower has shown n lines.
func (f *follow) waitLines(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := f.texts()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("followed %d lines, want %d: %q", len(got), n, got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (f *follow) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-f.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Follow did not return")
		return nil
	}
}

func TestFollowNewLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "a\nb\n")
	waitFor(t, path, 2)

	ctx, cancel := context.WithCancel(context.Background())
	f := startFollow(ctx, path, FollowOptions{ReadOptions: ReadOptions{Tail: 1}, Poll: 5 * time.Millisecond})
	if got := f.waitLines(t, 1); strings.Join(got, "|") != "stdout:b" {
		t.Fatalf("history: %q", got)
	}
	fmt.Fprint(w.err, "c\n")
	waitFor(t, path, 3)
	fmt.Fprint(w.out, strings.Repeat("x", MaxLineBytes)+"yz\n")
	got := f.waitLines(t, 3)
	if got[1] != "stderr:c" || got[2] != "stdout:"+strings.Repeat("x", MaxLineBytes)+"yz" {
		t.Fatalf("followed: %d lines, %v", len(got), lengths(got))
	}
	cancel()
	if err := f.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("Follow after cancel: %v", err)
	}
	w.finish(t)
}

func TestFollowOnlyNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "old\n")
	waitFor(t, path, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := startFollow(ctx, path, FollowOptions{ReadOptions: ReadOptions{Tail: -1}, Poll: 5 * time.Millisecond})
	time.Sleep(50 * time.Millisecond)
	fmt.Fprint(w.out, "new\n")
	if got := f.waitLines(t, 1); strings.Join(got, "|") != "stdout:new" {
		t.Fatalf("followed %q", got)
	}
	w.finish(t)
}

// TestFollowAcrossRotation writes at a pace the poll keeps up with: every
// line must come, once, in order, while the files rotate many times.
func TestFollowAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{MaxBytes: 300, MaxFiles: 3})
	fmt.Fprint(w.out, "line 000\n")
	waitFor(t, path, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := startFollow(ctx, path, FollowOptions{Poll: 2 * time.Millisecond})
	const n = 150
	for i := 1; i < n; i++ {
		fmt.Fprintf(w.out, "line %03d\n", i)
		time.Sleep(time.Millisecond)
	}
	got := f.waitLines(t, n)
	for i, s := range got {
		if want := fmt.Sprintf("stdout:line %03d", i); s != want {
			t.Fatalf("line %d = %q, want %q (all: %q)", i, s, want, got)
		}
	}
	w.finish(t)
	time.Sleep(20 * time.Millisecond)
	if extra := f.texts()[n:]; len(extra) > 0 {
		t.Fatalf("lines after the last: %q", extra)
	}
}

// TestFollowBurstAcrossRotation: when more files rotate between two polls
// than are kept, lines are lost, but what comes is in order, once.
func TestFollowBurstAcrossRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{MaxBytes: 200, MaxFiles: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := startFollow(ctx, path, FollowOptions{Poll: 20 * time.Millisecond})
	for i := range 500 {
		fmt.Fprintf(w.out, "line %03d\n", i)
	}
	w.finish(t)
	got := f.waitLines(t, 1)
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) && (len(got) == 0 || got[len(got)-1] != "stdout:line 499") {
		time.Sleep(10 * time.Millisecond)
		got = f.texts()
	}
	last := -1
	for _, s := range got {
		var i int
		if _, err := fmt.Sscanf(s, "stdout:line %d", &i); err != nil || i <= last {
			t.Fatalf("%q after line %d (all: %q)", s, last, got)
		}
		last = i
	}
	if last != 499 {
		t.Fatalf("last line %d, want 499", last)
	}
	t.Logf("%d of 500 lines came through", len(got))
}

func TestFollowUntilWriterDone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{MaxBytes: 500, MaxFiles: 20}) // rotates, drops nothing
	fmt.Fprint(w.out, "before\n")
	f := startFollow(context.Background(), path, FollowOptions{UntilWriterDone: true, Poll: 10 * time.Millisecond})
	for i := range 30 {
		fmt.Fprintf(w.err, "line %02d\n", i)
	}
	// The last line is still open when the writer goes.
	fmt.Fprint(w.out, strings.Repeat("p", MaxLineBytes))
	w.finish(t)
	if err := f.wait(t); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	// The streams are copied side by side: order holds within each.
	var outs, errs []string
	for _, s := range f.texts() {
		if strings.HasPrefix(s, "stdout:") {
			outs = append(outs, s)
		} else {
			errs = append(errs, s)
		}
	}
	if len(outs) != 2 || outs[0] != "stdout:before" || outs[1] != "stdout:"+strings.Repeat("p", MaxLineBytes) {
		t.Fatalf("followed stdout: %v", lengths(outs))
	}
	if len(errs) != 30 || errs[29] != "stderr:line 29" {
		t.Fatalf("followed stderr: %q", errs)
	}
}

// A follower that has opened the log reads it to the end although the
// files are removed as soon as the writer is done, as a group's delete
// does while `leci run` shows the last output.
func TestFollowOpenedReadsFilesRemovedAfterTheWriter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.log")
	w := startWriter(t, path, WriterOptions{})
	opened := make(chan struct{})
	f := startFollow(context.Background(), path, FollowOptions{UntilWriterDone: true, Poll: 10 * time.Millisecond, Opened: func() { close(opened) }})
	<-opened
	for i := range 2000 {
		fmt.Fprintf(w.out, "line %04d\n", i)
	}
	w.finish(t)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := f.wait(t); err != nil {
		t.Fatalf("Follow: %v", err)
	}
	if got := f.texts(); len(got) != 2000 || got[1999] != "stdout:line 1999" {
		t.Fatalf("followed %d lines, last %q", len(got), got[len(got)-1:])
	}
}

func TestFollowUntilWriterDoneWithoutWriter(t *testing.T) {
	dir := t.TempDir()
	f := startFollow(context.Background(), filepath.Join(dir, "none.log"), FollowOptions{UntilWriterDone: true})
	if err := f.wait(t); err != nil || len(f.texts()) != 0 {
		t.Fatalf("Follow of nothing: %v, %q", err, f.texts())
	}
	// A file whose writer is gone: its lines, then the end.
	path := filepath.Join(dir, "c.log")
	writeFiles(t, path, record(1, "stdout", "F", "done"))
	f = startFollow(context.Background(), path, FollowOptions{UntilWriterDone: true})
	if err := f.wait(t); err != nil || strings.Join(f.texts(), "|") != "stdout:done" {
		t.Fatalf("Follow of a finished file: %v, %q", err, f.texts())
	}
}

func TestFollowWaitsForFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later", "c.log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := startFollow(ctx, path, FollowOptions{Poll: 5 * time.Millisecond})
	time.Sleep(30 * time.Millisecond)
	w := startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "hello\n")
	if got := f.waitLines(t, 1); got[0] != "stdout:hello" {
		t.Fatalf("followed %q", got)
	}
	w.finish(t)
}

func TestFollowLimitBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "12345\n")
	f := startFollow(context.Background(), path, FollowOptions{ReadOptions: ReadOptions{LimitBytes: 14}, Poll: 5 * time.Millisecond})
	f.waitLines(t, 1)
	fmt.Fprint(w.out, "abcde\nlonger line\nmore\n")
	if err := f.wait(t); err != nil {
		t.Fatalf("Follow at the limit: %v", err)
	}
	if got := strings.Join(f.texts(), "|"); got != "stdout:12345|stdout:abcde" {
		t.Fatalf("followed %q", got)
	}
	w.finish(t)
}

func TestFollowCallbackError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	writeFiles(t, path, record(1, "stdout", "F", "a"))
	stop := errors.New("stop")
	err := Follow(context.Background(), path, FollowOptions{}, func(Line) error { return stop })
	if !errors.Is(err, stop) {
		t.Fatalf("Follow = %v, want the callback's error", err)
	}
}
