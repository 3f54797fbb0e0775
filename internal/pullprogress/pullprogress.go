// Package pullprogress shows the progress of image pulls as docker and
// nerdctl do: per layer, as Docker's JSON messages, drawn by Docker's own
// renderer (jsonmessage): on a terminal, one bar per layer redrawn in
// place; otherwise plain lines, one per change of a layer's state.
//
// Both runtimes speak it: Docker's daemon sends these messages itself, and
// the containerd backend makes them from the content store's ingests.
package pullprogress

import (
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
type Display struct {
	mu       sync.Mutex
	enc      *json.Encoder
	pw       *io.PipeWriter
	done     chan struct{}
	terminal bool
	// last holds each layer's last status, so that plain output has one
	// line per change.
	last   map[string]string
	closed bool
}

// NewDisplay draws on w: with bars when w is a terminal, else in lines.
func NewDisplay(w io.Writer) *Display {
	fd, terminal := term.GetFdInfo(w)
	pr, pw := io.Pipe()
	d := &Display{enc: json.NewEncoder(pw), pw: pw, done: make(chan struct{}), terminal: terminal, last: map[string]string{}}
	go func() {
		defer close(d.done)
		// Display stops at a message carrying an error, which no Sink
		// sends: pulls report their errors themselves.
		_ = jsonmessage.DisplayJSONMessagesStream(pr, w, fd, terminal, nil)
		_, _ = io.Copy(io.Discard, pr)
	}()
	return d
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
		m.Progress = nil // a line says the state, not the count
	}
	_ = d.enc.Encode(m)
}

// Close waits until every message is drawn.
func (d *Display) Close() error {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.pw.Close()
	<-d.done
	return nil
}
