//go:build integration

package containerd

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
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

// registry is a testutil.Registry under the names these tests use.
type registry struct {
	*testutil.Registry
	host string // 127.0.0.1:port
	user string
	pass string
}

type registryOpts struct {
	auth bool // htpasswd basic auth
	tls  bool // self-signed certificate
}

// startRegistry runs a registry for the test, stopped when it ends.
func startRegistry(t *testing.T, o registryOpts) *registry {
	t.Helper()
	r := testutil.StartRegistry(t, testutil.RegistryOptions{Auth: o.auth, TLS: o.tls})
	return &registry{Registry: r, host: r.Host, user: r.User, pass: r.Pass}
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
