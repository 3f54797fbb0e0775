package runtime

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/docker/docker/pkg/jsonmessage"

	"leci/api"
	"leci/internal/pullprogress"
)

// TestCreateShowsPullsOnItsFeed: a create that brings a feed has the
// group's pulls shown on it, each image once, and the feed closed once
// they have ended.
func TestCreateShowsPullsOnItsFeed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newFakeBackend()
		b.scripts["app"] = []int{-1}
		b.scripts["side"] = []int{-1}
		e := testEngine(t, b, &fakeNet{}, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff}, slog.New(slog.DiscardHandler))
		req := testRequest("Always", nil, []string{"app", "side"})
		req.Container[1].Image = "img:2"

		feed := pullprogress.NewFeed()
		id, err := e.Create(pullprogress.WithFeed(context.Background(), feed), req)
		if err != nil {
			t.Fatal(err)
		}
		if !feed.Taken() {
			t.Error("the group did not take its create's feed")
		}
		var got []string
		if err := feed.Follow(t.Context(), func(ms []jsonmessage.JSONMessage) error {
			for _, m := range ms {
				got = append(got, m.ID+": "+m.Status)
			}
			return nil
		}); err != nil {
			t.Fatalf("Follow: %v", err)
		}
		slices.Sort(got)
		if want := []string{"img:1: Pull complete", "img:2: Pull complete"}; !slices.Equal(got, want) {
			t.Errorf("feed showed %q, want %q", got, want)
		}
		waitFor(t, e, id, phaseIs(api.GroupRunning))
	})
}
