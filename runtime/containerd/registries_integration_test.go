//go:build integration

package containerd

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"leci/internal/registries"
	"leci/internal/testimage"
	"leci/pod"
)

// configuredBackend is a backend on a fresh containerd with the host's
// registry configuration reg, as the daemon builds it from its
// configuration file.
func configuredBackend(t *testing.T, reg *registries.Config) (*Backend, *Conn) {
	t.Helper()
	conn := newTestConn(t)
	b, err := NewBackend(conn, BackendOptions{Root: t.TempDir(), Registries: reg}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	return b, conn
}

// A registry that wants a login, given only by the daemon's configuration:
// a pull whose request has no credential for it logs in with it.
func TestPullLoginFromDaemonConfig(t *testing.T) {
	r := startRegistry(t, registryOpts{auth: true})
	ref := r.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:conf")
	reg, err := registries.New(map[string]registries.Host{
		r.host: {PlainHTTP: true, Username: r.user, Password: r.pass},
	}, "", nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	b, conn := configuredBackend(t, reg)
	ctx := pullCtx(t)
	if err := b.EnsureImage(ctx, ref, "Always", pod.ImageAuth{}); err != nil {
		t.Fatalf("pull with the configuration's login: %v", err)
	}
	if ok, err := conn.Exists(ctx, ref); err != nil || !ok {
		t.Errorf("exists after pull: %v, %v", ok, err)
	}
	// The request's own credential wins: a wrong one fails the pull.
	wrong := pod.ImageAuth{Credentials: []pod.Credential{{Server: r.host, UserName: r.user, Password: "wrong"}}}
	if err := b.EnsureImage(ctx, ref, "Always", wrong); !errors.Is(err, pod.ErrImagePull) {
		t.Errorf("pull with the request's wrong credential: %v, want ErrImagePull", err)
	}

	// Without the configuration, the same pull fails: the login came from it.
	plain, _ := registries.New(map[string]registries.Host{r.host: {PlainHTTP: true}}, "", nil, nil)
	b2, _ := configuredBackend(t, plain)
	if err := b2.EnsureImage(ctx, ref, "Always", pod.ImageAuth{}); !errors.Is(err, pod.ErrImagePull) {
		t.Errorf("pull without any login: %v, want ErrImagePull", err)
	}
}

// A login found only in docker's config.json, located through
// DOCKER_CONFIG as the daemon locates it. (With a credsStore, docker asks
// that helper and not auths: so does leci.)
func TestPullLoginFromDockerConfig(t *testing.T) {
	r := startRegistry(t, registryOpts{auth: true})
	ref := r.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:docker")
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.pass))
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths": {%q: {"auth": %q}}}`, r.host, auth)), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	reg, err := registries.New(nil, registries.DockerConfigPath(), nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	b, conn := configuredBackend(t, reg)
	ctx := pullCtx(t)
	if err := b.EnsureImage(ctx, ref, "Always", pod.ImageAuth{PlainHTTP: []string{r.host}}); err != nil {
		t.Fatalf("pull with docker config.json's login: %v", err)
	}
	if ok, err := conn.Exists(ctx, ref); err != nil || !ok {
		t.Errorf("exists after pull: %v, %v", ok, err)
	}
}

// A request that names a registry that does not exist (registry.invalid)
// is served by its mirror on loopback: the mirror is tried first, has the
// image, and the named registry is never contacted.
func TestPullThroughMirror(t *testing.T) {
	mirror := startRegistry(t, registryOpts{auth: true})
	mirror.Push(t, buildTestImage(t, testimage.DefaultRef), "leci/busybox:mirrored")
	reg, err := registries.New(map[string]registries.Host{
		"registry.invalid": {Mirrors: []string{"http://" + mirror.host}},
		mirror.host:        {Username: mirror.user, Password: mirror.pass},
	}, "", nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	b, conn := configuredBackend(t, reg)
	ctx := pullCtx(t)
	const ref = "registry.invalid/leci/busybox:mirrored"
	if err := b.EnsureImage(ctx, ref, "IfNotPresent", pod.ImageAuth{}); err != nil {
		t.Fatalf("pull through the mirror: %v", err)
	}
	if ok, err := conn.Exists(ctx, ref); err != nil || !ok {
		t.Errorf("%s after the pull: %v, %v", ref, ok, err)
	}
}
