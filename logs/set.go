package logs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// logFile is an open log file and its inode, which names it across renames.
type logFile struct {
	f   *os.File
	ino uint64
}

// setAttempts bounds openSet's retries; a rotation takes a few renames, so
// racing one is rare and racing several in a row rarer still.
const setAttempts = 10

// openSet opens PATH.n … PATH.1 and PATH, oldest first. A rotation that
// renames them while they are being opened is seen by looking the names up
// again afterwards; then it starts over. After setAttempts it returns what
// it has. It fails with an error wrapping fs.ErrNotExist when there is no
// file at all.
func openSet(path string) ([]logFile, error) {
	var last []logFile
	for attempt := 0; attempt < setAttempts; attempt++ {
		if attempt > 0 {
			closeAll(last)
			time.Sleep(time.Millisecond)
		}
		files, stable, err := openSetOnce(path)
		if err != nil {
			return nil, err
		}
		if stable {
			return files, nil
		}
		last = files
	}
	if len(last) == 0 {
		return nil, fmt.Errorf("open log file: %w", &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
	}
	return last, nil
}

func openSetOnce(path string) (files []logFile, stable bool, err error) {
	names := []string{path}
	for i := 1; ; i++ {
		n := rotatedName(path, i)
		if _, err := os.Lstat(n); err != nil {
			break
		}
		names = append(names, n)
	}
	// Oldest first.
	for i, j := 0, len(names)-1; i < j; i, j = i+1, j-1 {
		names[i], names[j] = names[j], names[i]
	}

	stable = true
	opened := make([]string, 0, len(names))
	for _, n := range names {
		f, err := os.Open(n)
		if errors.Is(err, fs.ErrNotExist) {
			stable = false // renamed or removed under us
			continue
		}
		if err != nil {
			closeAll(files)
			return nil, false, fmt.Errorf("open log file: %w", err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			closeAll(files)
			return nil, false, fmt.Errorf("open log file: %w", err)
		}
		files = append(files, logFile{f: f, ino: inode(fi)})
		opened = append(opened, n)
	}
	if len(files) == 0 {
		if stable {
			return nil, false, fmt.Errorf("open log file: %w", &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist})
		}
		return nil, false, nil
	}
	for i, n := range opened {
		fi, err := os.Lstat(n)
		if err != nil || inode(fi) != files[i].ino {
			stable = false
			break
		}
	}
	if _, err := os.Lstat(rotatedName(path, len(names))); err == nil {
		stable = false // a rotation added a file
	}
	return files, stable, nil
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

func closeAll(files []logFile) {
	for _, lf := range files {
		lf.f.Close()
	}
}
