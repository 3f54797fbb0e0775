package logs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// DefaultPoll is FollowOptions.Poll when it is 0.
const DefaultPoll = 100 * time.Millisecond

// maxCarry bounds an unterminated record kept between reads; the writer's
// records are far shorter, so more is not a record of ours.
const maxCarry = 4 * MaxLineBytes

// FollowOptions say what Follow shows and when it stops.
type FollowOptions struct {
	// ReadOptions select among the lines already written when Follow
	// starts (Tail, Since), and LimitBytes bounds everything Follow shows.
	ReadOptions
	// UntilWriterDone makes Follow return nil once no writer holds the
	// file (see Writing) and all it wrote was shown: "leci logs -f" of a
	// container that ends. Set it only once the container's task exists;
	// before, no writer is there yet.
	UntilWriterDone bool
	// Poll is how often Follow looks for new lines. 0 means DefaultPoll.
	Poll time.Duration
	// Opened, when set, is called once Follow holds the file open (or has
	// found nothing to follow): what the writer wrote is shown from then
	// on even if the files are removed once it is done.
	Opened func()
}

// Follow calls fn for the lines of path that opts select, then for each
// line written after, across rotations, until ctx is done (it returns
// ctx.Err()), fn fails (it returns that error), LimitBytes is reached or,
// with UntilWriterDone, the writer is gone (it returns nil). It waits for
// path to appear. Lines come whole: a line written in parts is shown once
// its last part is written.
func Follow(ctx context.Context, path string, opts FollowOptions, fn func(Line) error) error {
	if opts.Poll <= 0 {
		opts.Poll = DefaultPoll
	}
	fl := &follower{path: path, opts: opts, fn: fn, buf: make([]byte, 64<<10)}
	fl.budget.set(opts.LimitBytes)
	defer fl.close()
	err := fl.run(ctx)
	if errors.Is(err, errLimitReached) {
		return nil
	}
	return err
}

var errLimitReached = errors.New("limit reached")

type follower struct {
	path    string
	opts    FollowOptions
	fn      func(Line) error
	budget  limit
	emitted bool // a line was shown: later ones are not cut to fit
	j       joiner

	cur   logFile // the file being read; cur.f is nil until there is one
	carry []byte  // the unterminated end of what was read from cur
	buf   []byte
}

func (fl *follower) run(ctx context.Context) error {
	ok, err := fl.start(ctx)
	if fl.opts.Opened != nil {
		fl.opts.Opened()
	}
	if err != nil || !ok {
		return err
	}
	for {
		// Asked before reading: whatever the writer wrote before it was
		// gone is then read below.
		writerGone := false
		if fl.opts.UntilWriterDone {
			writing, err := Writing(fl.path)
			if err != nil {
				return err
			}
			writerGone = !writing
		}
		n, err := fl.readCur(fl.emit)
		if err != nil {
			return err
		}
		moved, err := fl.nextFile()
		if err != nil {
			return err
		}
		if n > 0 || moved {
			continue
		}
		if writerGone {
			return fl.j.flush(fl.emit)
		}
		if err := sleep(ctx, fl.opts.Poll); err != nil {
			return err
		}
	}
}

// start waits for the files, reads what they hold, shows what opts
// select of it and leaves cur at the end of the current file. It returns
// false if there is nothing to follow: no file, and no writer to make one.
func (fl *follower) start(ctx context.Context) (bool, error) {
	var files []logFile
	for {
		var err error
		files, err = openSet(fl.path)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return false, err
		}
		if fl.opts.UntilWriterDone {
			if writing, err := Writing(fl.path); err != nil {
				return false, err
			} else if !writing {
				return false, nil
			}
		}
		if err := sleep(ctx, fl.opts.Poll); err != nil {
			return false, err
		}
	}
	sel := newSelector(ReadOptions{Tail: fl.opts.Tail, Since: fl.opts.Since})
	collect := func(l Line) error { sel.add(l); return nil }
	for _, lf := range files[:len(files)-1] {
		if err := fl.readWhole(lf, collect); err != nil {
			closeAll(files)
			return false, err
		}
		lf.f.Close()
	}
	fl.cur = files[len(files)-1]
	if _, err := fl.readCur(collect); err != nil {
		return false, err
	}
	for _, l := range sel.lines() {
		if err := fl.emit(l); err != nil {
			return false, err
		}
	}
	return true, nil
}

// emit shows l within the budget.
func (fl *follower) emit(l Line) error {
	l, ok, last := fl.budget.take(l, !fl.emitted)
	if !ok {
		return errLimitReached
	}
	fl.emitted = true
	if err := fl.fn(l); err != nil {
		return err
	}
	if last {
		return errLimitReached
	}
	return nil
}

// readCur reads cur to its end, passing the lines to emit, and returns how
// many bytes it read.
func (fl *follower) readCur(emit func(Line) error) (int, error) {
	total := 0
	for {
		n, err := fl.cur.f.Read(fl.buf)
		if n > 0 {
			total += n
			rest, ferr := fl.j.feed(append(fl.carry, fl.buf[:n]...), emit)
			if len(rest) > maxCarry {
				rest = nil
			}
			fl.carry = rest
			if ferr != nil {
				return total, ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("read log file: %w", err)
		}
	}
}

// readWhole reads an older file to its end.
func (fl *follower) readWhole(lf logFile, emit func(Line) error) error {
	saved := fl.cur
	fl.cur, fl.carry = lf, nil
	_, err := fl.readCur(emit)
	fl.cur, fl.carry = saved, nil
	return err
}

// nextFile moves on when path is no longer cur's file: it reads the rest of
// cur (the writer closes a file before renaming it, so all is there), then
// the files rotated since, oldest first, and makes the new current file cur.
func (fl *follower) nextFile() (bool, error) {
	fi, err := os.Stat(fl.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil // between the rename and the new file
	}
	if err != nil {
		return false, fmt.Errorf("stat log file: %w", err)
	}
	if inode(fi) == fl.cur.ino {
		return false, nil
	}
	if _, err := fl.readCur(fl.emit); err != nil {
		return false, err
	}
	files, err := openSet(fl.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	// The files newer than cur: those after it in the set or, when cur was
	// dropped, all of them, since any file there was made after cur.
	newer := files
	for i, lf := range files {
		if lf.ino == fl.cur.ino {
			closeAll(files[:i+1])
			newer = files[i+1:]
			break
		}
	}
	if len(newer) == 0 {
		return false, nil
	}
	fl.cur.f.Close()
	fl.cur, fl.carry = logFile{}, nil
	for i, lf := range newer[:len(newer)-1] {
		if err := fl.readWhole(lf, fl.emit); err != nil {
			closeAll(newer[i:])
			return false, err
		}
		lf.f.Close()
	}
	fl.cur = newer[len(newer)-1]
	return true, nil
}

func (fl *follower) close() {
	if fl.cur.f != nil {
		fl.cur.f.Close()
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
