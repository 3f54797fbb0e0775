package pullprogress

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/docker/docker/pkg/jsonmessage"
)

// Feed passes the pull messages of one group to whoever follows them, as
// Docker's daemon streams a pull to its client: a follower that comes late
// is shown the pull so far, one that reads slowly is shown each layer's
// latest state, and one that goes away is forgotten. The pulls never wait
// for a follower.
//
// A Feed keeps its messages until it is closed (the pulls have ended) and
// its followers have read them; then it is garbage. Keeping them costs
// little: a layer's byte counts replace each other, so a Feed holds a few
// messages per layer.
type Feed struct {
	mu     sync.Mutex
	log    []entry // by seq, ascending
	seq    uint64
	wake   chan struct{} // closed, and replaced, on each change
	closed bool
	taken  atomic.Bool
}

// entry is a message and its place in the feed.
type entry struct {
	seq uint64
	m   jsonmessage.JSONMessage
}

// NewFeed returns an open feed with no message.
func NewFeed() *Feed {
	return &Feed{wake: make(chan struct{})}
}

// Message adds m to the feed. A layer's message replaces the layer's last
// one of the same status (a download's byte counts): followers that have
// not read that one yet read the new one in its stead.
func (f *Feed) Message(m jsonmessage.JSONMessage) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	if m.ID != "" {
		if i := slices.IndexFunc(f.log, func(e entry) bool { return e.m.ID == m.ID && e.m.Status == m.Status }); i >= 0 {
			f.log = slices.Delete(f.log, i, i+1)
		}
	}
	f.seq++
	f.log = append(f.log, entry{seq: f.seq, m: m})
	f.signal()
}

// Close ends the feed: its followers read what is left, then stop. Later
// messages are dropped. Close may be called more than once.
func (f *Feed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		f.signal()
	}
}

// signal wakes the followers; mu is held.
func (f *Feed) signal() {
	close(f.wake)
	f.wake = make(chan struct{})
}

// Follow calls show with the feed's messages, from the first, in batches as
// they come, until the feed is closed and every message read (nil), ctx is
// done (its error) or show fails (its error). show runs without the feed's
// lock: a slow one delays no pull.
func (f *Feed) Follow(ctx context.Context, show func([]jsonmessage.JSONMessage) error) error {
	var seen uint64
	for {
		f.mu.Lock()
		i := sort.Search(len(f.log), func(i int) bool { return f.log[i].seq > seen })
		batch := make([]jsonmessage.JSONMessage, 0, len(f.log)-i)
		for _, e := range f.log[i:] {
			batch = append(batch, e.m)
		}
		seen = f.seq
		closed, wake := f.closed, f.wake
		f.mu.Unlock()
		if len(batch) > 0 {
			if err := show(batch); err != nil {
				return err
			}
			continue
		}
		if closed {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Taken says whether a group took the feed (TakeFeed) to show its pulls.
func (f *Feed) Taken() bool { return f.taken.Load() }

type feedKey struct{}

// WithFeed asks, through the context of a create, that the group created
// show its pulls on f.
func WithFeed(ctx context.Context, f *Feed) context.Context {
	return context.WithValue(ctx, feedKey{}, f)
}

// TakeFeed returns the feed of a create's context (WithFeed), marked taken,
// or nil. The group that takes it closes it when its pulls end.
func TakeFeed(ctx context.Context) *Feed {
	f, _ := ctx.Value(feedKey{}).(*Feed)
	if f != nil {
		f.taken.Store(true)
	}
	return f
}

type sinkKey struct{}

// WithSink has the pulls made with ctx show their messages to s.
func WithSink(ctx context.Context, s Sink) context.Context {
	return context.WithValue(ctx, sinkKey{}, s)
}

// SinkFrom is the sink of ctx (WithSink), else fallback: what a backend's
// pull shows its progress to.
func SinkFrom(ctx context.Context, fallback Sink) Sink {
	if s, ok := ctx.Value(sinkKey{}).(Sink); ok && s != nil {
		return s
	}
	return fallback
}
