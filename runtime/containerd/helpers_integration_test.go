//go:build integration

package containerd

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"leci/internal/testimage"
	"leci/internal/testutil"
)

// noSystemSocket stands for /run/containerd/containerd.sock on a host with no
// system containerd, so tests always exercise leci's own.
const noSystemSocket = "/nonexistent/containerd.sock"

// testLogger sends the package's logs to the test's log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func randomSuffix(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// ownRoot makes a leci root for one test and, at its end, stops the own
// containerd started on it before the root is unmounted and removed.
func ownRoot(t *testing.T) string {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "containerd")
	testutil.RequireBinary(t, "runc")
	root := testutil.TempDir(t, "leci-")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := StopOwn(ctx, root, nil); err != nil {
			t.Errorf("stop own containerd: %v", err)
		}
	})
	return root
}

// newTestConn connects to a fresh own containerd in a fresh root, in a
// namespace of the test's own.
func newTestConn(t *testing.T) *Conn {
	t.Helper()
	root := ownRoot(t)
	cfg := Config{Address: AutoAddress, Namespace: "test-" + randomSuffix(t), Root: root}
	conn, err := connect(context.Background(), cfg, testLogger(t), noSystemSocket)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// buildTestImage writes the test image, named ref, to an OCI archive and
// returns its path.
func buildTestImage(t *testing.T, ref string) string {
	t.Helper()
	testutil.RequireBinary(t, testimage.BusyboxPath)
	p := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testimage.Build(f, ref); err != nil {
		t.Fatalf("build test image: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// ownContainerdPIDs lists the containerd processes run with root's config.
func ownContainerdPIDs(t *testing.T, root string) []int {
	t.Helper()
	config := filepath.Join(root, "containerd", "config.toml")
	procs, err := testutil.Processes()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range procs {
		args := p.Args()
		if len(args) > 0 && filepath.Base(args[0]) == "containerd" && strings.Contains(p.Cmdline, config) && !isZombie(p.PID) {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// registry is Debian's docker-registry serving on a loopback port.
type registry struct {
	host string // 127.0.0.1:port
	user string
	pass string
	tls  bool
}

type registryOpts struct {
	auth bool // htpasswd basic auth
	tls  bool // self-signed certificate
}

// startRegistry runs a registry for the test, stopped when it ends.
func startRegistry(t *testing.T, o registryOpts) *registry {
	t.Helper()
	bin := testutil.RequireBinary(t, "docker-registry")
	dir := t.TempDir()
	port := freePort(t)
	r := &registry{host: fmt.Sprintf("127.0.0.1:%d", port), tls: o.tls}

	var extra strings.Builder
	if o.auth {
		testutil.RequireBinary(t, "htpasswd")
		r.user, r.pass = "leci", "pw-"+randomSuffix(t)
		out, err := exec.Command("htpasswd", "-Bbn", r.user, r.pass).Output()
		if err != nil {
			t.Fatalf("htpasswd: %v", err)
		}
		htpasswd := filepath.Join(dir, "htpasswd")
		if err := os.WriteFile(htpasswd, out, 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&extra, "auth:\n  htpasswd:\n    realm: leci-test\n    path: %s\n", htpasswd)
	}
	var tlsConf string
	if o.tls {
		testutil.RequireBinary(t, "openssl")
		cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
			"-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
			"-addext", "subjectAltName=IP:127.0.0.1").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl: %v\n%s", err, out)
		}
		tlsConf = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", cert, key)
	}
	config := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
  secret: leci-test-secret
%s%s`, filepath.Join(dir, "data"), r.host, tlsConf, extra.String())
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

func (r *registry) url() string {
	if r.tls {
		return "https://" + r.host
	}
	return "http://" + r.host
}

// waitReady polls /v2/ until the registry answers at all (401 counts).
func (r *registry) waitReady(t *testing.T) {
	t.Helper()
	hc := insecureHTTPClient()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := hc.Get(r.url() + "/v2/")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("registry at %s did not come up", r.host)
}

// push copies the OCI archive to the registry as repo:tag with skopeo.
func (r *registry) push(t *testing.T, archive, repoTag string) string {
	t.Helper()
	testutil.RequireBinary(t, "skopeo")
	ref := r.host + "/" + repoTag
	args := []string{"--insecure-policy", "copy", "--quiet", "--dest-tls-verify=false"}
	if r.user != "" {
		args = append(args, "--dest-creds", r.user+":"+r.pass)
	}
	args = append(args, "oci-archive:"+archive, "docker://"+ref)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "skopeo", args...).CombinedOutput(); err != nil {
		t.Fatalf("skopeo copy to %s: %v\n%s", ref, err, out)
	}
	return ref
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func insecureHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	return &http.Client{Transport: tr, Timeout: 2 * time.Second}
}

// rewriteRefName copies an OCI archive with the manifest's ref.name set to
// name and returns the copy's path.
func rewriteRefName(t *testing.T, archive, name string) string {
	t.Helper()
	in, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	outPath := filepath.Join(t.TempDir(), "renamed.tar")
	out, err := os.Create(outPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	tr, tw := tar.NewReader(in), tar.NewWriter(out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == ocispec.ImageIndexFile {
			var idx ocispec.Index
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			idx.Manifests[0].Annotations[ocispec.AnnotationRefName] = name
			if data, err = json.Marshal(idx); err != nil {
				t.Fatal(err)
			}
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return outPath
}
