//go:build integration

package docker

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leci/internal/registries"
	"leci/internal/testimage"
	"leci/internal/testutil"
	"leci/pod"
)

// TestPullWithCredentials pulls from a registry on loopback (plain HTTP,
// which Docker allows for loopback without configuration) that wants a
// login: with the request's credential the pull works, without it fails.
func TestPullWithCredentials(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Auth: true})
	host, user, pass := reg.Host, reg.User, reg.Pass

	archive := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := testimage.Build(f, testimage.DefaultRef); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ref := reg.Push(t, archive, "leci/busybox:pulled")

	err = e.b.EnsureImage(ctx, ref, "IfNotPresent", pod.ImageAuth{PlainHTTP: []string{host}})
	if !errors.Is(err, pod.ErrImagePull) {
		t.Errorf("pull without a login: %v, want ErrImagePull", err)
	}
	if err != nil && !strings.Contains(err.Error(), "insecure-registries") {
		t.Errorf("pull error does not say what dockerd needs for a plain-HTTP registry: %v", err)
	}
	auth := pod.ImageAuth{Credentials: []pod.Credential{{Server: host, UserName: user, Password: pass}}}
	if err := e.b.EnsureImage(ctx, ref, "Always", auth); err != nil {
		t.Fatalf("pull with the login: %v", err)
	}
	if ok, err := e.b.imageExists(ctx, ref); err != nil || !ok {
		t.Errorf("pulled image not present: %v %v", ok, err)
	}

	// A login from the host's configuration (the daemon's registries:),
	// for a request that brings none.
	if err := e.b.RemoveImage(ctx, ref); err != nil {
		t.Fatal(err)
	}
	cfg, err := registries.New(map[string]registries.Host{host: {Username: user, Password: pass}}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.b.opts.Registries = cfg
	if err := e.b.EnsureImage(ctx, ref, "IfNotPresent", pod.ImageAuth{}); err != nil {
		t.Fatalf("pull with the configured login: %v", err)
	}
	if ok, err := e.b.imageExists(ctx, ref); err != nil || !ok {
		t.Errorf("image pulled with the configured login not present: %v %v", ok, err)
	}
}
