// Package store keeps leci's durable state in one bbolt file, by default
// <root>/leci.db: every group's request, status and events, the intent
// recorded before each side effect, and the ClientToken of each create.
//
// Layout (every key and bucket name is ASCII; values are noted after "→"):
//
//	meta/                      (bucket)
//	  schema      → decimal schema version, "1"
//	groups/                    (bucket)
//	  <group id>/              (bucket, one per group, e.g. eci-xxxxxxxxxxxxxxxxxxxx)
//	    request   → JSON: the normalized CreateContainerGroup request
//	    status    → JSON: the group's last status, as its owner encodes it
//	    events    → JSON: the group's events, as its owner encodes them
//	    intent    → text: what is about to be done ("create", "delete", ...)
//	    updated   → RFC 3339 (nanoseconds, UTC) time of the last write
//	tokens/                    (bucket)
//	  <client token> → JSON {"hash": "<request hash>", "group": "<group id>", "created": "<RFC 3339>"}
//
// The store is consumer-agnostic: it keeps request, status and events as
// opaque JSON and knows nothing of the engine or the API. Its one rule is
// idempotency: a ClientToken maps to exactly one group and one request hash.
//
// The file is opened with a timeout on bbolt's flock, so a second daemon on
// the same root fails within OpenTimeout with an error naming the file,
// instead of hanging. A file written by a newer schema is refused; an older
// one is migrated on open (version 1 is the first; there is nothing to
// migrate yet).
package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout this package reads and writes.
const SchemaVersion = 1

// OpenTimeout is how long Open waits for the file lock held by another
// process before it gives up.
const OpenTimeout = time.Second

var (
	bucketMeta   = []byte("meta")
	bucketGroups = []byte("groups")
	bucketTokens = []byte("tokens")

	keySchema  = []byte("schema")
	keyRequest = []byte("request")
	keyStatus  = []byte("status")
	keyEvents  = []byte("events")
	keyIntent  = []byte("intent")
	keyUpdated = []byte("updated")
)

// Errors of the store; callers test them with errors.Is.
var (
	// ErrNotFound: no group with that id, or no such client token.
	ErrNotFound = errors.New("not found")
	// ErrLocked: another process (another leci daemon) holds the file.
	ErrLocked = errors.New("store is locked by another process")
	// ErrClientTokenMismatch: the client token was already used for a
	// request with different parameters (ECI's IdempotentParameterMismatch).
	ErrClientTokenMismatch = errors.New("client token already used with different parameters")
)

// Record is what the store keeps of one group.
type Record struct {
	ID string
	// Request, Status and Events are JSON documents the caller encodes;
	// nil leaves nothing stored under that key.
	Request json.RawMessage
	Status  json.RawMessage
	Events  json.RawMessage
	// Intent is the side effect about to happen ("create", "delete", ...),
	// written before it happens so that a restart after a crash can finish
	// or undo it; "" when the group is at rest.
	Intent string
	// UpdatedAt is when the record was last written. PutGroup sets it to
	// the current time when it is zero.
	UpdatedAt time.Time
}

// Store is leci's state file. Its methods are safe for concurrent use.
type Store struct {
	db   *bolt.DB
	path string
	now  func() time.Time
}

// Open opens or creates the state file at path. When another process holds
// it, Open fails after OpenTimeout with an error wrapping ErrLocked that
// names the file.
func Open(path string) (*Store, error) {
	return open(path, OpenTimeout)
}

func open(path string, timeout time.Duration) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, NoFreelistSync: true})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("another leci daemon holds %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	s := &Store{db: db, path: path, now: time.Now}
	if err := db.Update(s.initSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	return s, nil
}

// initSchema creates the buckets of a new file, checks the version of an
// existing one and migrates it when it is older.
func (s *Store) initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	version := 0
	if v := meta.Get(keySchema); v != nil {
		version, err = strconv.Atoi(string(v))
		if err != nil {
			return fmt.Errorf("schema version %q is not a number", v)
		}
	}
	if version > SchemaVersion {
		return fmt.Errorf("written by a newer leci (schema %d, this leci knows %d)", version, SchemaVersion)
	}
	// Migrations from version N to N+1 go here, in order. Version 0 is a
	// new file.
	for _, name := range [][]byte{bucketGroups, bucketTokens} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file and lets go of its lock.
func (s *Store) Close() error { return s.db.Close() }

// PutGroup writes a group's record, replacing the one there was.
func (s *Store) PutGroup(r Record) error {
	if r.ID == "" {
		return errors.New("put group: empty id")
	}
	if r.UpdatedAt.IsZero() {
		r.UpdatedAt = s.now()
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		groups := tx.Bucket(bucketGroups)
		if err := groups.DeleteBucket([]byte(r.ID)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		b, err := groups.CreateBucket([]byte(r.ID))
		if err != nil {
			return fmt.Errorf("put group %s: %w", r.ID, err)
		}
		return putRecord(b, r)
	})
}

// UpdateGroup reads a group's record, lets fn change it and writes it back,
// all in one transaction. fn's error aborts the update and is returned.
// UpdatedAt is set to the current time unless fn set it. It returns an error
// wrapping ErrNotFound for an unknown id.
func (s *Store) UpdateGroup(id string, fn func(*Record) error) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		groups := tx.Bucket(bucketGroups)
		b := groups.Bucket([]byte(id))
		if b == nil {
			return fmt.Errorf("group %s: %w", id, ErrNotFound)
		}
		r := readRecord(id, b)
		before := r.UpdatedAt
		if err := fn(&r); err != nil {
			return err
		}
		if r.ID != id {
			return fmt.Errorf("update group %s: the id cannot change (to %q)", id, r.ID)
		}
		if r.UpdatedAt.Equal(before) {
			r.UpdatedAt = s.now()
		}
		if err := groups.DeleteBucket([]byte(id)); err != nil {
			return err
		}
		nb, err := groups.CreateBucket([]byte(id))
		if err != nil {
			return err
		}
		return putRecord(nb, r)
	})
}

