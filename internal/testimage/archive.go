package testimage

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BuildArchive writes the image as Build does, plus a docker-archive
// manifest.json naming the same config and layer blobs, so that the one tar
// is both an OCI layout (for containerd) and a docker-archive: Docker 20.10
// loads only the latter (Docker 25 and later write this combined form
// themselves in docker save).
func BuildArchive(w io.Writer, ref string) error {
	return BuildArchiveFrom(w, ref, BusyboxPath)
}

// BuildArchiveFrom is BuildArchive with the busybox binary at busyboxPath.
func BuildArchiveFrom(w io.Writer, ref, busyboxPath string) error {
	var layout bytes.Buffer
	if err := BuildFrom(&layout, ref, busyboxPath); err != nil {
		return err
	}
	tr := tar.NewReader(&layout)
	tw := tar.NewWriter(w)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layout: %w", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return fmt.Errorf("read layout: %w", err)
		}
		files[h.Name] = data
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write archive: %w", err)
		}
	}
	manifest, err := dockerManifest(files)
	if err != nil {
		return err
	}
	if err := writeFile(tw, fileHeader("manifest.json", 0o644, len(manifest)), manifest); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return nil
}

// dockerManifest is the docker-archive manifest.json of the layout's one
// image: its config and layers by blob path, and its name as repo tag.
func dockerManifest(files map[string][]byte) ([]byte, error) {
	var index ocispec.Index
	if err := json.Unmarshal(files[ocispec.ImageIndexFile], &index); err != nil || len(index.Manifests) != 1 {
		return nil, fmt.Errorf("layout index: want one manifest (%v)", err)
	}
	md := index.Manifests[0]
	var m ocispec.Manifest
	if err := json.Unmarshal(files[blobPath(md.Digest)], &m); err != nil {
		return nil, fmt.Errorf("layout manifest: %w", err)
	}
	entry := struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{Config: blobPath(m.Config.Digest), RepoTags: []string{md.Annotations[ocispec.AnnotationRefName]}}
	for _, l := range m.Layers {
		entry.Layers = append(entry.Layers, blobPath(l.Digest))
	}
	return json.Marshal([]any{entry})
}
