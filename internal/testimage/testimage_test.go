package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeBusybox writes a script that answers --list like busybox, so the
// layout can be checked without Debian's binary.
func fakeBusybox(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "busybox")
	script := "#!/bin/sh\nprintf 'sh\\nls\\nbusybox\\n[\\n'\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// readTar returns regular files and, separately, all headers by name.
func readTar(t *testing.T, r io.Reader) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files := map[string][]byte{}
	headers := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		if _, dup := headers[h.Name]; dup {
			t.Errorf("duplicate entry %s", h.Name)
		}
		headers[h.Name] = h
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
	return files, headers
}

func blob(t *testing.T, files map[string][]byte, d ocispec.Descriptor) []byte {
	t.Helper()
	b, ok := files[blobPath(d.Digest)]
	if !ok {
		t.Fatalf("blob %s missing", d.Digest)
	}
	if got := digest.FromBytes(b); got != d.Digest {
		t.Fatalf("blob %s has digest %s", d.Digest, got)
	}
	if int64(len(b)) != d.Size {
		t.Fatalf("blob %s: size %d, descriptor says %d", d.Digest, len(b), d.Size)
	}
	return b
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %T: %v", v, err)
	}
}

func TestBuildIsValidLayout(t *testing.T) {
	var buf bytes.Buffer
	if err := BuildFrom(&buf, "example.com/test/bb:1", fakeBusybox(t)); err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, &buf)

	var layout ocispec.ImageLayout
	decode(t, files[ocispec.ImageLayoutFile], &layout)
	if layout.Version != ocispec.ImageLayoutVersion {
		t.Errorf("oci-layout version %q, want %q", layout.Version, ocispec.ImageLayoutVersion)
	}

	var index ocispec.Index
	decode(t, files[ocispec.ImageIndexFile], &index)
	if len(index.Manifests) != 1 {
		t.Fatalf("index has %d manifests, want 1", len(index.Manifests))
	}
	md := index.Manifests[0]
	if got, want := md.Annotations[ocispec.AnnotationRefName], "example.com/test/bb:1"; got != want {
		t.Errorf("ref name %q, want %q", got, want)
	}
	if md.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("manifest media type %q", md.MediaType)
	}

	var manifest ocispec.Manifest
	decode(t, blob(t, files, md), &manifest)
	if len(manifest.Layers) != 1 {
		t.Fatalf("manifest has %d layers, want 1", len(manifest.Layers))
	}
	var config ocispec.Image
	decode(t, blob(t, files, manifest.Config), &config)
	if config.OS != "linux" || config.Architecture != goruntime.GOARCH {
		t.Errorf("platform %s/%s", config.OS, config.Architecture)
	}
	if len(config.Config.Cmd) != 1 || config.Config.Cmd[0] != "sh" {
		t.Errorf("cmd %q, want [sh]", config.Config.Cmd)
	}
	if len(config.Config.Env) != 1 || config.Config.Env[0][:5] != "PATH=" {
		t.Errorf("env %q, want PATH only", config.Config.Env)
	}

	gz := blob(t, files, manifest.Layers[0])
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := digest.FromBytes(raw), config.RootFS.DiffIDs[0]; got != want {
		t.Errorf("layer diff ID %s, config says %s", got, want)
	}
	lfiles, lheaders := readTar(t, bytes.NewReader(raw))
	if _, ok := lfiles["bin/busybox"]; !ok {
		t.Error("bin/busybox missing")
	}
	for _, a := range []string{"sh", "ls", "["} {
		h, ok := lheaders["bin/"+a]
		if !ok || h.Typeflag != tar.TypeSymlink || h.Linkname != "busybox" {
			t.Errorf("bin/%s: want symlink to busybox, got %+v", a, h)
		}
	}
	if _, ok := lheaders["bin/busybox"]; !ok || lheaders["bin/busybox"].Typeflag != tar.TypeReg {
		t.Error("bin/busybox must be the binary, not an applet link")
	}
	if h := lheaders["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/: want mode 1777, got %+v", h)
	}
	if got := string(lfiles["etc/passwd"]); !bytes.Contains([]byte(got), []byte("app:x:1000:1000:")) ||
		!bytes.Contains([]byte(got), []byte("nobody:x:65534:65534:")) || !bytes.Contains([]byte(got), []byte("root:x:0:0:")) {
		t.Errorf("etc/passwd:\n%s", got)
	}
	if got := string(lfiles["etc/group"]); !bytes.Contains([]byte(got), []byte("app:x:1000:")) {
		t.Errorf("etc/group:\n%s", got)
	}
}

func TestBuildNormalisesRef(t *testing.T) {
	var buf bytes.Buffer
	if err := BuildFrom(&buf, "busybox", fakeBusybox(t)); err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, &buf)
	var index ocispec.Index
	decode(t, files[ocispec.ImageIndexFile], &index)
	if got, want := index.Manifests[0].Annotations[ocispec.AnnotationRefName], "docker.io/library/busybox:latest"; got != want {
		t.Errorf("ref name %q, want %q", got, want)
	}
}

func TestBuildRejectsBadRef(t *testing.T) {
	if err := BuildFrom(io.Discard, "Not A Ref", fakeBusybox(t)); err == nil {
		t.Error("want an error for an invalid reference")
	}
}

func TestBuildIsDeterministic(t *testing.T) {
	bb := fakeBusybox(t)
	var a, b bytes.Buffer
	if err := BuildFrom(&a, DefaultRef, bb); err != nil {
		t.Fatal(err)
	}
	if err := BuildFrom(&b, DefaultRef, bb); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two builds differ")
	}
}

// TestBuildRealBusybox checks the applets of Debian's busybox land in /bin.
func TestBuildRealBusybox(t *testing.T) {
	if _, err := os.Stat(BusyboxPath); err != nil {
		t.Skipf("no %s (busybox-static): %v", BusyboxPath, err)
	}
	var buf bytes.Buffer
	if err := Build(&buf, DefaultRef); err != nil {
		t.Fatal(err)
	}
	files, _ := readTar(t, &buf)
	var index ocispec.Index
	decode(t, files[ocispec.ImageIndexFile], &index)
	var manifest ocispec.Manifest
	decode(t, blob(t, files, index.Manifests[0]), &manifest)
	zr, err := gzip.NewReader(bytes.NewReader(blob(t, files, manifest.Layers[0])))
	if err != nil {
		t.Fatal(err)
	}
	_, headers := readTar(t, zr)
	for _, a := range []string{"sh", "cat", "sleep", "wget", "nc", "id"} {
		if h := headers["bin/"+a]; h == nil || h.Typeflag != tar.TypeSymlink {
			t.Errorf("bin/%s missing", a)
		}
	}
	t.Logf("image tar: %d bytes, %d layer entries", buf.Len(), len(headers))
}
