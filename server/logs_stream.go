package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"leci/api"
	"leci/logs"
	"leci/runtime"
)

// Streamed logs, leci's own endpoint beside the ECI API: what `leci logs`
// reads. DescribeContainerLog answers at most LogTailMax lines and
// LogLimitBytesMax bytes in one JSON document; this streams a container's
// whole log, and with Follow the lines written after, as they come,
// across restarts of the container, for as long as the client reads.
//
// GET LogStreamPath?PARAMS, signed as an API request is over TCP (the
// Action parameter is not needed), unsigned over the unix socket:
//
//	ContainerGroupId  the group (required)
//	ContainerName     the container (default: the first app container)
//	Tail              the last N lines only (default: all; 0: none)
//	SinceTime         lines stamped at or after this RFC 3339 time only
//	UntilTime         lines stamped at or before this RFC 3339 time only;
//	                  with Follow the stream ends once it has passed
//	Timestamps        true: each line starts with its RFC 3339 time
//	LastTime          true: the log of the instance before the last restart
//	Follow            true: keep streaming new lines until the container has
//	                  ended for good (it will not restart), the group is
//	                  deleted, or the client goes away
//
// The answer is text/plain, one log line per line. An error found before
// the first line is an API error (JSON, with its HTTP status); one after
// ends the stream.

// LogStreamPath is where a container's log is streamed.
const LogStreamPath = "/leci/logs"

// logStreamPoll is how often a follow asks for a restarted container's
// next instance, and logStreamFlush how often lines written are sent.
const (
	logStreamPoll  = 200 * time.Millisecond
	logStreamFlush = 50 * time.Millisecond
)

// logStream is what a client asked to stream.
type logStream struct {
	groupID, container       string
	tail                     int // 0: all, -1: none
	since, until             time.Time
	timestamps, last, follow bool
}

func parseLogStream(q url.Values) (logStream, error) {
	ls := logStream{groupID: q.Get("ContainerGroupId"), container: q.Get("ContainerName")}
	if ls.groupID == "" {
		return ls, missingParameter("ContainerGroupId")
	}
	if v := q.Get("Tail"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return ls, invalidParameter("Tail", "must be a number of lines, 0 or more, got %q", v)
		}
		ls.tail = n
		if n == 0 {
			ls.tail = -1
		}
	}
	for _, t := range []struct {
		name string
		to   *time.Time
	}{{"SinceTime", &ls.since}, {"UntilTime", &ls.until}} {
		if v := q.Get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return ls, invalidParameter(t.name, "must be an RFC 3339 time such as 2026-03-12T01:00:00Z, got %q", v)
			}
			*t.to = at
		}
	}
	for _, b := range []struct {
		name string
		to   *bool
	}{{"Timestamps", &ls.timestamps}, {"LastTime", &ls.last}, {"Follow", &ls.follow}} {
		if v := q.Get(b.name); v != "" {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return ls, invalidParameter(b.name, "must be true or false, got %q", v)
			}
			*b.to = on
		}
	}
	return ls, nil
}

