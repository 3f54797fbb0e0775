package pullprogress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/docker/docker/pkg/jsonmessage"
)

// follow follows f from a goroutine, keeping what it reads, until f is
// closed or ctx done; release, when not nil, gates each batch read.
type follower struct {
	mu   sync.Mutex
	got  []jsonmessage.JSONMessage
	err  error
	done chan struct{}
}

func follow(ctx context.Context, f *Feed, release <-chan struct{}) *follower {
	fl := &follower{done: make(chan struct{})}
	go func() {
		defer close(fl.done)
		err := f.Follow(ctx, func(ms []jsonmessage.JSONMessage) error {
			if release != nil {
				select {
				case <-release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			fl.mu.Lock()
			fl.got = append(fl.got, ms...)
			fl.mu.Unlock()
			return nil
		})
		fl.mu.Lock()
		fl.err = err
		fl.mu.Unlock()
	}()
	return fl
}

func (fl *follower) lines() []string {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	var out []string
	for _, m := range fl.got {
		s := m.Status
		if m.ID != "" {
			s = m.ID + ": " + s
		}
		if m.Progress != nil {
			s += fmt.Sprintf(" %d/%d", m.Progress.Current, m.Progress.Total)
		}
		out = append(out, s)
	}
	return out
}

func downloading(id string, n int64) jsonmessage.JSONMessage {
	return jsonmessage.JSONMessage{ID: id, Status: "Downloading", Progress: &jsonmessage.JSONProgress{Current: n, Total: 100}}
}

// TestFeedFollowers: a follower there from the start reads every message
// as it comes; one that comes in the middle reads the pull so far, each
// layer's byte counts at their latest; both stop once the feed closes and
// they have read all.
func TestFeedFollowers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFeed()
		early := follow(t.Context(), f, nil)
		f.Message(jsonmessage.JSONMessage{ID: "v1", Status: "Pulling from team/app"})
		f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Waiting"})
		f.Message(jsonmessage.JSONMessage{ID: "bbbbbbbbbbbb", Status: "Already exists"})
		synctest.Wait()
		f.Message(downloading("aaaaaaaaaaaa", 10))
		synctest.Wait()
		f.Message(downloading("aaaaaaaaaaaa", 60))
		late := follow(t.Context(), f, nil)
		synctest.Wait()
		f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Download complete"})
		f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Pull complete"})
		f.Message(jsonmessage.JSONMessage{Status: "Digest: sha256:feed"})
		f.Close()
		f.Message(jsonmessage.JSONMessage{Status: "after the end"})
		synctest.Wait()
		for _, fl := range []*follower{early, late} {
			select {
			case <-fl.done:
			default:
				t.Fatal("a follower still follows a closed feed it has read")
			}
			if fl.err != nil {
				t.Errorf("Follow: %v", fl.err)
			}
		}
		wantEarly := []string{
			"v1: Pulling from team/app", "aaaaaaaaaaaa: Waiting", "bbbbbbbbbbbb: Already exists",
			"aaaaaaaaaaaa: Downloading 10/100", "aaaaaaaaaaaa: Downloading 60/100",
			"aaaaaaaaaaaa: Download complete", "aaaaaaaaaaaa: Pull complete", "Digest: sha256:feed",
		}
		if got := early.lines(); !slices.Equal(got, wantEarly) {
			t.Errorf("early follower read\n%q\nwant\n%q", got, wantEarly)
		}
		wantLate := []string{
			"v1: Pulling from team/app", "aaaaaaaaaaaa: Waiting", "bbbbbbbbbbbb: Already exists",
			"aaaaaaaaaaaa: Downloading 60/100",
			"aaaaaaaaaaaa: Download complete", "aaaaaaaaaaaa: Pull complete", "Digest: sha256:feed",
		}
		if got := late.lines(); !slices.Equal(got, wantLate) {
			t.Errorf("late follower read\n%q\nwant\n%q", got, wantLate)
		}
	})
}

// TestFeedSlowFollowerBlocksNoPull: while a follower does not read, the
// pull's messages go on; the follower then reads each state once, with the
// last byte count, and what it holds stays a few messages per layer.
func TestFeedSlowFollowerBlocksNoPull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFeed()
		release := make(chan struct{})
		slow := follow(t.Context(), f, release)
		f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Waiting"})
		synctest.Wait() // the follower holds its first batch
		pulled := make(chan struct{})
		go func() {
			defer close(pulled)
			for n := range int64(10000) {
				f.Message(downloading("aaaaaaaaaaaa", n%100))
			}
			f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Pull complete"})
			f.Close()
		}()
		synctest.Wait()
		select {
		case <-pulled:
		default:
			t.Fatal("the pull waits for a follower that does not read")
		}
		f.mu.Lock()
		kept := len(f.log)
		f.mu.Unlock()
		if kept > 3 {
			t.Errorf("the feed keeps %d messages for one layer's three states", kept)
		}
		close(release)
		synctest.Wait()
		want := []string{"aaaaaaaaaaaa: Waiting", "aaaaaaaaaaaa: Downloading 99/100", "aaaaaaaaaaaa: Pull complete"}
		if got := slow.lines(); !slices.Equal(got, want) {
			t.Errorf("slow follower read\n%q\nwant\n%q", got, want)
		}
	})
}

// TestFeedFollowerGoesAway: a follower whose client left stops with its
// context's error; the feed goes on for the pull and its other followers.
func TestFeedFollowerGoesAway(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := NewFeed()
		ctx, cancel := context.WithCancel(t.Context())
		gone := follow(ctx, f, make(chan struct{})) // never reads
		stays := follow(t.Context(), f, nil)
		f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Waiting"})
		synctest.Wait()
		cancel()
		synctest.Wait()
		select {
		case <-gone.done:
		default:
			t.Fatal("a follower whose context ended still follows")
		}
		if !errors.Is(gone.err, context.Canceled) {
			t.Errorf("Follow of a gone follower: %v, want context.Canceled", gone.err)
		}
		f.Message(jsonmessage.JSONMessage{ID: "aaaaaaaaaaaa", Status: "Pull complete"})
		f.Close()
		synctest.Wait()
		want := []string{"aaaaaaaaaaaa: Waiting", "aaaaaaaaaaaa: Pull complete"}
		if got := stays.lines(); !slices.Equal(got, want) || stays.err != nil {
			t.Errorf("remaining follower read %q (%v), want %q", got, stays.err, want)
		}
	})
}

// TestFeedThroughContext: a create's feed is taken once by the group, and
// the pulls' context carries the sink a backend shows progress to.
func TestFeedThroughContext(t *testing.T) {
	f := NewFeed()
	if TakeFeed(t.Context()) != nil {
		t.Error("a context with no feed gave one")
	}
	ctx := WithFeed(t.Context(), f)
	if f.Taken() {
		t.Error("a feed not taken says it is")
	}
	if TakeFeed(ctx) != f || !f.Taken() {
		t.Error("TakeFeed did not take the create's feed")
	}
	var fallback Display
	if got := SinkFrom(t.Context(), &fallback); got != &fallback {
		t.Errorf("SinkFrom with no sink = %v, want the fallback", got)
	}
	if got := SinkFrom(WithSink(t.Context(), f), &fallback); got != f {
		t.Errorf("SinkFrom = %v, want the context's feed", got)
	}
}
