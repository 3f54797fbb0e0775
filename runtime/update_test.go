package runtime

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"leci/api"
)

func updated(req *api.CreateContainerGroupRequest, edit func(*api.CreateContainerGroupRequest)) *api.CreateContainerGroupRequest {
	r, err := (&api.UpdateContainerGroupRequest{}).Apply(req) // a deep copy
	if err != nil {
		panic(err)
	}
	edit(r)
	if err := r.Normalize(); err != nil {
		panic(err)
	}
	return r
}

// waitAcrossUpdate is waitFor across the end of an update, which ends
// the watches of the group it replaces.
func waitAcrossUpdate(t *testing.T, e *Engine, id string, cond func(GroupStatus) bool) GroupStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 3 {
		ch, err := e.Watch(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for st := range ch {
			if cond(st) {
				return st
			}
		}
	}
	st, _ := e.Get(id)
	t.Fatalf("condition not reached; last status: phase %s, apps %+v", st.Phase, st.Containers)
	return st
}

func hasReason(st GroupStatus, reason string) bool {
	return slices.ContainsFunc(st.Events, func(e Event) bool { return e.Reason == reason })
}

// An update recreates the containers with the new spec in the same group,
// on the same network; the old run is stopped and removed.
func TestUpdateRecreatesContainersInPlace(t *testing.T) {
	b := newFakeBackend()
	b.scripts["app"] = []int{-1, -1}
	n := &fakeNet{}
	e := newTestEngine(t, b, n)
	req := testRequest(api.RestartAlways, nil, []string{"app"})
	id, _ := e.Create(context.Background(), req)
	before := waitFor(t, e, id, phaseIs(api.GroupRunning))

	next := updated(req, func(r *api.CreateContainerGroupRequest) {
		r.Container[0].Image = "img:2"
		r.Container[0].EnvironmentVar = []api.EnvironmentVar{{Key: "V", Value: "2"}}
	})
	if err := e.Update(context.Background(), id, next); err != nil {
		t.Fatal(err)
	}
	st := waitAcrossUpdate(t, e, id, func(st GroupStatus) bool {
		return st.Phase == api.GroupRunning && hasReason(st, "Updated") && st.Containers[0].Current.State == api.StateRunning
	})
	if !hasReason(st, "Updating") {
		t.Errorf("no Updating event: %+v", st.Events)
	}
	if st.Request.Container[0].Image != "img:2" || st.PendingUpdate != nil || st.IPv4 != before.IPv4 || !st.CreatedAt.Equal(before.CreatedAt) {
		t.Errorf("after the update: %+v", st)
	}
	if got := b.starts(); !slices.Equal(got, []string{"app", "app"}) {
		t.Errorf("starts %v, want the old run and the new one", got)
	}
	if !slices.Contains(b.removed, before.Containers[0].ID) {
		t.Errorf("the old run %s was not removed: %v", before.Containers[0].ID, b.removed)
	}
	if n.setups != 1 || n.teardowns != 0 {
		t.Errorf("network set up %d times, torn down %d; want the same network", n.setups, n.teardowns)
	}
	if err := e.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if len(b.live) != 0 {
		t.Errorf("containers left after delete: %v", b.live)
	}
}

// Tags only: nothing restarts. The group's own Cpu cannot change.
func TestUpdateOfTagsRestartsNothing(t *testing.T) {
	b := newFakeBackend()
	b.scripts["app"] = []int{-1}
	e := newTestEngine(t, b, nil)
	req := testRequest(api.RestartAlways, nil, []string{"app"})
	id, _ := e.Create(context.Background(), req)
	waitFor(t, e, id, phaseIs(api.GroupRunning))
	if err := e.Update(context.Background(), id, updated(req, func(r *api.CreateContainerGroupRequest) {
		r.Tag = []api.Tag{{Key: "k", Value: "v"}}
	})); err != nil {
		t.Fatal(err)
	}
	st, _ := e.Get(id)
	if st.Phase != api.GroupRunning || len(st.Request.Tag) != 1 || len(b.starts()) != 1 {
		t.Errorf("after a tags-only update: phase %s, tags %v, starts %v", st.Phase, st.Request.Tag, b.starts())
	}
	err := e.Update(context.Background(), id, updated(req, func(r *api.CreateContainerGroupRequest) { r.Cpu = 2 }))
	if !errors.Is(err, ErrCannotResize) {
		t.Errorf("a Cpu change: %v, want ErrCannotResize", err)
	}
	e.Delete(context.Background(), id)
}

// A leci that stopped in the middle of an update (the new request
// recorded, the old containers maybe still there) finishes it on adoption.
func TestAdoptFinishesUpdate(t *testing.T) {
	b := newFakeBackend()
	b.scripts["app"] = []int{-1}
	b.scripts["new"] = []int{-1}
	root := t.TempDir()
	opts := Options{Root: root, Backoff: fastBackoff}
	first := New(b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
	req := testRequest(api.RestartAlways, nil, []string{"app"})
	id, _ := first.Create(context.Background(), req)
	st := waitFor(t, first, id, phaseIs(api.GroupRunning))
	first.Shutdown()
	st.Phase = api.GroupUpdating
	st.PendingUpdate = updated(req, func(r *api.CreateContainerGroupRequest) { r.Container[0].Name = "new" })

	second := New(b, &fakeNet{}, fakeVolumes{}, opts, slog.New(slog.DiscardHandler))
	if err := second.Adopt(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	got := waitAcrossUpdate(t, second, id, func(st GroupStatus) bool {
		return st.Phase == api.GroupRunning && hasReason(st, "Updated") && len(st.Containers) == 1 && st.Containers[0].Current.State == api.StateRunning
	})
	if got.Containers[0].Name != "new" || got.PendingUpdate != nil {
		t.Errorf("after adoption: %+v", got)
	}
	if starts := b.starts(); !slices.Equal(starts, []string{"app", "new"}) {
		t.Errorf("starts %v, want the old container's and the new one's", starts)
	}
	if err := second.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if len(b.live) != 0 {
		t.Errorf("containers left: %v", b.live)
	}
}
