package store

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestDocsRoundTripAndSurviveReopen(t *testing.T) {
	s, path := openTemp(t)
	if _, err := s.GetDoc("caches", "imc-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetDoc before any put: %v, want ErrNotFound", err)
	}
	if docs, err := s.ListDocs("caches"); err != nil || len(docs) != 0 {
		t.Fatalf("ListDocs before any put: %v %v", docs, err)
	}
	for _, id := range []string{"imc-2", "imc-1"} {
		if err := s.PutDoc("caches", id, json.RawMessage(`{"id":"`+id+`"}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutDoc("tasks", "t-1", json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	docs, err := s.ListDocs("caches")
	if err != nil || len(docs) != 2 || string(docs[0]) != `{"id":"imc-1"}` {
		t.Fatalf("ListDocs after reopen: %s %v", docs, err)
	}
	if err := s.DeleteDoc("caches", "imc-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDoc("caches", "imc-1"); err != nil {
		t.Fatalf("deleting a gone document: %v", err)
	}
	if _, err := s.GetDoc("caches", "imc-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetDoc after delete: %v", err)
	}
	if doc, err := s.GetDoc("caches", "imc-2"); err != nil || string(doc) != `{"id":"imc-2"}` {
		t.Fatalf("GetDoc: %s %v", doc, err)
	}
}
