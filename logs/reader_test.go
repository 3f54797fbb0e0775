package logs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// record is one line of a log file as the writer writes it.
func record(sec int, stream, tag, text string) string {
	return t0.Add(time.Duration(sec)*time.Second).Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + text + "\n"
}

// writeFiles writes the current file and the rotated ones (newest first).
func writeFiles(t *testing.T, path string, current string, rotated ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(current), 0o640); err != nil {
		t.Fatal(err)
	}
	for i, c := range rotated {
		if err := os.WriteFile(rotatedName(path, i+1), []byte(c), 0o640); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadJoinsAcrossRotatedFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	// c's last part is in the current file; the unterminated record at the
	// end is being written.
	writeFiles(t, path,
		record(4, "stdout", "F", "c2")+record(5, "stdout", "F", "e")+record(6, "stderr", "F", "f")+"2024-05-01T10:00:07Z stdout F unterminated",
		record(3, "stdout", "P", "c1-")+record(3, "stderr", "F", "d")+"garbage line\n",
		record(1, "stdout", "F", "a")+record(2, "stdout", "F", "b"),
	)
	lines := readAll(t, path, ReadOptions{})
	want := "stdout:a|stdout:b|stderr:d|stdout:c1-c2|stdout:e|stderr:f"
	if got := strings.Join(texts(lines), "|"); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if !lines[3].Time.Equal(t0.Add(3 * time.Second)) {
		t.Errorf("joined line's time %v, want its first part's", lines[3].Time)
	}
}

func TestReadOptions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var cur, old strings.Builder
	for i := range 10 {
		b := &cur
		if i < 4 {
			b = &old
		}
		b.WriteString(record(i, "stdout", "F", fmt.Sprintf("line%d", i)))
	}
	writeFiles(t, path, cur.String(), old.String())

	for _, tc := range []struct {
		name string
		opts ReadOptions
		want string
	}{
		{"all", ReadOptions{}, "0 1 2 3 4 5 6 7 8 9"},
		{"tail", ReadOptions{Tail: 3}, "7 8 9"},
		{"tail over rotation", ReadOptions{Tail: 7}, "3 4 5 6 7 8 9"},
		{"tail more than all", ReadOptions{Tail: 50}, "0 1 2 3 4 5 6 7 8 9"},
		{"tail none", ReadOptions{Tail: -1}, ""},
		{"since", ReadOptions{Since: t0.Add(7 * time.Second)}, "7 8 9"},
		{"since between", ReadOptions{Since: t0.Add(6500 * time.Millisecond)}, "7 8 9"},
		{"since then tail", ReadOptions{Since: t0.Add(2 * time.Second), Tail: 2}, "8 9"},
		{"limit whole lines", ReadOptions{LimitBytes: 20}, "0 1 2"},    // 6 bytes a line
		{"limit exact", ReadOptions{LimitBytes: 18}, "0 1 2"},          // 3 lines use it up
		{"limit after tail", ReadOptions{Tail: 2, LimitBytes: 7}, "8"}, // 9 does not fit
		{"limit cuts a first line", ReadOptions{LimitBytes: 3}, "lin"}, // rather than nothing
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, l := range readAll(t, path, tc.opts) {
				got = append(got, strings.TrimPrefix(l.Text, "line"))
			}
			if s := strings.Join(got, " "); s != tc.want {
				t.Fatalf("got %q, want %q", s, tc.want)
			}
		})
	}
}

func TestReadMissing(t *testing.T) {
	_, err := Read(filepath.Join(t.TempDir(), "none.log"), ReadOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestParseRecord(t *testing.T) {
	for _, tc := range []struct {
		in      string
		ok      bool
		partial bool
		text    string
	}{
		{"2024-05-01T10:00:00.5Z stdout F hi there", true, false, "hi there"},
		{"2024-05-01T10:00:00Z stderr P part", true, true, "part"},
		{"2024-05-01T10:00:00Z stdout F", true, false, ""},
		{"2024-05-01T10:00:00Z stdout F:x tagged", true, false, "tagged"},
		{"2024-05-01T10:00:00Z stdout X nope", false, false, ""},
		{"2024-05-01T10:00:00Z stdout FF nope", false, false, ""},
		{"yesterday stdout F nope", false, false, ""},
		{"2024-05-01T10:00:00Z", false, false, ""},
	} {
		_, _, partial, text, ok := parseRecord([]byte(tc.in))
		if ok != tc.ok || (ok && (partial != tc.partial || string(text) != tc.text)) {
			t.Errorf("parseRecord(%q) = %v %v %q", tc.in, ok, partial, text)
		}
	}
}

func TestFormat(t *testing.T) {
	l := Line{Time: time.Date(2024, 5, 1, 12, 0, 0, 120000000, time.FixedZone("x", 7200)), Stream: Stderr, Text: "hi"}
	if got := Format(l, false); got != "hi\n" {
		t.Errorf("Format = %q", got)
	}
	if got := Format(l, true); got != "2024-05-01T10:00:00.12Z hi\n" {
		t.Errorf("Format with timestamps = %q", got)
	}
}

// rchar is how many bytes this process has read so far.
func rchar(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "rchar: "); ok {
			var n int64
			fmt.Sscan(v, &n)
			return n
		}
	}
	t.Fatal("no rchar in /proc/self/io")
	return 0
}

// Read reads about what it returns, not the whole log: the tail of a log
// with 64 MiB before it, or the first lines up to LimitBytes.
func TestReadReadsOnlyWhatItReturns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	var head, tail strings.Builder
	for i := range 100 {
		head.WriteString(record(i, "stdout", "F", fmt.Sprintf("head %d", i)))
		tail.WriteString(record(1000+i, "stdout", "F", fmt.Sprintf("tail %d", i)))
	}
	f.WriteString(head.String())
	// 64 MiB of old lines, written sparse to spare the disk.
	if _, err := f.Seek(64<<20, io.SeekCurrent); err != nil {
		t.Fatal(err)
	}
	f.WriteString("\n" + tail.String())
	f.Close()

	before := rchar(t)
	lines := readAll(t, path, ReadOptions{Tail: 3})
	if got, want := strings.Join(texts(lines), "|"), "stdout:tail 97|stdout:tail 98|stdout:tail 99"; got != want {
		t.Errorf("Tail 3: %s, want %s", got, want)
	}
	lines = readAll(t, path, ReadOptions{LimitBytes: 14})
	if got, want := strings.Join(texts(lines), "|"), "stdout:head 0|stdout:head 1"; got != want {
		t.Errorf("LimitBytes 14: %s, want %s", got, want)
	}
	lines = readAll(t, path, ReadOptions{Since: t0.Add(1098 * time.Second)})
	if got, want := strings.Join(texts(lines), "|"), "stdout:tail 98|stdout:tail 99"; got != want {
		t.Errorf("Since: %s, want %s", got, want)
	}
	if read := rchar(t) - before; read > 1<<20 {
		t.Errorf("three small reads of the log read %d bytes of it", read)
	}
}
