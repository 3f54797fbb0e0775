package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"leci/host"
	"leci/runtime"
	"leci/store"
	"leci/volumes"
)

// storeRecorder keeps every change of a group's status in the daemon's
// store, so that a restarted daemon adopts the group.
type storeRecorder struct{ st *store.Store }

func (r storeRecorder) Save(g runtime.GroupStatus) error {
	req, err := json.Marshal(g.Request)
	if err != nil {
		return err
	}
	status, err := json.Marshal(g)
	if err != nil {
		return err
	}
	intent := ""
	if g.Phase == "Terminating" {
		intent = "delete"
	}
	return r.st.PutGroup(store.Record{ID: g.ID, Request: req, Status: status, Intent: intent, UpdatedAt: time.Now()})
}

func (r storeRecorder) Remove(id string) error { return r.st.DeleteGroup(id) }

// collectGarbage removes, before the recorded groups are adopted, what a
// crash left of groups that no record knows: network namespaces, veths,
// addresses and iptables chains, volume mounts, and the containerd shims
// containerd forgot when a leci was killed creating a task. Groups of other leci
// processes on the same root (leci run) are protected by their journal's
// owner and their containers.
func collectGarbage(ctx context.Context, st *store.Store, env *host.Host, log *slog.Logger) error {
	records, err := st.ListGroups()
	if err != nil {
		return fmt.Errorf("read the store: %w", err)
	}
	live := map[string]bool{}
	for _, r := range records {
		live[r.ID] = true
	}
	running, err := env.Engine.BackendGroups(ctx)
	if err != nil {
		return fmt.Errorf("list containers: %w", err)
	}
	for id := range running {
		live[id] = true
	}
	// A leci run's group before its containers exist.
	for id := range liveForegroundGroups(env.Root) {
		live[id] = true
	}
	isLive := func(id string) bool { return live[id] }
	if err := env.Network.GC(ctx, isLive); err != nil {
		log.Warn("network garbage collection", "err", err)
	}
	if err := volumes.GC(ctx, filepath.Join(env.Root, "groups"), isLive); err != nil {
		log.Warn("volume garbage collection", "err", err)
	}
	settleOrphanShimsInBackground(ctx, env, log)
	return nil
}

// adoptGroups takes over the groups a previous daemon left: running
// containers are watched again, not restarted; interrupted creates and
// deletes are finished.
func adoptGroups(ctx context.Context, st *store.Store, env *host.Host, log *slog.Logger) error {
	records, err := st.ListGroups()
	if err != nil {
		return fmt.Errorf("read the store: %w", err)
	}
	for _, rec := range records {
		var g runtime.GroupStatus
		if err := json.Unmarshal(rec.Status, &g); err != nil {
			log.Error("unreadable group record, left as it is", "group", rec.ID, "err", err)
			continue
		}
		if err := env.Engine.Adopt(ctx, g); err != nil {
			log.Error("adopt group", "group", rec.ID, "err", err)
			continue
		}
		log.Info("adopted group", "group", rec.ID, "phase", g.Phase)
	}
	return nil
}
