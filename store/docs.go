package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Documents are the store's other records: JSON kept by kind and id, for
// what is not a group (image caches, commit tasks). Layout:
//
//	docs/                      (bucket)
//	  <kind>/                  (bucket, made on the first put)
//	    <id> → JSON, as the caller encodes it
//
// The buckets are made when first written, so files of schema 1 without
// them need no migration.
var bucketDocs = []byte("docs")

// PutDoc writes the document kind/id, replacing the one there was.
func (s *Store) PutDoc(kind, id string, doc json.RawMessage) error {
	if kind == "" || id == "" {
		return fmt.Errorf("put document %q/%q: empty kind or id", kind, id)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		docs, err := tx.CreateBucketIfNotExists(bucketDocs)
		if err != nil {
			return err
		}
		b, err := docs.CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return err
		}
		return b.Put([]byte(id), doc)
	})
}

// GetDoc returns the document kind/id, or an error wrapping ErrNotFound.
func (s *Store) GetDoc(kind, id string) (json.RawMessage, error) {
	var out json.RawMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		if b := docBucket(tx, kind); b != nil {
			out = clone(b.Get([]byte(id)))
		}
		if out == nil {
			return fmt.Errorf("%s %s: %w", kind, id, ErrNotFound)
		}
		return nil
	})
	return out, err
}

// ListDocs returns every document of a kind, ordered by id.
func (s *Store) ListDocs(kind string) ([]json.RawMessage, error) {
	var out []json.RawMessage
	err := s.db.View(func(tx *bolt.Tx) error {
		b := docBucket(tx, kind)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			out = append(out, bytes.Clone(v))
			return nil
		})
	})
	return out, err
}

// DeleteDoc removes the document kind/id; removing one that is not there
// is not an error.
func (s *Store) DeleteDoc(kind, id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if b := docBucket(tx, kind); b != nil {
			return b.Delete([]byte(id))
		}
		return nil
	})
}

func docBucket(tx *bolt.Tx, kind string) *bolt.Bucket {
	docs := tx.Bucket(bucketDocs)
	if docs == nil {
		return nil
	}
	return docs.Bucket([]byte(kind))
}
