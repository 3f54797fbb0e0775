package logs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Streams, as they are named in the files.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

const (
	// DefaultMaxBytes is WriterOptions.MaxBytes when it is 0.
	DefaultMaxBytes = 10 << 20
	// DefaultMaxFiles is WriterOptions.MaxFiles when it is 0.
	DefaultMaxFiles = 2
	// DefaultDrainTimeout is WriterOptions.DrainTimeout when it is 0.
	DefaultDrainTimeout = 2 * time.Second
	// MaxLineBytes bounds the text of one record: a longer line is written
	// as P records of this size and an F record with the rest, like the
	// kubelet's 16 KiB.
	MaxLineBytes = 16 << 10
)

// WriterOptions bound what RunWriter keeps.
type WriterOptions struct {
	// MaxBytes bounds the current file: a record that would take it past
	// MaxBytes starts a new one (a file holds at least one record). 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// MaxFiles is how many files are kept, the current one included, so 1
	// keeps no rotated file. 0 means DefaultMaxFiles.
	MaxFiles int
	// DrainTimeout is how long the writer goes on reading once ctx is done,
	// for what is still in the pipes; it must stay well under the 12 s the
	// shim waits after SIGTERM before SIGKILL. 0 means DefaultDrainTimeout.
	DrainTimeout time.Duration
}

func (o WriterOptions) withDefaults() WriterOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = DefaultMaxFiles
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = DefaultDrainTimeout
	}
	return o
}

// RunWriter writes stdout and stderr to the log file path, line by line, and
// returns when both streams are at EOF. It creates path's directory (0755)
// and the file (0640), appending to what is there, holds PATH.lock shared
// while it runs (see Writing), then signals ready: it writes one byte to
// ready if ready is an io.Writer (containerd 2.x's "binary-v2" scheme wants a
// byte; 1.6 takes the byte or EOF alike) and closes it. A nil stream or
// ready is left out.
//
// When ctx is done the writer goes on reading for opts.DrainTimeout: streams
// that support read deadlines (non-blocking *os.File) get one, and after the
// timeout RunWriter returns even if a read is still blocked, dropping what
// comes later.
//
// A write error does not stop the reading, since a logger that stops reading
// blocks the container on a full pipe: the record is dropped, the next one
// tries again, and RunWriter returns the first such error at the end.
func RunWriter(ctx context.Context, path string, stdout, stderr io.Reader, ready io.Closer, opts WriterOptions) error {
	opts = opts.withDefaults()
	unlock, err := lockWriter(path)
	if err != nil {
		return err
	}
	defer unlock()
	w, err := openFileWriter(path, opts)
	if err != nil {
		return err
	}
	if ready != nil {
		if err := signalReady(ready); err != nil {
			w.close()
			return err
		}
	}

	var wg sync.WaitGroup
	for _, s := range []struct {
		name string
		r    io.Reader
	}{{Stdout, stdout}, {Stderr, stderr}} {
		if s.r == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.copyStream(s.name, s.r)
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()

	select {
	case <-done:
	case <-ctx.Done():
		// The shim closes its ends of the pipes before it signals, so
		// EOF is normally right behind what is still buffered.
		deadline := time.Now().Add(opts.DrainTimeout)
		setReadDeadline(stdout, deadline)
		setReadDeadline(stderr, deadline)
		timer := time.NewTimer(opts.DrainTimeout + 100*time.Millisecond)
		select {
		case <-done:
		case <-timer.C:
		}
		timer.Stop()
	}
	return w.close()
}

func signalReady(ready io.Closer) error {
	if wr, ok := ready.(io.Writer); ok {
		if _, err := wr.Write([]byte{'r'}); err != nil {
			ready.Close()
			return fmt.Errorf("signal ready: %w", err)
		}
	}
	if err := ready.Close(); err != nil {
		return fmt.Errorf("signal ready: %w", err)
	}
	return nil
}

func setReadDeadline(r io.Reader, t time.Time) {
	if d, ok := r.(interface{ SetReadDeadline(time.Time) error }); ok {
		_ = d.SetReadDeadline(t) // a file without deadlines is waited for up to the timer
	}
}

// copyStream splits r into records until r ends.
func (w *fileWriter) copyStream(stream string, r io.Reader) {
	br := bufio.NewReaderSize(r, MaxLineBytes)
	partial := false // the last record was a P, so the line is open
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			w.write(stream, 'F', line[:len(line)-1])
			partial = false
		case errors.Is(err, bufio.ErrBufferFull):
			w.write(stream, 'P', line)
			partial = true
		default:
			// EOF, a read deadline or a broken pipe: the stream is over.
			// Like containerd's CRI logger, an unterminated last line is
			// written as full, and an open line is closed so that
			// readers do not wait for its end.
			if len(line) > 0 || partial {
				w.write(stream, 'F', line)
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, os.ErrClosed) {
				w.fail(fmt.Errorf("read %s: %w", stream, err))
			}
			return
		}
	}
}
