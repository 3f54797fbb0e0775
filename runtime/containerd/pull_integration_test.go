//go:build integration

package containerd

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"leci/internal/testimage"
)

func pullCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPullPlainHTTP(t *testing.T) {
	conn := newTestConn(t)
	reg := startRegistry(t, registryOpts{})
	ref := reg.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:plain")
	ctx := pullCtx(t)

	if _, err := conn.Pull(ctx, ref, PullOptions{}); err == nil {
		t.Fatal("pull over https from a plain-HTTP registry: want an error")
	} else {
		t.Logf("without PlainHTTP: %v", err)
	}
	// A PlainHTTP entry for another port does not apply.
	if _, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: []string{"127.0.0.1:1"}}); err == nil {
		t.Fatal("PlainHTTP for another port: want an error")
	}

	began := time.Now()
	img, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: []string{reg.host}})
	if err != nil {
		t.Fatalf("pull with PlainHTTP: %v", err)
	}
	t.Logf("pull: %v, %+v", time.Since(began), img)
	if img.Name != ref || img.Digest == "" || img.Size <= 0 {
		t.Errorf("pulled %+v", img)
	}
	if ok, err := conn.Exists(ctx, ref); err != nil || !ok {
		t.Errorf("exists after pull: %v, %v", ok, err)
	}
	if n := countSnapshots(t, conn); n != 1 {
		t.Errorf("snapshots after pull: %d, want 1 (unpacked)", n)
	}
	// A host-only entry matches any port.
	if _, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: []string{"127.0.0.1"}}); err != nil {
		t.Errorf("pull with host-only PlainHTTP entry: %v", err)
	}
}

func TestPullAuth(t *testing.T) {
	conn := newTestConn(t)
	reg := startRegistry(t, registryOpts{auth: true})
	ref := reg.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:auth")
	ctx := pullCtx(t)
	plain := []string{reg.host}

	if _, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: plain}); err == nil {
		t.Fatal("pull without credentials: want an error")
	} else {
		t.Logf("without credentials: %v", err)
	}
	wrong := []Credential{{Server: reg.host, UserName: reg.user, Password: "wrong"}}
	if _, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: plain, Credentials: wrong}); err == nil {
		t.Fatal("pull with a wrong password: want an error")
	}
	elsewhere := []Credential{{Server: "127.0.0.1:1", UserName: reg.user, Password: reg.pass}}
	if _, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: plain, Credentials: elsewhere}); err == nil {
		t.Fatal("pull with credentials for another host: want an error")
	}
	creds := []Credential{{Server: reg.host, UserName: reg.user, Password: reg.pass}}
	if _, err := conn.Pull(ctx, ref, PullOptions{PlainHTTP: plain, Credentials: creds}); err != nil {
		t.Fatalf("pull with credentials: %v", err)
	}
	if ok, err := conn.Exists(ctx, ref); err != nil || !ok {
		t.Errorf("exists after pull: %v, %v", ok, err)
	}
}

func TestPullInsecureTLS(t *testing.T) {
	conn := newTestConn(t)
	reg := startRegistry(t, registryOpts{tls: true})
	ref := reg.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:tls")
	ctx := pullCtx(t)

	_, err := conn.Pull(ctx, ref, PullOptions{})
	if err == nil {
		t.Fatal("pull from a self-signed registry without Insecure: want an error")
	}
	t.Logf("without Insecure: %v", err)
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("want a certificate error, got %v", err)
	}
	if _, err := conn.Pull(ctx, ref, PullOptions{Insecure: []string{reg.host}}); err != nil {
		t.Fatalf("pull with Insecure: %v", err)
	}
	if ok, err := conn.Exists(ctx, ref); err != nil || !ok {
		t.Errorf("exists after pull: %v, %v", ok, err)
	}
}

// TestPullConcurrentOnce sends five concurrent pulls of one ref through a
// counting proxy: the tag must be resolved once, and the layer fetched once.
func TestPullConcurrentOnce(t *testing.T) {
	conn := newTestConn(t)
	reg := startRegistry(t, registryOpts{})
	reg.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:shared")

	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu       sync.Mutex
		requests []string
		inflight atomic.Int32
	)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, r.Method+" "+r.URL.Path)
		mu.Unlock()
		inflight.Add(1)
		defer inflight.Add(-1)
		// Slow enough that five callers overlap with the first pull.
		time.Sleep(50 * time.Millisecond)
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/leci/busybox:shared"
	opts := PullOptions{PlainHTTP: []string{host}}
	ctx := pullCtx(t)

	const n = 5
	var wg sync.WaitGroup
	digests := make([]string, n)
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			img, err := conn.Pull(ctx, ref, opts)
			if err != nil {
				t.Errorf("pull %d: %v", i, err)
				return
			}
			digests[i] = img.Digest
		}()
	}
	close(start)
	wg.Wait()
	for _, d := range digests[1:] {
		if d != digests[0] {
			t.Errorf("digests differ: %v", digests)
		}
	}

	mu.Lock()
	defer mu.Unlock()
	t.Logf("registry requests: %q", requests)
	byTag := regexp.MustCompile(`^(HEAD|GET) /v2/leci/busybox/manifests/shared$`)
	blobs := regexp.MustCompile(`^GET /v2/leci/busybox/blobs/`)
	var resolves, blobGets int
	for _, r := range requests {
		switch {
		case byTag.MatchString(r):
			resolves++
		case blobs.MatchString(r):
			blobGets++
		}
	}
	if resolves != 1 {
		t.Errorf("tag resolved %d times, want 1", resolves)
	}
	if blobGets != 2 { // config and the one layer
		t.Errorf("blobs fetched %d times, want 2", blobGets)
	}

	// After the shared pull, a new one goes to the registry again.
	requests = requests[:0]
	mu.Unlock()
	_, err = conn.Pull(ctx, ref, opts)
	mu.Lock()
	if err != nil {
		t.Fatalf("pull again: %v", err)
	}
	if len(requests) == 0 {
		t.Error("a later pull must not be served from the finished flight")
	}
}

// TestPullCancelledCallerDoesNotCancelOthers gives up on one of two pulls
// of a slow registry: the other must still succeed.
func TestPullCancelledCallerDoesNotCancelOthers(t *testing.T) {
	conn := newTestConn(t)
	reg := startRegistry(t, registryOpts{})
	reg.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:slow")
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/leci/busybox:slow"
	opts := PullOptions{PlainHTTP: []string{host}}

	impatient, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Pull(impatient, ref, opts)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := conn.Pull(pullCtx(t), ref, opts); err != nil {
		t.Fatalf("patient pull: %v", err)
	}
	if err := <-errc; err == nil {
		t.Error("impatient pull: want a deadline error")
	}
}
