package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// Each change is a line appended to the group's status file; the reader
// takes the last complete one, passing over a line a crash tore, and
// reads the one-record file of an older leci. The file never grows past
// statusFileMax: the record that would pass it makes the file anew.
func TestForegroundStatusAppendsAndReadsTheLast(t *testing.T) {
	root := t.TempDir()
	rec, err := newForegroundRecorder(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(foregroundDir(root), "eci-a.json")
	st := runtime.GroupStatus{ID: "eci-a", Request: &api.CreateContainerGroupRequest{ContainerGroupName: "a"}}
	phases := []api.GroupStatus{api.GroupPending, api.GroupRunning, api.GroupSucceeded}
	for _, phase := range phases {
		st.Phase = phase
		if err := rec.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(data, []byte("\n")); n != len(phases) {
		t.Errorf("%d records in the file, want %d (one per change)", n, len(phases))
	}
	if got, err := lastStatus(data, "eci-a"); err != nil || got.Phase != api.GroupSucceeded {
		t.Errorf("last record: phase %q, %v; want %s", got.Phase, err, api.GroupSucceeded)
	}

	// A crash in the middle of the next append.
	next, _ := json.Marshal(st)
	torn := append(slices.Clip(data), next[:len(next)/2]...)
	if got, err := lastStatus(torn, "eci-a"); err != nil || got.Phase != api.GroupSucceeded {
		t.Errorf("last record after a torn append: phase %q, %v; want %s", got.Phase, err, api.GroupSucceeded)
	}
	// An older leci's file: one record, no newline.
	old, _ := json.Marshal(st)
	if got, err := lastStatus(old, "eci-a"); err != nil || got.Phase != api.GroupSucceeded {
		t.Errorf("an older leci's record: phase %q, %v", got.Phase, err)
	}
	if _, err := lastStatus(data, "eci-b"); err == nil || !strings.Contains(err.Error(), `"eci-a"`) {
		t.Errorf("a file of eci-a read as eci-b's record: %v; want an error naming eci-a", err)
	}
	noRequest, _ := json.Marshal(runtime.GroupStatus{ID: "eci-a"})
	if _, err := lastStatus(noRequest, "eci-a"); err == nil || !strings.Contains(err.Error(), "no request") {
		t.Errorf("a record with no request: %v; want an error saying so", err)
	}
	if _, err := lastStatus(nil, "eci-a"); err == nil {
		t.Error("an empty file read as a record")
	}

	// Past the bound, the file starts again from the latest record.
	st.Request.ContainerGroupName = strings.Repeat("x", 4<<10)
	for i := range 2 * statusFileMax / (4 << 10) {
		st.Phase = api.GroupStatus(fmt.Sprintf("phase-%d", i))
		if err := rec.Save(st); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > statusFileMax {
			t.Fatalf("status file of %d bytes after %d records, bound %d", fi.Size(), i+1, statusFileMax)
		}
		data, _ := os.ReadFile(path)
		if got, err := lastStatus(data, "eci-a"); err != nil || got.Phase != st.Phase {
			t.Fatalf("after record %d: last phase %q, %v; want %s", i, got.Phase, err, st.Phase)
		}
	}
	if err := rec.Remove("eci-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("status file after Remove: %v", err)
	}
	if len(rec.statuses) != 0 {
		t.Errorf("files still open after Remove: %v", rec.statuses)
	}
}
