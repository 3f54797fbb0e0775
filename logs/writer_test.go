package logs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// writerRun is RunWriter on two pipes, in the background.
type writerRun struct {
	path       string
	out, err   *os.File // the write ends, the container's side
	readyR     *os.File
	done       chan error
	outR, errR *os.File
}

func startWriter(t *testing.T, path string, opts WriterOptions) *writerRun {
	t.Helper()
	return startWriterCtx(t, context.Background(), path, opts)
}

func startWriterCtx(t *testing.T, ctx context.Context, path string, opts WriterOptions) *writerRun {
	t.Helper()
	outR, outW := pipe(t)
	errR, errW := pipe(t)
	readyR, readyW := pipe(t)
	w := &writerRun{path: path, out: outW, err: errW, readyR: readyR, outR: outR, errR: errR, done: make(chan error, 1)}
	go func() { w.done <- RunWriter(ctx, path, outR, errR, readyW, opts) }()
	// The shim's wait: one byte, then EOF.
	b, err := io.ReadAll(readyR)
	if err != nil || string(b) != "r" {
		t.Fatalf("ready pipe gave %q, %v; want one byte then EOF", b, err)
	}
	return w
}

func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// finish closes the container's ends and waits for the writer.
func (w *writerRun) finish(t *testing.T) {
	t.Helper()
	w.out.Close()
	w.err.Close()
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatalf("RunWriter: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunWriter did not return after EOF")
	}
}

func readAll(t *testing.T, path string, opts ReadOptions) []Line {
	t.Helper()
	lines, err := Read(path, opts)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return lines
}

func texts(lines []Line) []string {
	s := make([]string, len(lines))
	for i, l := range lines {
		s[i] = l.Stream + ":" + l.Text
	}
	return s
}

func TestWriterStreamsAndFormat(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "c.log")
	before := time.Now()
	w := startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "one\n")
	waitFor(t, path, 1)
	fmt.Fprint(w.err, "two\n\n")
	waitFor(t, path, 3)
	fmt.Fprint(w.out, "no newline at the end")
	w.finish(t)

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("file mode %v, want 0640", fi.Mode().Perm())
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o755 {
		t.Errorf("dir mode %v, want 0755", di.Mode().Perm())
	}
	raw, _ := os.ReadFile(path)
	recs := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	want := []string{"stdout F one", "stderr F two", "stderr F ", "stdout F no newline at the end"}
	if len(recs) != len(want) {
		t.Fatalf("records:\n%s", raw)
	}
	for i, r := range recs {
		ts, rest, _ := strings.Cut(r, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !strings.HasSuffix(ts, "Z") || tm.Before(before.Add(-time.Second)) {
			t.Errorf("record %d time %q: %v", i, ts, err)
		}
		if rest != want[i] {
			t.Errorf("record %d = %q, want %q", i, rest, want[i])
		}
	}
	got := texts(readAll(t, path, ReadOptions{}))
	if strings.Join(got, "|") != "stdout:one|stderr:two|stderr:|stdout:no newline at the end" {
		t.Errorf("Read: %q", got)
	}
}

// waitFor waits until path holds n records, so that tests can order
// records of the two streams.
func waitFor(t *testing.T, path string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(path)
		if bytes.Count(b, []byte{'\n'}) >= n {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatalf("%s never got %d records", path, n)
}

func TestWriterLongLines(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{})
	long := strings.Repeat("x", 2*MaxLineBytes+10)
	exact := strings.Repeat("y", MaxLineBytes)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); fmt.Fprint(w.out, long+"\nafter\n"+exact+"\n") }()
	// stderr's records may land between stdout's parts.
	go func() { defer wg.Done(); fmt.Fprint(w.err, strings.Repeat("e\n", 100)) }()
	wg.Wait()
	// A line ending in a P part when the stream ends is closed.
	fmt.Fprint(w.err, strings.Repeat("z", MaxLineBytes))
	w.finish(t)

	raw, _ := os.ReadFile(path)
	var tags []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 4)
		if f[1] == Stdout {
			tags = append(tags, f[2]+fmt.Sprint(len(f[3])))
		}
		if len(f[3]) > MaxLineBytes {
			t.Errorf("record text of %d bytes", len(f[3]))
		}
	}
	if got := strings.Join(tags, " "); got != fmt.Sprintf("P%d P%d F10 F5 P%d F0", MaxLineBytes, MaxLineBytes, MaxLineBytes) {
		t.Errorf("stdout records: %s", got)
	}

	var outs, errs []string
	for _, l := range readAll(t, path, ReadOptions{}) {
		if l.Stream == Stdout {
			outs = append(outs, l.Text)
		} else {
			errs = append(errs, l.Text)
		}
	}
	if len(outs) != 3 || outs[0] != long || outs[1] != "after" || outs[2] != exact {
		t.Errorf("stdout lines: %d, lengths %v", len(outs), lengths(outs))
	}
	if len(errs) != 101 || errs[0] != "e" || errs[100] != strings.Repeat("z", MaxLineBytes) {
		t.Errorf("stderr lines: %d", len(errs))
	}
}

func lengths(s []string) []int {
	n := make([]int, len(s))
	for i := range s {
		n[i] = len(s[i])
	}
	return n
}

