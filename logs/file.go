package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// fileWriter appends records to the current file and rotates it. One mutex
// covers building and writing a record, so the records of the two streams
// never interleave and their times never go backwards in a file.
type fileWriter struct {
	path string
	opts WriterOptions

	mu     sync.Mutex
	f      *os.File // nil after a failed reopen; the next write retries
	size   int64
	buf    []byte
	closed bool
	err    error // the first error, returned by close
}

func openFileWriter(path string, opts WriterOptions) (*fileWriter, error) {
	w := &fileWriter{path: path, opts: opts, buf: make([]byte, 0, MaxLineBytes+64)}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

// open opens path for appending, creating it and its directory.
func (w *fileWriter) open() error {
	if err := os.MkdirAll(filepath.Dir(w.path), 0o755); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("open log file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open log file: %w", err)
	}
	w.f, w.size = f, fi.Size()
	return nil
}

// write appends one record, stamped now.
func (w *fileWriter) write(stream string, tag byte, text []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	b := time.Now().UTC().AppendFormat(w.buf[:0], time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ', tag, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	w.buf = b[:0]

	if w.f != nil && w.size > 0 && w.size+int64(len(b)) > w.opts.MaxBytes {
		w.rotate()
	}
	if w.f == nil {
		if err := w.open(); err != nil {
			w.failLocked(err)
			return
		}
	}
	n, err := w.f.Write(b)
	w.size += int64(n)
	if err != nil {
		w.failLocked(fmt.Errorf("write log file: %w", err))
	}
}

// rotate closes the current file, shifts the files by one and starts a new
// one. If the shift fails the current file goes on growing rather than be
// lost; the next record tries again.
func (w *fileWriter) rotate() {
	if err := w.f.Close(); err != nil {
		w.failLocked(fmt.Errorf("close log file: %w", err))
	}
	w.f = nil
	if err := shiftFiles(w.path, w.opts.MaxFiles); err != nil {
		w.failLocked(err)
	}
	// open appends, so after a failed shift nothing is truncated.
	if err := w.open(); err != nil {
		w.failLocked(err)
	}
}

// shiftFiles makes room for a new current file: PATH.(maxFiles-1) is
// removed, PATH.i becomes PATH.(i+1) and PATH becomes PATH.1. With maxFiles
// 1, PATH is removed.
func shiftFiles(path string, maxFiles int) error {
	if maxFiles <= 1 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate log file: %w", err)
		}
		return nil
	}
	if err := os.Remove(rotatedName(path, maxFiles-1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotate log file: %w", err)
	}
	for i := maxFiles - 2; i >= 1; i-- {
		if err := os.Rename(rotatedName(path, i), rotatedName(path, i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate log file: %w", err)
		}
	}
	if err := os.Rename(path, rotatedName(path, 1)); err != nil {
		return fmt.Errorf("rotate log file: %w", err)
	}
	return nil
}

// rotatedName is the name of the i-th older file of path.
func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

func (w *fileWriter) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.failLocked(err)
}

func (w *fileWriter) failLocked(err error) {
	if w.err == nil {
		w.err = err
	}
}

// close stops all writes, closes the file and returns the first error.
func (w *fileWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed && w.f != nil {
		if err := w.f.Close(); err != nil {
			w.failLocked(fmt.Errorf("close log file: %w", err))
		}
	}
	w.closed = true
	return w.err
}
