// Package testimage builds, without a registry or a container tool, the small
// image leci's integration tests run: Debian's static busybox with its applets
// in /bin, root, nobody and an "app" user, and a world-writable /tmp. The
// image is an OCI image layout in a tar, which containerd imports and skopeo
// pushes to a registry.
//
// The output depends only on the busybox binary and the reference: file
// times, owners and the gzip header are fixed, entries are sorted.
package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	"github.com/distribution/reference"
	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

const (
	// BusyboxPath is where Debian's busybox-static puts its binary.
	BusyboxPath = "/bin/busybox"
	// DefaultRef is a name for the image that no registry serves, so a test
	// that meant to import it never pulls it by mistake.
	DefaultRef = "leci.local/busybox:1.35"
	// AppUID and AppGID are the "app" user's ids.
	AppUID = 1000
	AppGID = 1000
)

// epoch is the time stamped on every file and on the image: fixed, so that
// two builds are byte for byte the same.
var epoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	passwd = "root:x:0:0:root:/root:/bin/sh\n" +
		"app:x:1000:1000:app:/home/app:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	group = "root:x:0:\n" +
		"app:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// Build writes the image as an OCI layout tar to w, named ref: its manifest
// carries ref, normalised ("busybox" is docker.io/library/busybox:latest), in
// the org.opencontainers.image.ref.name annotation, which leci's Import reads
// as the image's name.
func Build(w io.Writer, ref string) error {
	return BuildFrom(w, ref, BusyboxPath)
}

// BuildFrom is Build with the busybox binary at busyboxPath.
func BuildFrom(w io.Writer, ref, busyboxPath string) error {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	bin, err := os.ReadFile(busyboxPath)
	if err != nil {
		return fmt.Errorf("read busybox: %w", err)
	}
	applets, err := listApplets(busyboxPath)
	if err != nil {
		return err
	}

	layer, diffID, err := buildLayer(bin, applets)
	if err != nil {
		return err
	}
	config, err := json.Marshal(imageConfig(diffID))
	if err != nil {
		return fmt.Errorf("encode image config: %w", err)
	}
	configDesc := descriptor(ocispec.MediaTypeImageConfig, config)
	layerDesc := descriptor(ocispec.MediaTypeImageLayerGzip, layer)

	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return fmt.Errorf("encode image manifest: %w", err)
	}
	manifestDesc := descriptor(ocispec.MediaTypeImageManifest, manifest)
	manifestDesc.Platform = &ocispec.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	manifestDesc.Annotations = map[string]string{ocispec.AnnotationRefName: named.String()}

	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	})
	if err != nil {
		return fmt.Errorf("encode image index: %w", err)
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return fmt.Errorf("encode oci-layout: %w", err)
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{ocispec.ImageLayoutFile, layout},
		{ocispec.ImageIndexFile, index},
		{blobPath(configDesc.Digest), config},
		{blobPath(manifestDesc.Digest), manifest},
		{blobPath(layerDesc.Digest), layer},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(dirHeader(dir, 0o755)); err != nil {
			return fmt.Errorf("write layout: %w", err)
		}
	}
	for _, e := range entries {
		if err := writeFile(tw, fileHeader(e.name, 0o644, len(e.data)), e.data); err != nil {
			return fmt.Errorf("write layout: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write layout: %w", err)
	}
	return nil
}

// listApplets asks busybox which applets it has, sorted, without "busybox".
func listApplets(busyboxPath string) ([]string, error) {
	out, err := exec.Command(busyboxPath, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		if a != "busybox" && !strings.Contains(a, "/") {
			applets = append(applets, a)
		}
	}
	sort.Strings(applets)
	return applets, nil
}

func imageConfig(diffID digest.Digest) ocispec.Image {
	created := epoch
	return ocispec.Image{
		Created: &created,
		Platform: ocispec.Platform{
			OS:           "linux",
			Architecture: goruntime.GOARCH,
		},
		Config: ocispec.ImageConfig{
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"sh"},
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
		History: []ocispec.History{{
			Created:   &created,
			CreatedBy: "leci internal/testimage",
		}},
	}
}

// buildLayer returns the gzip-compressed layer and the digest of its
// uncompressed tar (the diff ID the config lists).
func buildLayer(bin []byte, applets []string) (layer []byte, diffID digest.Digest, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	dirs := []*tar.Header{
		dirHeader("bin/", 0o755),
		dirHeader("etc/", 0o755),
		dirHeader("home/", 0o755),
		ownedBy(dirHeader("home/app/", 0o755), AppUID, AppGID),
		dirHeader("root/", 0o700),
		dirHeader("tmp/", 0o1777),
	}
	for _, h := range dirs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", fmt.Errorf("write layer: %w", err)
		}
	}
	if err := writeFile(tw, fileHeader("bin/busybox", 0o755, len(bin)), bin); err != nil {
		return nil, "", fmt.Errorf("write layer: %w", err)
	}
	for _, a := range applets {
		h := &tar.Header{
			Typeflag: tar.TypeSymlink,
			Name:     "bin/" + a,
			Linkname: "busybox",
			Mode:     0o777,
			ModTime:  epoch,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", fmt.Errorf("write layer: %w", err)
		}
	}
	for _, f := range []struct{ name, data string }{{"etc/group", group}, {"etc/passwd", passwd}} {
		if err := writeFile(tw, fileHeader(f.name, 0o644, len(f.data)), []byte(f.data)); err != nil {
			return nil, "", fmt.Errorf("write layer: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", fmt.Errorf("write layer: %w", err)
	}
	diffID = digest.FromBytes(raw.Bytes())

	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	// The zero header (no name, no time) keeps the output reproducible.
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", fmt.Errorf("compress layer: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, "", fmt.Errorf("compress layer: %w", err)
	}
	return gz.Bytes(), diffID, nil
}

func descriptor(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func blobPath(d digest.Digest) string {
	return "blobs/" + d.Algorithm().String() + "/" + d.Encoded()
}

// The PAX format is chosen so that the archive is the same whatever the
// entry, and the access and change times are left out.
func dirHeader(name string, mode int64) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, ModTime: epoch, Format: tar.FormatPAX}
}

func fileHeader(name string, mode int64, size int) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(size), ModTime: epoch, Format: tar.FormatPAX}
}

func ownedBy(h *tar.Header, uid, gid int) *tar.Header {
	h.Uid, h.Gid = uid, gid
	return h
}

func writeFile(tw *tar.Writer, h *tar.Header, data []byte) error {
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	_, err := tw.Write(data)
	return err
}
