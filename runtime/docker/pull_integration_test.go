//go:build integration

package docker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	host, user, pass := startAuthRegistry(t)

	archive := filepath.Join(t.TempDir(), "busybox.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := testimage.Build(f, testimage.DefaultRef); err != nil {
		t.Fatal(err)
	}
	f.Close()
	ref := host + "/leci/busybox:pulled"
	out, err := exec.Command(testutil.RequireBinary(t, "skopeo"), "--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false",
		"--dest-creds", user+":"+pass, "oci-archive:"+archive, "docker://"+ref).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo copy: %v\n%s", err, out)
	}

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

// startAuthRegistry runs Debian's docker-registry on a loopback port with
// one htpasswd user, stopped when the test ends.
func startAuthRegistry(t *testing.T) (host, user, pass string) {
	t.Helper()
	bin := testutil.RequireBinary(t, "docker-registry")
	htpasswdBin := testutil.RequireBinary(t, "htpasswd")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host = l.Addr().String()
	l.Close()
	user, pass = "leci", fmt.Sprintf("pw-%d", time.Now().UnixNano())
	hp, err := exec.Command(htpasswdBin, "-Bbn", user, pass).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), hp, 0o600); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`version: 0.1
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: leci-test-secret
auth:
  htpasswd:
    realm: leci-test
    path: %s
`, filepath.Join(dir, "data"), host, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	hc := &http.Client{Timeout: 2 * time.Second}
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := hc.Get("http://" + host + "/v2/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry at %s did not come up: %v", host, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return host, user, pass
}
