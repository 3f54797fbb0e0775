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
	"testing/synctest"
	"time"
)

// The tests of Follow run in synctest bubbles: a poll passes at once when
// every goroutine waits, so what the follower has shown after n polls is
// known, not raced. The writer is RunWriter's own file writer and lock,
// driven from the test's goroutine (RunWriter's pipes cannot be in a
// bubble); logs_integration_test follows a real writer.

// follow runs Follow in the background and collects what it shows.
type follow struct {
	mu    sync.Mutex
	lines []Line
	done  chan error
}

const testPoll = 5 * time.Millisecond

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

// poll lets one poll pass and waits for the follower to wait again.
func poll() {
	time.Sleep(testPoll)
	synctest.Wait()
}

// ended is Follow's result, which must come within a few polls.
func (f *follow) ended(t *testing.T) error {
	t.Helper()
	for range 10 {
		synctest.Wait()
		select {
		case err := <-f.done:
			return err
		default:
		}
		time.Sleep(testPoll)
	}
	t.Fatal("Follow did not return")
	return nil
}

// bubbleWriter writes as RunWriter does, from the test's goroutine.
type bubbleWriter struct {
	fw     *fileWriter
	unlock func()
}

func newBubbleWriter(t *testing.T, path string, opts WriterOptions) *bubbleWriter {
	t.Helper()
	unlock, err := lockWriter(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := openFileWriter(path, opts.withDefaults())
	if err != nil {
		unlock()
		t.Fatal(err)
	}
	w := &bubbleWriter{fw: fw, unlock: unlock}
	t.Cleanup(w.close)
	return w
}

// print writes text to stream as the container would (split into records
// as RunWriter splits its pipe).
func (w *bubbleWriter) print(stream, text string) {
	w.fw.copyStream(stream, strings.NewReader(text))
}

// close ends the writer: its lock goes, as when its process ends.
func (w *bubbleWriter) close() {
	if w.unlock != nil {
		w.fw.close()
		w.unlock()
		w.unlock = nil
	}
}

func TestFollowNewLines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.log")
		w := newBubbleWriter(t, path, WriterOptions{})
		w.print("stdout", "a\nb\n")

		ctx, cancel := context.WithCancel(context.Background())
		f := startFollow(ctx, path, FollowOptions{ReadOptions: ReadOptions{Tail: 1}, Poll: testPoll})
		synctest.Wait()
		if got := strings.Join(f.texts(), "|"); got != "stdout:b" {
			t.Fatalf("history: %q", got)
		}
		w.print("stderr", "c\n")
		w.print("stdout", strings.Repeat("x", MaxLineBytes)+"yz\n")
		poll()
		got := f.texts()
		if len(got) != 3 || got[1] != "stderr:c" || got[2] != "stdout:"+strings.Repeat("x", MaxLineBytes)+"yz" {
			t.Fatalf("followed: %d lines, %v", len(got), lengths(got))
		}
		cancel()
		if err := f.ended(t); !errors.Is(err, context.Canceled) {
			t.Fatalf("Follow after cancel: %v", err)
		}
	})
}

func TestFollowOnlyNew(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.log")
		w := newBubbleWriter(t, path, WriterOptions{})
		w.print("stdout", "old\n")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := startFollow(ctx, path, FollowOptions{ReadOptions: ReadOptions{Tail: -1}, Poll: testPoll})
		poll()
		w.print("stdout", "new\n")
		poll()
		if got := strings.Join(f.texts(), "|"); got != "stdout:new" {
			t.Fatalf("followed %q", got)
		}
	})
}

// A line a poll, while the files rotate many times: every line comes,
// once, in order.
func TestFollowAcrossRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.log")
		w := newBubbleWriter(t, path, WriterOptions{MaxBytes: 300, MaxFiles: 3})
		w.print("stdout", "line 000\n")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := startFollow(ctx, path, FollowOptions{Poll: testPoll})
		const n = 150
		for i := 1; i < n; i++ {
			w.print("stdout", fmt.Sprintf("line %03d\n", i))
			poll()
		}
		w.close()
		poll()
		got := f.texts()
		if len(got) != n {
			t.Fatalf("followed %d lines, want %d: %q", len(got), n, got)
		}
		for i, s := range got {
			if want := fmt.Sprintf("stdout:line %03d", i); s != want {
				t.Fatalf("line %d = %q, want %q (all: %q)", i, s, want, got)
			}
		}
	})
}