func putRecord(b *bolt.Bucket, r Record) error {
	for _, kv := range []struct {
		key   []byte
		value []byte
	}{
		{keyRequest, r.Request},
		{keyStatus, r.Status},
		{keyEvents, r.Events},
		{keyIntent, []byte(r.Intent)},
		{keyUpdated, []byte(r.UpdatedAt.UTC().Format(time.RFC3339Nano))},
	} {
		if len(kv.value) == 0 {
			continue
		}
		if err := b.Put(kv.key, kv.value); err != nil {
			return err
		}
	}
	return nil
}

// readRecord copies a record out of its bucket: bbolt's slices are valid
// only inside the transaction.
func readRecord(id string, b *bolt.Bucket) Record {
	r := Record{
		ID:      id,
		Request: clone(b.Get(keyRequest)),
		Status:  clone(b.Get(keyStatus)),
		Events:  clone(b.Get(keyEvents)),
		Intent:  string(b.Get(keyIntent)),
	}
	if t, err := time.Parse(time.RFC3339Nano, string(b.Get(keyUpdated))); err == nil {
		r.UpdatedAt = t
	}
	return r
}

func clone(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return bytes.Clone(b)
}

// GetGroup returns a group's record, or an error wrapping ErrNotFound.
func (s *Store) GetGroup(id string) (Record, error) {
	var r Record
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketGroups).Bucket([]byte(id))
		if b == nil {
			return fmt.Errorf("group %s: %w", id, ErrNotFound)
		}
		r = readRecord(id, b)
		return nil
	})
	return r, err
}

// ListGroups returns every group's record, ordered by id.
func (s *Store) ListGroups() ([]Record, error) {
	var out []Record
	err := s.db.View(func(tx *bolt.Tx) error {
		groups := tx.Bucket(bucketGroups)
		return groups.ForEachBucket(func(k []byte) error {
			out = append(out, readRecord(string(k), groups.Bucket(k)))
			return nil
		})
	})
	return out, err
}

// DeleteGroup removes a group's record and the client tokens that name it.
// Deleting a group that is not there is not an error, so that a delete
// interrupted by a crash can simply be run again.
func (s *Store) DeleteGroup(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketGroups).DeleteBucket([]byte(id)); err != nil && !errors.Is(err, bolt.ErrBucketNotFound) {
			return err
		}
		tokens := tx.Bucket(bucketTokens)
		var stale [][]byte
		err := tokens.ForEach(func(k, v []byte) error {
			var t tokenValue
			if json.Unmarshal(v, &t) == nil && t.Group == id {
				stale = append(stale, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := tokens.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// tokenValue is the value of a key of the tokens bucket.
type tokenValue struct {
	Hash    string    `json:"hash"`
	Group   string    `json:"group"`
	Created time.Time `json:"created"`
}

// ClaimClientToken records that token created groupID from a request whose
// parameters hash to requestHash, and returns the group the token stands
// for: groupID for a new token, the first group for a token seen with the
// same hash. A token seen with another hash is an error wrapping
// ErrClientTokenMismatch.
func (s *Store) ClaimClientToken(token, requestHash, groupID string) (existingID string, err error) {
	if token == "" || groupID == "" {
		return "", errors.New("claim client token: empty token or group id")
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		if v := tokens.Get([]byte(token)); v != nil {
			var t tokenValue
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("client token %q: stored value: %w", token, err)
			}
			if t.Hash != requestHash {
				return fmt.Errorf("client token %q (group %s): %w", token, t.Group, ErrClientTokenMismatch)
			}
			existingID = t.Group
			return nil
		}
		v, err := json.Marshal(tokenValue{Hash: requestHash, Group: groupID, Created: s.now().UTC()})
		if err != nil {
			return err
		}
		existingID = groupID
		return tokens.Put([]byte(token), v)
	})
	if err != nil {
		return "", err
	}
	return existingID, nil
}

// ClientToken returns the group and request hash a token was claimed for, or
// an error wrapping ErrNotFound.
func (s *Store) ClientToken(token string) (groupID, requestHash string, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketTokens).Get([]byte(token))
		if v == nil {
			return fmt.Errorf("client token %q: %w", token, ErrNotFound)
		}
		var t tokenValue
		if err := json.Unmarshal(v, &t); err != nil {
			return fmt.Errorf("client token %q: stored value: %w", token, err)
		}
		groupID, requestHash = t.Group, t.Hash
		return nil
	})
	return groupID, requestHash, err
}

// ClientTokens returns every claimed token with the group it names, for
// recovery and inspection.
func (s *Store) ClientTokens() (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketTokens).ForEach(func(k, v []byte) error {
			var t tokenValue
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("client token %q: stored value: %w", k, err)
			}
			out[string(k)] = t.Group
			return nil
		})
	})
	return out, err
}
