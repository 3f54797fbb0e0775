// Package trace records how long each step of a group's life takes: one
// JSON line per finished step, with the group, the step's name, when it
// began and how long it took. It is off unless asked for (`--trace FILE`,
// or LECI_TRACE=FILE), and then costs a clock read and one short write per
// step. `make bench` turns it on to show where the time of a group goes.
package trace

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// EnvVar names the environment variable that turns tracing on: the file
// the steps are appended to.
const EnvVar = "LECI_TRACE"

// Step is one line of a trace file.
type Step struct {
	// Group is the group's ID; empty for steps of the process itself.
	Group string `json:"group,omitempty"`
	// Name says what the step did: "cni.add", "container.create c", ...
	Name  string    `json:"step"`
	Start time.Time `json:"start"`
	// MS is the step's duration in milliseconds.
	MS  float64 `json:"ms"`
	Err string  `json:"err,omitempty"`
}

// Recorder appends steps to a file. Its methods are safe for concurrent
// use; a nil Recorder records nothing.
type Recorder struct {
	mu sync.Mutex
	w  *bufio.Writer
	c  io.Closer
}

// Open appends to the trace file path, making it when needed.
func Open(path string) (*Recorder, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	return &Recorder{w: bufio.NewWriter(f), c: f}, nil
}

// FromEnv opens the file LECI_TRACE names; nil when it is unset.
func FromEnv() (*Recorder, error) {
	path := os.Getenv(EnvVar)
	if path == "" {
		return nil, nil
	}
	return Open(path)
}

// Record writes one finished step. Lines are flushed at once: a trace is
// read while the process runs (a daemon), and one that is killed keeps
// what it did up to then.
func (r *Recorder) Record(s Step) {
	if r == nil {
		return
	}
	line, err := json.Marshal(s)
	if err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.w.Write(append(line, '\n'))
	r.w.Flush()
}

// Close flushes and closes the file.
func (r *Recorder) Close() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.w.Flush(), r.c.Close())
}

type ctxKey struct{}

type scope struct {
	r     *Recorder
	group string
}

// WithRecorder returns ctx carrying r, so that Begin in code called with it
// records to r. A nil r turns tracing off.
func WithRecorder(ctx context.Context, r *Recorder) context.Context {
	if r == nil {
		return ctx
	}
	return context.WithValue(ctx, ctxKey{}, scope{r: r})
}

// WithGroup returns ctx whose steps belong to group.
func WithGroup(ctx context.Context, group string) context.Context {
	s, ok := ctx.Value(ctxKey{}).(scope)
	if !ok {
		return ctx
	}
	s.group = group
	return context.WithValue(ctx, ctxKey{}, s)
}

// Span is a step under way; End records it.
type Span struct {
	s     scope
	name  string
	start time.Time
}

// Begin starts step name. With no recorder in ctx it costs nothing and End
// does nothing.
func Begin(ctx context.Context, name string) Span {
	s, ok := ctx.Value(ctxKey{}).(scope)
	if !ok {
		return Span{}
	}
	return Span{s: s, name: name, start: time.Now()}
}

// End records the step, and the error it ended with, if any.
func (sp Span) End(err error) {
	if sp.s.r == nil {
		return
	}
	st := Step{Group: sp.s.group, Name: sp.name, Start: sp.start, MS: float64(time.Since(sp.start).Microseconds()) / 1000}
	if err != nil {
		st.Err = err.Error()
	}
	sp.s.r.Record(st)
}

// Read parses a trace file's lines.
func Read(r io.Reader) ([]Step, error) {
	var steps []Step
	dec := json.NewDecoder(r)
	for {
		var s Step
		err := dec.Decode(&s)
		if err == io.EOF {
			return steps, nil
		}
		if err != nil {
			return steps, fmt.Errorf("trace: %w", err)
		}
		steps = append(steps, s)
	}
}
