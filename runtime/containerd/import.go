package containerd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// Import loads the images of an OCI layout tar or a docker-archive tar (as
// "docker save" writes it) and unpacks them. It returns the names they are
// stored under.
//
// Naming: containerd's importer takes a name from a manifest's
// "io.containerd.image.name" annotation, as is, or else from its
// "org.opencontainers.image.ref.name" annotation. The latter is, by the OCI
// layout's convention, often only a tag ("latest"), which names no
// repository: Import then skips the manifest. A reference with a repository
// there ("example.com/app:1", "library/busybox") is normalised like any other. A
// docker-archive's RepoTags are normalised by the importer itself. An archive
// that names no image is an error, since its content would be collected as
// soon as the import ends.
func (c *Conn) Import(ctx context.Context, r io.Reader) ([]string, error) {
	ctx = c.WithNamespace(ctx)
	defer c.forgetChecked() // the archive may name any image
	began := time.Now()
	imgs, err := c.client.Import(ctx, r, client.WithImageRefTranslator(ociRefName))
	if err != nil {
		return nil, fmt.Errorf("import images: %w", err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import images: the archive names no image (a manifest needs an %q annotation holding a full reference): %w",
			"org.opencontainers.image.ref.name", errdefs.ErrInvalidArgument)
	}
	names := make([]string, 0, len(imgs))
	for _, meta := range imgs {
		img := client.NewImage(c.client, meta)
		if err := c.ensureUnpacked(ctx, img); err != nil {
			return names, err
		}
		names = append(names, meta.Name)
	}
	c.log.Info("imported images", "images", names, "took", time.Since(began).Round(time.Millisecond))
	return names, nil
}

// ociRefName turns an OCI ref.name annotation into an image name: a full
// reference is normalised, a bare tag (no "/", ":" or "@") or an invalid
// reference gives "", which the importer takes as "no name".
func ociRefName(refName string) string {
	if !strings.ContainsAny(refName, "/:@") {
		return ""
	}
	name, err := NormalizeRef(refName)
	if err != nil {
		return ""
	}
	return name
}
