// Package capped holds a buffer that keeps at most a fixed number of bytes,
// for the output of commands leci runs on a caller's behalf (exec, probes),
// so that a chatty command cannot grow leci's memory.
package capped

import (
	"bytes"
	"sync"
)

// Buffer keeps the first Max bytes written to it and drops the rest. It is
// safe for concurrent writers, so one Buffer can take both stdout and stderr.
type Buffer struct {
	Max int

	mu  sync.Mutex
	buf bytes.Buffer
}

// Write keeps what fits and always reports the whole of p as written, so
// that the command's output copy never fails.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.Max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Bytes returns a copy of what was kept.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
