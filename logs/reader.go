package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// Line is one line of a container's output.
type Line struct {
	// Time is when the writer got the line (its first part, for a line
	// written in parts).
	Time time.Time
	// Stream is Stdout or Stderr.
	Stream string
	// Text is the line without its newline, its parts joined.
	Text string
}

// ReadOptions select lines, in this order: Since, then Tail, then
// LimitBytes.
type ReadOptions struct {
	// Tail keeps the last Tail lines; 0 keeps all, a negative value none
	// (with Follow: only lines written after it started).
	Tail int
	// Since keeps the lines stamped at or after it; zero keeps all.
	Since time.Time
	// LimitBytes bounds the sum of len(Text)+1 over the lines, counting
	// each line's newline; 0 means no bound. Lines are kept whole: the
	// first line that would cross the bound ends the output, except that a
	// first line longer than the bound is cut to it rather than show
	// nothing.
	LimitBytes int64
}

// Read returns the lines of path and its rotated files, oldest first,
// selected by opts. A line whose end is not written yet comes as it is. It
// returns an error wrapping fs.ErrNotExist when there is no file at all.
//
// It reads only about what it returns, however long the log: with Tail or
// Since it reads backwards from the end, in windows that grow fourfold,
// until a window holds Tail lines or reaches back before Since (a line cut
// by the window's start is left out); with LimitBytes alone it reads
// forwards and stops once the bound is met.
func Read(path string, opts ReadOptions) ([]Line, error) {
	if opts.Tail < 0 {
		return nil, nil
	}
	files, err := openSet(path)
	if err != nil {
		return nil, err
	}
	defer closeAll(files)
	// The sizes now: what is appended meanwhile waits for the next read.
	sizes := make([]int64, len(files))
	var total int64
	for i, lf := range files {
		fi, err := lf.f.Stat()
		if err != nil {
			return nil, fmt.Errorf("read log file: %w", err)
		}
		sizes[i] = fi.Size()
		total += sizes[i]
	}
	if opts.Tail == 0 && opts.Since.IsZero() {
		sel, err := readWindow(files, sizes, 0, opts)
		if err != nil {
			return nil, err
		}
		return sel.lines(), nil
	}
	for window := int64(readWindowStart); ; window *= 4 {
		start := max(total-window, 0)
		sel, err := readWindow(files, sizes, start, opts)
		if err != nil {
			return nil, err
		}
		if start == 0 || (opts.Tail > 0 && sel.kept >= opts.Tail) || sel.older {
			return sel.lines(), nil
		}
	}
}

// readWindowStart is the first window Read reads back from the end.
const readWindowStart = 64 << 10

// errEnough stops a read once the selection cannot grow any more.
var errEnough = errors.New("enough lines read")