func TestWriterInterleavedStreams(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{})
	const n = 2000
	var wg sync.WaitGroup
	for _, s := range []struct {
		f    *os.File
		name string
	}{{w.out, "out"}, {w.err, "err"}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bw := bufio.NewWriterSize(s.f, 4096) // writes cut lines anywhere
			for i := range n {
				fmt.Fprintf(bw, "%s %d %s\n", s.name, i, strings.Repeat("-", i%300))
			}
			bw.Flush()
		}()
	}
	wg.Wait()
	w.finish(t)

	raw, _ := os.ReadFile(path)
	for i, rec := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if _, _, _, _, ok := parseRecord([]byte(rec)); !ok {
			t.Fatalf("record %d is torn: %q", i, rec)
		}
	}
	next := map[string]int{}
	var prev time.Time
	for _, l := range readAll(t, path, ReadOptions{}) {
		name := map[string]string{Stdout: "out", Stderr: "err"}[l.Stream]
		want := fmt.Sprintf("%s %d %s", name, next[l.Stream], strings.Repeat("-", next[l.Stream]%300))
		if l.Text != want {
			t.Fatalf("%s line %d = %q, want %q", l.Stream, next[l.Stream], l.Text, want)
		}
		if l.Time.Before(prev) {
			t.Fatalf("time went back at %s line %d", l.Stream, next[l.Stream])
		}
		prev = l.Time
		next[l.Stream]++
	}
	if next[Stdout] != n || next[Stderr] != n {
		t.Fatalf("lines: %v, want %d each", next, n)
	}
}

func TestWriterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	opts := WriterOptions{MaxBytes: 1000, MaxFiles: 3}
	w := startWriter(t, path, opts)
	const n = 200
	for i := range n {
		fmt.Fprintf(w.out, "line %03d\n", i)
		if i%7 == 0 {
			fmt.Fprintf(w.err, "err %03d\n", i)
		}
	}
	w.finish(t)

	for _, name := range []string{path, path + ".1", path + ".2"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if fi.Size() > opts.MaxBytes {
			t.Errorf("%s: %d bytes > MaxBytes %d", name, fi.Size(), opts.MaxBytes)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("%s.3 kept with MaxFiles 3", path)
	}
	lines := readAll(t, path, ReadOptions{})
	// What is left is the end of the output, in order, with no gap.
	last := -1
	for _, l := range lines {
		if l.Stream != Stdout {
			continue
		}
		var i int
		fmt.Sscanf(l.Text, "line %d", &i)
		if last >= 0 && i != last+1 {
			t.Fatalf("stdout line %d after %d", i, last)
		}
		last = i
	}
	if last != n-1 {
		t.Fatalf("last stdout line %d, want %d", last, n-1)
	}
	if len(lines) < 40 {
		t.Errorf("only %d lines kept in 3 files of 1000 bytes", len(lines))
	}
}

func TestWriterRotationOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{MaxBytes: 200, MaxFiles: 1})
	for i := range 50 {
		fmt.Fprintf(w.out, "line %03d\n", i)
	}
	w.finish(t)
	if _, err := os.Stat(path + ".1"); err == nil {
		t.Error("a rotated file with MaxFiles 1")
	}
	lines := readAll(t, path, ReadOptions{})
	if len(lines) == 0 || lines[len(lines)-1].Text != "line 049" {
		t.Fatalf("lines: %q", texts(lines))
	}
}

func TestWriterAppendsToExistingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	w := startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "first run\n")
	w.finish(t)
	w = startWriter(t, path, WriterOptions{})
	fmt.Fprint(w.out, "second run\n")
	w.finish(t)
	if got := texts(readAll(t, path, ReadOptions{})); strings.Join(got, "|") != "stdout:first run|stdout:second run" {
		t.Fatalf("lines: %q", got)
	}
}

// TestWriterDrainsOnCancel: after ctx is done the writer reads what is in
// the pipes; if a write end stays open (an orphan holding the container's
// stdout) it stops after the drain timeout.
func TestWriterDrainsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	ctx, cancel := context.WithCancel(context.Background())
	opts := WriterOptions{DrainTimeout: 300 * time.Millisecond}
	w := startWriterCtx(t, ctx, path, opts)
	// Non-blocking, as RunShimWriter makes them, so deadlines apply.
	for _, f := range []*os.File{w.outR, w.errR} {
		if err := setNonblock(f); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Fprint(w.out, "buffered 1\nbuffered 2\n")
	fmt.Fprint(w.err, "buffered 3\n")
	began := time.Now()
	cancel()
	select {
	case err := <-w.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunWriter still running 5 s after cancel")
	}
	if d := time.Since(began); d < opts.DrainTimeout/2 || d > 3*opts.DrainTimeout {
		t.Errorf("returned %v after cancel with drain timeout %v", d, opts.DrainTimeout)
	}
	got := texts(readAll(t, path, ReadOptions{}))
	if len(got) != 3 {
		t.Fatalf("lines after drain: %q", got)
	}
	// A late write goes nowhere and hurts nothing.
	fmt.Fprint(w.out, "late\n")
}

// TestWriterDrainWithBlockingReader: a stream without deadlines is given up
// on after the timeout too.
func TestWriterDrainWithBlockingReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan error, 1)
	go func() {
		done <- RunWriter(ctx, path, pr, nil, nil, WriterOptions{DrainTimeout: 100 * time.Millisecond})
	}()
	fmt.Fprint(pw, "hello\n")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RunWriter still running after the drain timeout")
	}
	if got := texts(readAll(t, path, ReadOptions{})); len(got) != 1 || got[0] != "stdout:hello" {
		t.Fatalf("lines: %q", got)
	}
}

func TestWriterFailsBeforeReady(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	readyR, readyW := pipe(t)
	err := RunWriter(context.Background(), filepath.Join(blocker, "c.log"), nil, nil, readyW, WriterOptions{})
	if err == nil {
		t.Fatal("RunWriter under a regular file: no error")
	}
	readyW.Close()
	// No ready byte, so containerd 2.x's binary-v2 refuses to start the task.
	if b, _ := io.ReadAll(readyR); len(b) != 0 {
		t.Fatalf("ready byte written despite %v", err)
	}
}
