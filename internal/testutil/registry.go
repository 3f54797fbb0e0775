package testutil

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Registry is Debian's docker-registry serving on a loopback port for one
// test.
type Registry struct {
	// Host is 127.0.0.1:port.
	Host string
	// User and Pass are its one login, with RegistryOptions.Auth.
	User, Pass string
	// CAFile is the certificate it serves, which clients trust as their CA,
	// with RegistryOptions.TLS.
	CAFile string
}

// RegistryOptions say how a Registry is reached.
type RegistryOptions struct {
	// Auth: htpasswd basic auth with one user.
	Auth bool
	// TLS: HTTPS with a self-signed certificate for 127.0.0.1.
	TLS bool
}

// StartRegistry runs a registry, stopped when the test ends. It skips the
// test (fails it in CI) without docker-registry, or htpasswd for Auth.
func StartRegistry(t testing.TB, o RegistryOptions) *Registry {
	t.Helper()
	bin := RequireBinary(t, "docker-registry")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{Host: l.Addr().String()}
	l.Close()
	var extra strings.Builder
	if o.Auth {
		htpasswd := RequireBinary(t, "htpasswd")
		r.User, r.Pass = "leci", "pw-"+rand.Text()
		out, err := exec.Command(htpasswd, "-Bbn", r.User, r.Pass).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		path := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&extra, "auth:\n  htpasswd:\n    realm: leci-test\n    path: %s\n", path)
	}
	var tlsConf string
	if o.TLS {
		cert, key, _ := SelfSignedCert(t, dir)
		r.CAFile = cert
		tlsConf = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: %s
http:
  addr: %s
  secret: leci-test-secret
%s%s`, filepath.Join(dir, "data"), r.Host, tlsConf, extra.String())
	configPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(configPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", configPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start registry: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				t.Logf("registry log:\n%s", b)
			}
		}
	})
	r.waitReady(t)
	return r
}

// URL is the registry's base URL: https:// with TLS, else http://.
func (r *Registry) URL() string {
	if r.CAFile != "" {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// waitReady polls /v2/ until the registry answers at all (401 counts).
func (r *Registry) waitReady(t testing.TB) {
	t.Helper()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: x509.NewCertPool()}
	if r.CAFile != "" {
		pem, err := os.ReadFile(r.CAFile)
		if err != nil {
			t.Fatal(err)
		}
		tr.TLSClientConfig.RootCAs.AppendCertsFromPEM(pem)
	}
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Second}
	var err error
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var resp *http.Response
		if resp, err = hc.Get(r.URL() + "/v2/"); err == nil {
			resp.Body.Close()
			return
		}
	}
	t.Fatalf("registry at %s did not come up: %v", r.Host, err)
}

// Push copies an OCI layout tar to the registry as repo:tag with skopeo and
// returns the image's reference there.
func (r *Registry) Push(t testing.TB, ociArchive, repoTag string) string {
	t.Helper()
	skopeo := RequireBinary(t, "skopeo")
	ref := r.Host + "/" + repoTag
	args := []string{"--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"}
	if r.User != "" {
		args = append(args, "--dest-creds", r.User+":"+r.Pass)
	}
	args = append(args, "oci-archive:"+ociArchive, "docker://"+ref)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, skopeo, args...).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy to %s: %v\n%s", ref, err, out)
	}
	return ref
}