// readWindow reads the files (as long as sizes say) from offset start of
// their concatenation to the end through a selector. From a start past 0
// it skips to the first whole record and leaves out, per stream, what
// comes before the first line end it sees: that line began before the
// window.
func readWindow(files []logFile, sizes []int64, start int64, opts ReadOptions) (*selector, error) {
	sel := newSelector(opts)
	j := joiner{maxText: opts.LimitBytes, unsynced: start > 0}
	emit := func(l Line) error {
		sel.add(l)
		if sel.full() {
			return errEnough
		}
		return nil
	}
	buf := make([]byte, 64<<10)
	var base int64
	for i, lf := range files {
		from, end := max(start-base, 0), sizes[i]
		base += sizes[i]
		if from >= end {
			continue
		}
		r := io.NewSectionReader(lf.f, from, end-from)
		var carry []byte
		skip := from > 0 // into the middle of a record, maybe
		for {
			n, err := r.Read(buf)
			data := buf[:n]
			if skip && n > 0 {
				k := bytes.IndexByte(data, '\n')
				if k < 0 {
					data = nil
				} else {
					data, skip = data[k+1:], false
				}
			}
			if len(data) > 0 {
				var ferr error
				carry, ferr = j.feed(append(carry, data...), emit)
				if errors.Is(ferr, errEnough) {
					return sel, nil
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("read log file: %w", err)
			}
		}
		// An unterminated record at the end of a file is one being
		// written: it is left out.
	}
	_ = j.flush(emit)
	return sel, nil
}

// Format renders l for output: its text with a newline, after its time
// (RFC 3339, UTC, nanoseconds) and a space if timestamps is set.
func Format(l Line, timestamps bool) string {
	if timestamps {
		return l.Time.UTC().Format(time.RFC3339Nano) + " " + l.Text + "\n"
	}
	return l.Text + "\n"
}

// selector applies ReadOptions to lines given oldest first.
type selector struct {
	opts ReadOptions
	ring []Line // the last Tail lines when Tail > 0, else all
	next int    // where the ring's oldest line is, once it is full
	// kept counts the lines at or after Since; older is set once a line
	// before Since went by.
	kept  int
	older bool
	// bytes is what the kept lines weigh against LimitBytes, with no Tail.
	bytes int64
}

func newSelector(opts ReadOptions) *selector { return &selector{opts: opts} }

// full reports whether no later line can change the selection: with
// LimitBytes and no Tail, once the first lines fill the bound.
func (s *selector) full() bool {
	return s.opts.Tail == 0 && s.opts.LimitBytes > 0 && s.bytes >= s.opts.LimitBytes
}

func (s *selector) add(l Line) {
	if s.opts.Tail < 0 {
		return
	}
	if !s.opts.Since.IsZero() && l.Time.Before(s.opts.Since) {
		s.older = true
		return
	}
	s.kept++
	s.bytes += int64(len(l.Text)) + 1
	if s.opts.Tail > 0 && len(s.ring) == s.opts.Tail {
		s.ring[s.next] = l
		s.next = (s.next + 1) % len(s.ring)
		return
	}
	s.ring = append(s.ring, l)
}

func (s *selector) lines() []Line {
	out := append(s.ring[s.next:len(s.ring):len(s.ring)], s.ring[:s.next]...)
	if s.opts.LimitBytes <= 0 {
		return out
	}
	var budget limit
	budget.set(s.opts.LimitBytes)
	for i, l := range out {
		l, ok, last := budget.take(l, i == 0)
		if !ok {
			return out[:i]
		}
		out[i] = l
		if last {
			return out[:i+1]
		}
	}
	return out
}

// limit is what is left of ReadOptions.LimitBytes.
type limit struct {
	on   bool
	left int64
}

func (b *limit) set(n int64) { b.on, b.left = n > 0, n }

// take charges l to the budget. ok is false if l does not fit; last is true
// when l was cut to fit (it was the first line) or used the budget up.
func (b *limit) take(l Line, first bool) (_ Line, ok, last bool) {
	if !b.on {
		return l, true, false
	}
	need := int64(len(l.Text)) + 1
	if need > b.left {
		if !first || b.left <= 0 {
			return l, false, true
		}
		l.Text = l.Text[:b.left]
		b.left = 0
		return l, true, true
	}
	b.left -= need
	return l, true, b.left == 0
}

// joiner parses records and joins the parts of a line, per stream.
type joiner struct {
	open []openLine
	// maxText (> 0) bounds a line's text: what goes past it is dropped.
	maxText int64
	// unsynced: the records start mid-log; a stream's records are left
	// out up to and with its first line end (synced lists the streams
	// past it).
	unsynced bool
	synced   []string
}

type openLine struct {
	stream string
	time   time.Time
	text   []byte
}

// feed parses the complete records in data, calls emit for each line they
// end, and returns what follows the last newline (an unterminated record),
// which it may share with data.
func (j *joiner) feed(data []byte, emit func(Line) error) ([]byte, error) {
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return data, nil
		}
		rec := data[:i]
		data = data[i+1:]
		t, stream, partial, text, ok := parseRecord(rec)
		if !ok {
			continue // not a record of ours: skipped rather than fail the read
		}
		if err := j.add(t, stream, partial, text, emit); err != nil {
			return data, err
		}
	}
}

func (j *joiner) add(t time.Time, stream string, partial bool, text []byte, emit func(Line) error) error {
	if j.unsynced && !slices.Contains(j.synced, stream) {
		if !partial {
			j.synced = append(j.synced, stream)
		}
		return nil
	}
	if j.maxText > 0 {
		used := int64(0)
		for _, o := range j.open {
			if o.stream == stream {
				used = int64(len(o.text))
			}
		}
		text = text[:max(min(int64(len(text)), j.maxText-used), 0)]
	}
	for i := range j.open {
		o := &j.open[i]
		if o.stream != stream {
			continue
		}
		o.text = append(o.text, text...)
		if partial {
			return nil
		}
		l := Line{Time: o.time, Stream: o.stream, Text: string(o.text)}
		j.open = append(j.open[:i], j.open[i+1:]...)
		return emit(l)
	}
	if partial {
		j.open = append(j.open, openLine{stream: stream, time: t, text: append([]byte(nil), text...)})
		return nil
	}
	return emit(Line{Time: t, Stream: stream, Text: string(text)})
}

// flush emits the lines still open, as they are.
func (j *joiner) flush(emit func(Line) error) error {
	open := j.open
	j.open = nil
	for _, o := range open {
		if err := emit(Line{Time: o.time, Stream: o.stream, Text: string(o.text)}); err != nil {
			return err
		}
	}
	return nil
}

// parseRecord splits "<time> <stream> <tag> <text>". A tag may carry more
// flags after a colon (the CRI format allows "F:x"); only the first counts.
func parseRecord(rec []byte) (t time.Time, stream string, partial bool, text []byte, ok bool) {
	ts, rest, ok := bytes.Cut(rec, []byte{' '})
	if !ok {
		return
	}
	st, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(st) == 0 {
		return
	}
	tag, text, _ := bytes.Cut(rest, []byte{' '})
	if len(tag) == 0 || (tag[0] != 'P' && tag[0] != 'F') || (len(tag) > 1 && tag[1] != ':') {
		return time.Time{}, "", false, nil, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return time.Time{}, "", false, nil, false
	}
	switch string(st) {
	case Stdout:
		stream = Stdout
	case Stderr:
		stream = Stderr
	default:
		stream = string(st)
	}
	return t, stream, tag[0] == 'P', text, true
}
