package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/internal/atomicfile"
	"leci/runtime"
)

// A group of `leci run` lives only as long as its process: the process
// deletes it when the group ends. A run killed with SIGKILL (a CI job's
// timeout) cannot, and its group would run on for ever. So each foreground
// group has, under ROOT/foreground, a lock file its process holds (flock)
// for as long as it owns the group, and its status, written at every change
// as the daemon's store keeps it. A group whose lock nobody holds is an
// orphan: the next leci on the root (leci run, the daemon, leci gc) takes
// it over and deletes it. The lock is never free while its leci runs,
// however it ends; the kernel frees it when the process is gone.

// foregroundDir is where foreground groups are recorded.
func foregroundDir(root string) string { return filepath.Join(root, "foreground") }

// A group's status file holds its records one JSON line each, the last
// complete line the current one: a change is one append. Replacing the
// whole file at each change, through a temporary file renamed over it,
// cost some 0.33 ms a change on ext4 (which starts writing the new file
// out at a rename over an old one), a dozen times on the way from a
// request to an ended one-container group. A crash mid-append leaves a
// torn last line, which the reader passes over for the one before. The
// first record, and the one that finds the file past statusFileMax, makes
// the file anew holding itself alone, replaced whole, so it never appears
// empty or half written.
const statusFileMax = 256 << 10

// foregroundRecorder records the groups of this process: runtime.Recorder.
type foregroundRecorder struct {
	dir string

	mu    sync.Mutex
	locks map[string]*os.File // held, by group
	// statuses are the status files open for appending, by group, and
	// their sizes.
	statuses map[string]*statusFile
}

type statusFile struct {
	f    *os.File
	size int
}

func newForegroundRecorder(root string) (*foregroundRecorder, error) {
	dir := foregroundDir(root)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("foreground groups: %w", err)
	}
	return &foregroundRecorder{dir: dir, locks: map[string]*os.File{}, statuses: map[string]*statusFile{}}, nil
}

func (r *foregroundRecorder) lockPath(id string) string   { return filepath.Join(r.dir, id+".lock") }
func (r *foregroundRecorder) statusPath(id string) string { return filepath.Join(r.dir, id+".json") }

// Save records st, first taking the group's lock: the engine saves a
// group before it makes anything for it.
func (r *foregroundRecorder) Save(st runtime.GroupStatus) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.locks[st.ID]; !ok {
		f, err := r.newLock(st.ID)
		if err != nil {
			return err
		}
		r.locks[st.ID] = f
	}
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if sf := r.statuses[st.ID]; sf != nil && sf.size+len(data) <= statusFileMax {
		if _, err := sf.f.Write(data); err == nil {
			sf.size += len(data)
			return nil
		}
		// Whatever part of the line was written is passed over by the
		// reader; the file is made anew below.
	}
	if err := r.newStatusFile(st.ID, data); err != nil {
		return fmt.Errorf("record group %s: %w", st.ID, err)
	}
	return nil
}

// newStatusFile replaces id's status file by one holding data alone, and
// keeps it open for the next records.
func (r *foregroundRecorder) newStatusFile(id string, data []byte) error {
	r.closeStatus(id)
	path := r.statusPath(id)
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err // written; the next record makes it anew again
	}
	r.statuses[id] = &statusFile{f: f, size: len(data)}
	return nil
}

func (r *foregroundRecorder) closeStatus(id string) {
	if sf := r.statuses[id]; sf != nil {
		sf.f.Close()
		delete(r.statuses, id)
	}
}

// lastStatus is the last complete record of group id in a status file's
// content (a file of an older leci holds one record, with no newline).
func lastStatus(data []byte, id string) (runtime.GroupStatus, error) {
	var lastErr error = errors.New("no record")
	for len(data) > 0 {
		data = bytes.TrimRight(data, "\n")
		line := data[bytes.LastIndexByte(data, '\n')+1:]
		data = data[:len(data)-len(line)]
		var st runtime.GroupStatus
		err := json.Unmarshal(line, &st)
		switch {
		case err != nil:
			lastErr = err // torn by a crash mid-append
		case st.ID != id:
			lastErr = fmt.Errorf("a record of group %q", st.ID)
		case st.Request == nil:
			lastErr = errors.New("a record with no request")
		default:
			return st, nil
		}
	}
	return runtime.GroupStatus{}, lastErr
}

// newLock makes the group's lock file already locked: it is locked under
// a name of its own and then renamed into place, so that no other leci
// ever finds it there unlocked.
func (r *foregroundRecorder) newLock(id string) (*os.File, error) {
	tmp, err := os.CreateTemp(r.dir, id+".lock.*")
	if err != nil {
		return nil, fmt.Errorf("lock group %s: %w", id, err)
	}
	if err := unix.Flock(int(tmp.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("lock group %s: %w", id, err)
	}
	if err := os.Rename(tmp.Name(), r.lockPath(id)); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("lock group %s: %w", id, err)
	}
	return tmp, nil
}