// When more files rotate between two polls than are kept, lines are lost,
// but what comes is in order, once, up to the last.
func TestFollowBurstAcrossRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.log")
		w := newBubbleWriter(t, path, WriterOptions{MaxBytes: 200, MaxFiles: 2})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := startFollow(ctx, path, FollowOptions{Poll: 20 * time.Millisecond})
		synctest.Wait()
		for i := range 500 {
			w.print("stdout", fmt.Sprintf("line %03d\n", i))
		}
		w.close()
		time.Sleep(20 * time.Millisecond)
		synctest.Wait()
		got := f.texts()
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
	})
}

func TestFollowUntilWriterDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.log")
		w := newBubbleWriter(t, path, WriterOptions{MaxBytes: 500, MaxFiles: 20}) // rotates, drops nothing
		w.print("stdout", "before\n")
		f := startFollow(context.Background(), path, FollowOptions{UntilWriterDone: true, Poll: testPoll})
		for i := range 30 {
			w.print("stderr", fmt.Sprintf("line %02d\n", i))
			if i%10 == 0 {
				poll()
			}
		}
		// The last line is still open when the writer goes.
		w.fw.write("stdout", 'P', []byte(strings.Repeat("p", MaxLineBytes)))
		poll()
		select {
		case err := <-f.done:
			t.Fatalf("Follow returned (%v) while the writer was there", err)
		default:
		}
		w.close()
		poll()
		if err := f.ended(t); err != nil {
			t.Fatalf("Follow: %v", err)
		}
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
	})
}

// A follower that has opened the log reads it to the end although the
// files are removed as soon as the writer is done, as a group's delete
// does while `leci run` shows the last output.
func TestFollowOpenedReadsFilesRemovedAfterTheWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "c.log")
		w := newBubbleWriter(t, path, WriterOptions{})
		opened := make(chan struct{})
		f := startFollow(context.Background(), path, FollowOptions{UntilWriterDone: true, Poll: testPoll, Opened: func() { close(opened) }})
		<-opened
		for i := range 2000 {
			w.print("stdout", fmt.Sprintf("line %04d\n", i))
		}
		w.close()
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		if err := f.ended(t); err != nil {
			t.Fatalf("Follow: %v", err)
		}
		if got := f.texts(); len(got) != 2000 || got[1999] != "stdout:line 1999" {
			t.Fatalf("followed %d lines, last %q", len(got), got[len(got)-1:])
		}
	})
}

func TestFollowUntilWriterDoneWithoutWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		f := startFollow(context.Background(), filepath.Join(dir, "none.log"), FollowOptions{UntilWriterDone: true})
		if err := f.ended(t); err != nil || len(f.texts()) != 0 {
			t.Fatalf("Follow of nothing: %v, %q", err, f.texts())
		}
		// A file whose writer is gone: its lines, then the end.
		path := filepath.Join(dir, "c.log")
		writeFiles(t, path, record(1, "stdout", "F", "done"))
		f = startFollow(context.Background(), path, FollowOptions{UntilWriterDone: true})
		if err := f.ended(t); err != nil || strings.Join(f.texts(), "|") != "stdout:done" {
			t.Fatalf("Follow of a finished file: %v, %q", err, f.texts())
		}
	})
}

func TestFollowWaitsForFile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "later", "c.log")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := startFollow(ctx, path, FollowOptions{Poll: testPoll})
		for range 5 {
			poll()
		}
		w := newBubbleWriter(t, path, WriterOptions{})
		w.print("stdout", "hello\n")
		poll()
		if got := strings.Join(f.texts(), "|"); got != "stdout:hello" {
			t.Fatalf("followed %q", got)
		}
	})
}

// Following stops at LimitBytes, whole lines only.
func TestFollowLimitBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c.log")
		w := newBubbleWriter(t, path, WriterOptions{})
		w.print("stdout", "12345\n")
		f := startFollow(context.Background(), path, FollowOptions{ReadOptions: ReadOptions{LimitBytes: 14}, Poll: testPoll})
		synctest.Wait()
		w.print("stdout", "abcde\nlonger line\nmore\n")
		poll()
		if err := f.ended(t); err != nil {
			t.Fatalf("Follow at the limit: %v", err)
		}
		if got := strings.Join(f.texts(), "|"); got != "stdout:12345|stdout:abcde" {
			t.Fatalf("followed %q", got)
		}
	})
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
