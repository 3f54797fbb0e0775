package testimage

import (
	"bytes"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestBuildArchiveIsLayoutAndDockerArchive: the tar holds the very layout
// Build writes, and a manifest.json naming the image and its config and
// layer blobs, which docker load reads.
func TestBuildArchiveIsLayoutAndDockerArchive(t *testing.T) {
	bb := fakeBusybox(t)
	var layout, archive bytes.Buffer
	if err := BuildFrom(&layout, DefaultRef, bb); err != nil {
		t.Fatal(err)
	}
	if err := BuildArchiveFrom(&archive, DefaultRef, bb); err != nil {
		t.Fatal(err)
	}
	want, _ := readTar(t, &layout)
	got, _ := readTar(t, &archive)
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			t.Errorf("%s differs from Build's", name)
		}
	}
	var manifests []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	decode(t, got["manifest.json"], &manifests)
	if len(manifests) != 1 {
		t.Fatalf("manifest.json has %d entries, want 1", len(manifests))
	}
	m := manifests[0]
	if len(m.RepoTags) != 1 || m.RepoTags[0] != DefaultRef {
		t.Errorf("RepoTags %v, want [%s]", m.RepoTags, DefaultRef)
	}
	var index ocispec.Index
	decode(t, got[ocispec.ImageIndexFile], &index)
	var om ocispec.Manifest
	decode(t, blob(t, got, index.Manifests[0]), &om)
	if m.Config != blobPath(om.Config.Digest) || len(m.Layers) != 1 || m.Layers[0] != blobPath(om.Layers[0].Digest) {
		t.Errorf("manifest.json %+v does not name the layout's config and layer", m)
	}
	for _, p := range append([]string{m.Config}, m.Layers...) {
		if _, ok := got[p]; !ok {
			t.Errorf("%s named but not in the archive", p)
		}
	}
}