// Remove forgets a deleted group: its status goes before its lock.
func (r *foregroundRecorder) Remove(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closeStatus(id)
	err := os.Remove(r.statusPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil
	}
	if f, ok := r.locks[id]; ok {
		if rerr := os.Remove(r.lockPath(id)); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		f.Close()
		delete(r.locks, id)
	}
	return err
}

// takeOver makes this recorder the owner of an orphan whose lock the
// caller holds.
func (r *foregroundRecorder) takeOver(id string, lock *os.File) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.locks[id] = lock
}

// liveForegroundGroups lists the groups of foreground leci processes that
// still run (their lock is held): what no garbage collection may touch.
func liveForegroundGroups(root string) map[string]bool {
	live := map[string]bool{}
	for _, id := range foregroundIDs(foregroundDir(root)) {
		f, err := os.Open(filepath.Join(foregroundDir(root), id+".lock"))
		if err != nil {
			continue
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); errors.Is(err, unix.EWOULDBLOCK) {
			live[id] = true
		}
		f.Close()
	}
	return live
}

// foregroundIDs are the groups recorded in dir, by lock or by status.
func foregroundIDs(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		id, ok := strings.CutSuffix(name, ".lock")
		if !ok {
			id, ok = strings.CutSuffix(name, ".json")
		}
		if ok && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// collectForegroundOrphans deletes, with eng, every foreground group whose
// leci is gone, and returns their ids. A group whose lock is held is
// spared. own, when set, is this process's recorder: it takes the orphan
// over while it is deleted, so that a leci killed meanwhile leaves it an
// orphan again rather than half deleted and unknown. Otherwise (the daemon,
// whose engine records in its store) the lock is held here until the end.
func collectForegroundOrphans(ctx context.Context, root string, eng *runtime.Engine, own *foregroundRecorder, log *slog.Logger) ([]string, error) {
	dir := foregroundDir(root)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		deleted []string
		errs    []error
	)
	for _, id := range foregroundIDs(dir) {
		lock, err := takeOrphanLock(dir, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lock == nil {
			continue // its leci runs
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := deleteOrphan(ctx, dir, id, lock, eng, own, log)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("orphan group %s: %w", id, err))
				return
			}
			deleted = append(deleted, id)
		}()
	}
	wg.Wait()
	return deleted, errors.Join(errs...)
}

// takeOrphanLock locks the group's lock file, making it if it is missing
// (an orphan whose status outlived its lock); nil when another process
// holds it.
func takeOrphanLock(dir, id string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, id+".lock"), os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("orphan group %s: %w", id, err)
	}
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		f.Close()
		return nil, nil
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("orphan group %s: lock: %w", id, err)
	}
	return f, nil
}

func deleteOrphan(ctx context.Context, dir, id string, lock *os.File, eng *runtime.Engine, own *foregroundRecorder, log *slog.Logger) error {
	statusPath := filepath.Join(dir, id+".json")
	forget := func() error {
		err := os.Remove(statusPath)
		if errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if rerr := os.Remove(filepath.Join(dir, id+".lock")); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		lock.Close()
		return err
	}
	data, err := os.ReadFile(statusPath)
	if errors.Is(err, fs.ErrNotExist) {
		// Killed before its first record was written: nothing was made.
		return forget()
	}
	if err != nil {
		lock.Close()
		return err
	}
	st, err := lastStatus(data, id)
	if err != nil {
		lock.Close()
		return fmt.Errorf("unreadable record, left as it is: %w", err)
	}
	log.Info("deleting the group of a leci run that is gone", "group", id, "phase", st.Phase)
	if own != nil {
		own.takeOver(id, lock)
	}
	// Adopted as being deleted: nothing of it is started again, and the
	// engine finishes the delete from what the record says it made.
	st.Phase = api.GroupTerminating
	if err := eng.Adopt(ctx, st); err != nil {
		if own == nil {
			lock.Close()
		}
		return err
	}
	if err := eng.Delete(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
		if own == nil {
			lock.Close()
		}
		return err
	}
	if own != nil {
		return nil // the recorder forgot it when the engine removed it
	}
	return forget()
}

// collectOrphansInBackground deletes the orphans while the caller goes on;
// the function it returns waits for the end.
func collectOrphansInBackground(ctx context.Context, root string, eng *runtime.Engine, own *foregroundRecorder, log *slog.Logger) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := collectForegroundOrphans(ctx, root, eng, own, log); err != nil {
			log.Warn("delete the groups of killed leci runs", "err", err)
		}
	}()
	return func() { <-done }
}
