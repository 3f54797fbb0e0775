package imagecache

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"

	"leci/api"
	"leci/pod"
	"leci/store"
)

type countingPuller struct {
	mu    sync.Mutex
	pulls int
	block chan struct{} // when set, pulls wait for it or the context
}

func (p *countingPuller) EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error {
	if p.block != nil {
		select {
		case <-p.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pulls++
	return nil
}

// A cache whose pull a stopped daemon left is pulled by the next one; the
// caches, their tags and credentials outlive the daemon.
func TestPullTakenUpAfterRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st, err := store.Open(filepath.Join(t.TempDir(), "leci.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stuck := &countingPuller{block: make(chan struct{})}
		m, err := Open(Options{Store: st, Puller: stuck})
		if err != nil {
			t.Fatal(err)
		}
		id, err := m.Create(Spec{Name: "web", Images: []string{"a:1", "b:1"}, Tags: []api.Tag{{Key: "k", Value: "v"}},
			Credentials: []api.ImageRegistryCredential{{Server: "r", UserName: "u", Password: "p"}}}, "")
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		m.Close() // the daemon stops in the middle of the first pull

		p := &countingPuller{}
		m2, err := Open(Options{Store: st, Puller: p})
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		synctest.Wait()
		c, err := m2.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status != api.CacheReady || c.Progress() != "100%" || p.pulls != 2 || len(c.Tags) != 1 || c.Credentials[0].Password != "p" {
			t.Errorf("after the restart: %+v, %d pulls", c, p.pulls)
		}
		docs, _ := st.ListDocs(docKind)
		var kept Cache
		if len(docs) != 1 || json.Unmarshal(docs[0], &kept) != nil || kept.Status != api.CacheReady {
			t.Errorf("the store keeps %s", docs)
		}
	})
}
