package main

import (
	"os"
	"path/filepath"
	"testing"

	"leci/api"
	"leci/runtime"
)

// A group is locked from its first record, so another leci finds it live
// (flock locks conflict between open files, in one process too); once its
// owner is gone without deleting it, it is an orphan another leci can take;
// deleted by its owner, nothing of it is left.
func TestForegroundLockMarksLiveGroups(t *testing.T) {
	root := t.TempDir()
	rec, err := newForegroundRecorder(root)
	if err != nil {
		t.Fatal(err)
	}
	st := runtime.GroupStatus{ID: "eci-a", Phase: api.GroupPending, Request: &api.CreateContainerGroupRequest{ContainerGroupName: "a"}}
	if err := rec.Save(st); err != nil {
		t.Fatal(err)
	}
	st.Phase = api.GroupRunning
	if err := rec.Save(st); err != nil {
		t.Fatal(err)
	}
	dir := foregroundDir(root)
	if live := liveForegroundGroups(root); !live["eci-a"] {
		t.Fatalf("live groups %v, want eci-a while its owner holds it", live)
	}
	if lock, err := takeOrphanLock(dir, "eci-a"); err != nil || lock != nil {
		t.Fatalf("takeOrphanLock of a live group = %v, %v; want nothing", lock, err)
	}

	// The owner dies: the kernel drops its lock; its files stay.
	rec.mu.Lock()
	rec.locks["eci-a"].Close()
	delete(rec.locks, "eci-a")
	rec.mu.Unlock()
	if live := liveForegroundGroups(root); live["eci-a"] {
		t.Fatalf("live groups %v after the owner died", live)
	}
	lock, err := takeOrphanLock(dir, "eci-a")
	if err != nil || lock == nil {
		t.Fatalf("takeOrphanLock of an orphan = %v, %v; want its lock", lock, err)
	}
	if again, err := takeOrphanLock(dir, "eci-a"); err != nil || again != nil {
		t.Errorf("a second leci took the orphan another one holds: %v, %v", again, err)
	}
	lock.Close()

	// A group its owner deletes leaves nothing.
	st.ID = "eci-b"
	if err := rec.Save(st); err != nil {
		t.Fatal(err)
	}
	if err := rec.Remove("eci-b"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"eci-b.lock", "eci-b.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s after Remove: %v", name, err)
		}
	}
	if ids := foregroundIDs(dir); len(ids) != 1 || ids[0] != "eci-a" {
		t.Errorf("recorded groups %v, want the orphan eci-a alone", ids)
	}
}