// serveLogStream answers GET LogStreamPath.
func (s *Server) serveLogStream(w http.ResponseWriter, r *http.Request) {
	reqID := newRequestID()
	w.Header().Set("x-acs-request-id", reqID)
	fail := func(err error) {
		status := s.writeError(w, r, reqID, err)
		s.log.Debug("log stream refused", "request", reqID, "status", status, "err", err)
	}
	if r.Method != http.MethodGet {
		fail(&api.Error{Code: "UnsupportedHTTPMethod", Status: http.StatusMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not supported; a log stream is a GET", r.Method)})
		return
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		fail(&api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Message: "the query string is malformed: " + err.Error()})
		return
	}
	if !fromUnixSocket(r) {
		if err := s.auth.verify(r, query, url.Values{}, nil); err != nil {
			fail(err)
			return
		}
	}
	ls, err := parseLogStream(query)
	if err != nil {
		fail(err)
		return
	}
	st, err := s.group(ls.groupID)
	if err != nil {
		fail(err)
		return
	}
	ctr, err := container(st, ls.container)
	if err != nil {
		fail(err)
		return
	}
	ls.container = ctr.Name
	// A stream outlives the HTTP server's write deadline.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	out := newFlushWriter(w)
	defer out.stop()
	if err := s.streamLog(r.Context(), out, ls, ctr.Attempt); err != nil && r.Context().Err() == nil {
		s.log.Info("log stream ended", "request", reqID, "group", ls.groupID, "container", ls.container, "err", err)
	}
}

// errUntilPassed ends a follow at its UntilTime.
var errUntilPassed = errors.New("past UntilTime")

// streamLog writes the lines ls selects, from instance attempt of the
// container on (the one before it with LastTime).
func (s *Server) streamLog(ctx context.Context, out *flushWriter, ls logStream, attempt int) error {
	if ls.last {
		attempt--
		ls.follow = false
	}
	if !ls.until.IsZero() && ls.follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, ls.until)
		defer cancel()
	}
	opts := logs.ReadOptions{Tail: ls.tail, Since: ls.since}
	emit := func(l logs.Line) error {
		if !ls.until.IsZero() && l.Time.After(ls.until) {
			return errUntilPassed
		}
		return out.writeString(logs.Format(l, ls.timestamps))
	}
	for {
		if attempt >= 1 {
			path := runtime.LogPath(s.opts.Root, ls.groupID, ls.container, attempt)
			if !ls.follow {
				lines, err := logs.Read(path, opts)
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				for _, l := range lines {
					if err := emit(l); err != nil {
						return nil
					}
				}
				return err
			}
			err := logs.Follow(ctx, path, logs.FollowOptions{ReadOptions: opts, UntilWriterDone: true}, emit)
			switch {
			case errors.Is(err, errUntilPassed), ctx.Err() != nil:
				return nil
			case err != nil:
				return err
			}
			// A later instance shows all its lines.
			opts.Tail = 0
		} else if !ls.follow {
			return nil
		}
		next, ok := s.nextInstance(ctx, ls, attempt)
		if !ok {
			return nil
		}
		attempt = next
	}
}

// nextInstance waits for an instance of the container after attempt, and
// tells false when none will come: the group is gone or ended, or the
// container ended and its restart policy keeps it so.
func (s *Server) nextInstance(ctx context.Context, ls logStream, attempt int) (int, bool) {
	for {
		st, err := s.opts.Groups.Get(ls.groupID)
		if err != nil || st.Terminal() || st.Phase == api.GroupTerminating {
			return 0, false
		}
		ctr, err := container(st, ls.container)
		if err != nil {
			return 0, false
		}
		if ctr.Attempt > attempt {
			return ctr.Attempt, true
		}
		if ctr.Current.State == api.StateTerminated && !restarts(st.Request.RestartPolicy, ctr) {
			return 0, false
		}
		select {
		case <-ctx.Done():
			return 0, false
		case <-time.After(logStreamPoll):
		}
	}
}

// restarts tells whether a container that ended will run again.
func restarts(policy string, ctr runtime.ContainerStatus) bool {
	switch {
	case ctr.Init:
		return ctr.Current.ExitCode != 0 && policy != "Never"
	case policy == "Never":
		return false
	case policy == "OnFailure":
		return ctr.Current.ExitCode != 0
	}
	return true
}

// flushWriter sends what is written every logStreamFlush: a follow of a
// busy log makes few large writes, of a quiet one each line at once.
type flushWriter struct {
	mu   sync.Mutex
	w    http.ResponseWriter
	buf  *bufio.Writer
	err  error
	done chan struct{}
	wg   sync.WaitGroup
}

func newFlushWriter(w http.ResponseWriter) *flushWriter {
	fw := &flushWriter{w: w, buf: bufio.NewWriterSize(w, 64<<10), done: make(chan struct{})}
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		t := time.NewTicker(logStreamFlush)
		defer t.Stop()
		for {
			select {
			case <-fw.done:
				return
			case <-t.C:
				fw.flush()
			}
		}
	}()
	return fw
}

func (fw *flushWriter) writeString(s string) error {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil {
		return fw.err
	}
	_, fw.err = fw.buf.WriteString(s)
	return fw.err
}

func (fw *flushWriter) flush() {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.err != nil || fw.buf.Buffered() == 0 {
		return
	}
	if fw.err = fw.buf.Flush(); fw.err == nil {
		fw.err = http.NewResponseController(fw.w).Flush()
	}
}

// stop sends what is left and ends the flushing.
func (fw *flushWriter) stop() {
	close(fw.done)
	fw.wg.Wait()
	fw.flush()
}
