package containerd

import (
	"fmt"

	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// NormalizeRef returns ref in the full form docker gives it, which is the name
// images carry in containerd's store: "busybox" becomes
// "docker.io/library/busybox:latest"; a reference with both a tag and a digest
// keeps only the digest, which is what is pulled.
func NormalizeRef(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %q: %w: %w", ref, errdefs.ErrInvalidArgument, err)
	}
	return named.String(), nil
}
