// Package pullprogress shows the progress of image pulls as docker and
// nerdctl do: per layer, as Docker's JSON messages, drawn by Docker's own
// renderer (jsonmessage): on a terminal, one bar per layer redrawn in
// place; otherwise plain lines, one per change of a layer's state.
//
// Both runtimes speak it: Docker's daemon sends these messages itself, and
// the containerd backend makes them from the content store's ingests.
package pullprogress

import (
	"bytes"
	"encoding/json"
	"io"
	"sync"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/moby/term"
)

// Sink takes the messages of pulls. A nil Sink shows nothing, and a pull
// given none runs no progress machinery at all.
type Sink interface {
	Message(m jsonmessage.JSONMessage)
}

// Display draws the messages on a writer. Close it when the pulls are over.
// Nothing runs until the first message: a command whose images are all
// present pays nothing for it.
type Display struct {
	w io.Writer

	mu       sync.Mutex
	enc      *json.Encoder // nil until the first message
	pw       *io.PipeWriter
	done     chan struct{}
	terminal bool
	// last holds each layer's last status, so that plain output has one
	// line per change.
	last   map[string]string
	closed bool
}

// NewDisplay draws on w: with bars when w is a terminal, else in lines,
// each written whole so that other lines written to w do not split them.
func NewDisplay(w io.Writer) *Display {
	_, terminal := term.GetFdInfo(w)
	return &Display{w: w, terminal: terminal, last: map[string]string{}}
}

// start begins drawing; mu is held.
func (d *Display) start() {
	fd, _ := term.GetFdInfo(d.w)
	out := d.w
	if !d.terminal {
		out = &lineWriter{w: d.w}
	}
	pr, pw := io.Pipe()
	d.enc, d.pw, d.done = json.NewEncoder(pw), pw, make(chan struct{})
	go func() {
		defer close(d.done)
		// Display stops at a message carrying an error, which no Sink
		// sends: pulls report their errors themselves.
		_ = jsonmessage.DisplayJSONMessagesStream(pr, out, fd, d.terminal, nil)
		_, _ = io.Copy(io.Discard, pr)
	}()
}

// Message draws m. Without a terminal, a layer's message is dropped when
// its status has not changed since the last one: the byte counts of a
// download are for bars.
func (d *Display) Message(m jsonmessage.JSONMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || m.Error != nil {
		return
	}
	if !d.terminal && m.ID != "" {
		if d.last[m.ID] == m.Status {
			return
		}
		d.last[m.ID] = m.Status
		// A line says the state, not the count.
		m.Progress, m.ProgressMessage = nil, ""
	}
	if d.enc == nil {
		d.start()
	}
	_ = d.enc.Encode(m)
}

// Close waits until every message is drawn.
func (d *Display) Close() error {
	d.mu.Lock()
	d.closed = true
	started := d.enc != nil
	d.mu.Unlock()
	if started {
		d.pw.Close()
		<-d.done
	}
	return nil
}

// lineWriter writes only whole lines to w, each in one Write.
type lineWriter struct {
	w   io.Writer
	buf []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	if i := bytes.LastIndexByte(l.buf, '\n'); i >= 0 {
		_, err := l.w.Write(l.buf[:i+1])
		l.buf = append(l.buf[:0], l.buf[i+1:]...)
		if err != nil {
			return len(p), err
		}
	}
	return len(p), nil
}
