package store

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "leci.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestGroupRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	at := time.Date(2026, 11, 27, 15, 19, 36, 123, time.UTC)
	want := Record{
		ID:        "eci-aaaaaaaaaaaaaaaaaaaa",
		Request:   json.RawMessage(`{"ContainerGroupName":"web"}`),
		Status:    json.RawMessage(`{"Phase":"Pending"}`),
		Events:    json.RawMessage(`[]`),
		Intent:    "create",
		UpdatedAt: at,
	}
	if err := s.PutGroup(want); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetGroup(want.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, got, want)

	// It survives a reopen.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err = s2.GetGroup(want.ID)
	if err != nil {
		t.Fatal(err)
	}
	assertRecord(t, got, want)
}

func assertRecord(t *testing.T, got, want Record) {
	t.Helper()
	if got.ID != want.ID || string(got.Request) != string(want.Request) || string(got.Status) != string(want.Status) ||
		string(got.Events) != string(want.Events) || got.Intent != want.Intent || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestPutReplacesAndClearsIntent(t *testing.T) {
	s, _ := openTemp(t)
	id := "eci-1"
	if err := s.PutGroup(Record{ID: id, Request: json.RawMessage(`{}`), Intent: "delete"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutGroup(Record{ID: id, Request: json.RawMessage(`{}`), Status: json.RawMessage(`{"x":1}`)}); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetGroup(id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Intent != "" || string(got.Status) != `{"x":1}` || got.UpdatedAt.IsZero() {
		t.Errorf("got %+v, want no intent, the new status and a time", got)
	}
}

func TestUpdateGroup(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.PutGroup(Record{ID: "eci-1", Request: json.RawMessage(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	err := s.UpdateGroup("eci-1", func(r *Record) error {
		r.Status = json.RawMessage(`{"Phase":"Running"}`)
		r.Intent = ""
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := s.GetGroup("eci-1")
	if string(got.Request) != `{"a":1}` || string(got.Status) != `{"Phase":"Running"}` {
		t.Errorf("got %+v", got)
	}
	boom := errors.New("boom")
	if err := s.UpdateGroup("eci-1", func(r *Record) error { r.Intent = "x"; return boom }); !errors.Is(err, boom) {
		t.Errorf("got %v, want boom", err)
	}
	if got, _ := s.GetGroup("eci-1"); got.Intent != "" {
		t.Errorf("an aborted update wrote intent %q", got.Intent)
	}
	if err := s.UpdateGroup("eci-missing", func(*Record) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
}

func TestListAndDelete(t *testing.T) {
	s, _ := openTemp(t)
	for _, id := range []string{"eci-c", "eci-a", "eci-b"} {
		if err := s.PutGroup(Record{ID: id, Request: json.RawMessage(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ClaimClientToken("tok-b", "h", "eci-b"); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListGroups()
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(list); got != "eci-a,eci-b,eci-c" {
		t.Errorf("got %s, want eci-a,eci-b,eci-c", got)
	}
	if err := s.DeleteGroup("eci-b"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup("eci-b"); err != nil {
		t.Errorf("second delete: %v, want nil", err)
	}
	if _, err := s.GetGroup("eci-b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("got %v, want ErrNotFound", err)
	}
	if _, _, err := s.ClientToken("tok-b"); !errors.Is(err, ErrNotFound) {
		t.Errorf("the token of a deleted group: got %v, want ErrNotFound", err)
	}
	list, _ = s.ListGroups()
	if got := ids(list); got != "eci-a,eci-c" {
		t.Errorf("got %s, want eci-a,eci-c", got)
	}
}

func ids(rs []Record) string {
	var out []string
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return strings.Join(out, ",")
}

func TestClientToken(t *testing.T) {
	s, _ := openTemp(t)
	got, err := s.ClaimClientToken("tok", "hash-1", "eci-1")
	if err != nil || got != "eci-1" {
		t.Fatalf("first claim: got %q, %v; want eci-1", got, err)
	}
	got, err = s.ClaimClientToken("tok", "hash-1", "eci-2")
	if err != nil || got != "eci-1" {
		t.Errorf("same token, same request: got %q, %v; want eci-1", got, err)
	}
	if _, err := s.ClaimClientToken("tok", "hash-2", "eci-3"); !errors.Is(err, ErrClientTokenMismatch) {
		t.Errorf("same token, other request: got %v, want ErrClientTokenMismatch", err)
	}
	group, hash, err := s.ClientToken("tok")
	if err != nil || group != "eci-1" || hash != "hash-1" {
		t.Errorf("lookup: got %q %q %v", group, hash, err)
	}
	all, err := s.ClientTokens()
	if err != nil || len(all) != 1 || all["tok"] != "eci-1" {
		t.Errorf("ClientTokens: got %v, %v", all, err)
	}
}

func TestClientTokenConcurrentClaims(t *testing.T) {
	s, _ := openTemp(t)
	var wg sync.WaitGroup
	results := make([]string, 10)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := s.ClaimClientToken("tok", "h", "eci-"+string(rune('a'+i)))
			if err != nil {
				t.Error(err)
			}
			results[i] = id
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r != results[0] {
			t.Fatalf("claims disagree: %v", results)
		}
	}
}

func TestSecondOpenTimesOut(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	_, err := open(path, 100*time.Millisecond)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	if want := "another leci daemon holds " + path; !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to say %q", err, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s to fail", d)
	}
	// Open itself gives up after OpenTimeout.
	start = time.Now()
	if _, err := Open(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("got %v, want ErrLocked", err)
	}
	if d := time.Since(start); d < OpenTimeout/2 || d > OpenTimeout+5*time.Second {
		t.Errorf("Open gave up after %s, want about %s", d, OpenTimeout)
	}
}

func TestSchema(t *testing.T) {
	s, path := openTemp(t)
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != "1" {
			t.Errorf("schema: got %q, want 1", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A file from a newer leci is refused.
	err = s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchema, []byte("99")) })
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer leci") {
		t.Errorf("got %v, want a newer-schema error", err)
	}
}

func TestPutGroupNeedsID(t *testing.T) {
	s, _ := openTemp(t)
	if err := s.PutGroup(Record{}); err == nil {
		t.Error("a record without id was accepted")
	}
}
