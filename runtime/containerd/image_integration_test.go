//go:build integration

package containerd

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/errdefs"

	"leci/internal/testimage"
	"leci/internal/testutil"
)

func TestImportListRemove(t *testing.T) {
	conn := newTestConn(t)
	ctx := context.Background()
	archive := buildTestImage(t, testimage.DefaultRef)
	want, err := NormalizeRef(testimage.DefaultRef)
	if err != nil {
		t.Fatal(err)
	}

	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	began := time.Now()
	names, err := conn.Import(ctx, f)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	t.Logf("import with unpack: %v", time.Since(began))
	if !slices.Equal(names, []string{want}) {
		t.Fatalf("imported %q, want [%q]", names, want)
	}

	ok, err := conn.Exists(ctx, testimage.DefaultRef)
	if err != nil || !ok {
		t.Fatalf("exists after import: %v, %v", ok, err)
	}
	if n := countSnapshots(t, conn); n != 1 {
		t.Errorf("snapshots after import: %d, want 1 (one layer, unpacked)", n)
	}
	list, err := conn.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Ref != want || list[0].Size <= 0 || list[0].Digest == "" {
		t.Fatalf("list: %+v", list)
	}
	img, err := conn.Image(ctx, testimage.DefaultRef)
	if err != nil {
		t.Fatalf("image: %v", err)
	}
	if img.Digest != list[0].Digest || img.Handle == nil {
		t.Errorf("image %+v, list %+v", img, list[0])
	}
	spec, err := img.Handle.Spec(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(spec.Config.Cmd, []string{"sh"}) {
		t.Errorf("image config cmd %q", spec.Config.Cmd)
	}

	// Another namespace does not see it.
	other := newConn(conn.client, conn.address, conn.namespace+"-other", nil, testLogger(t))
	if ok, err := other.Exists(ctx, testimage.DefaultRef); err != nil || ok {
		t.Errorf("exists in another namespace: %v, %v", ok, err)
	}

	if err := conn.Remove(ctx, testimage.DefaultRef); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if ok, err := conn.Exists(ctx, testimage.DefaultRef); err != nil || ok {
		t.Errorf("exists after remove: %v, %v", ok, err)
	}
	if list, err := conn.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("list after remove: %+v, %v", list, err)
	}
	// The delete is synchronous: garbage collection has run when it returns.
	if n := countSnapshots(t, conn); n != 0 {
		t.Errorf("snapshots after remove: %d, want 0", n)
	}
	err = conn.Remove(ctx, testimage.DefaultRef)
	if !errors.Is(err, ErrNotFound) || !errdefs.IsNotFound(err) {
		t.Errorf("second remove: %v, want ErrNotFound", err)
	}
	if _, err := conn.Image(ctx, testimage.DefaultRef); !errors.Is(err, ErrNotFound) {
		t.Errorf("image after remove: %v, want ErrNotFound", err)
	}
}

// TestImportDockerArchive imports the test image as "docker save" would
// write it, converted by skopeo.
func TestImportDockerArchive(t *testing.T) {
	testutil.RequireBinary(t, "skopeo")
	conn := newTestConn(t)
	ctx := context.Background()
	archive := buildTestImage(t, testimage.DefaultRef)
	docker := filepath.Join(t.TempDir(), "docker.tar")
	out, err := exec.Command("skopeo", "--insecure-policy", "copy", "--quiet",
		"oci-archive:"+archive, "docker-archive:"+docker+":leci.test/docker-archive:v1").CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo: %v\n%s", err, out)
	}
	f, err := os.Open(docker)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names, err := conn.Import(ctx, f)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if !slices.Equal(names, []string{"leci.test/docker-archive:v1"}) {
		t.Fatalf("imported %q", names)
	}
	if ok, err := conn.Exists(ctx, "leci.test/docker-archive:v1"); err != nil || !ok {
		t.Errorf("exists: %v, %v", ok, err)
	}
}

// TestImportUnnamed rejects an archive whose only name is a bare tag, which
// names no repository.
func TestImportUnnamed(t *testing.T) {
	conn := newTestConn(t)
	// A bare tag as ref.name is what many OCI tools write.
	archive := buildTestImage(t, testimage.DefaultRef)
	bare := rewriteRefName(t, archive, "latest")
	f, err := os.Open(bare)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if names, err := conn.Import(context.Background(), f); !errdefs.IsInvalidArgument(err) {
		t.Errorf("import: %q, %v; want an invalid-argument error", names, err)
	}
}

func countSnapshots(t *testing.T, conn *Conn) int {
	t.Helper()
	n := 0
	ctx := conn.WithNamespace(context.Background())
	err := conn.Client().SnapshotService(snapshotter).Walk(ctx, func(context.Context, snapshots.Info) error {
		n++
		return nil
	})
	if err != nil {
		t.Fatalf("walk snapshots: %v", err)
	}
	return n
}
