package containerd

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
)

// ErrNotFound reports a missing image. It is containerd's
// errdefs.ErrNotFound, so errors.Is matches either name.
var ErrNotFound = errdefs.ErrNotFound

// Image is an image in containerd's store, unpacked into the snapshotter.
type Image struct {
	// Name is the normalised reference the image is stored under.
	Name string
	// Digest is the digest of the image's target (its index or manifest).
	Digest string
	// Size is the size of its content for this platform, compressed layers
	// included.
	Size int64
	// Handle is containerd's image, from which containers get their
	// snapshot and their spec defaults.
	Handle client.Image
}

// ImageSummary is one line of List.
type ImageSummary struct {
	Ref    string
	Digest string
	Size   int64
}

// Image returns the stored image ref, unpacking it first if its snapshots are
// missing (an image imported or pulled by another client).
func (c *Conn) Image(ctx context.Context, ref string) (Image, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return Image{}, err
	}
	ctx = c.WithNamespace(ctx)
	img, err := c.client.GetImage(ctx, name)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: %w", name, err)
	}
	if err := c.ensureUnpacked(ctx, img); err != nil {
		return Image{}, err
	}
	return c.describe(ctx, img)
}

// Exists tells whether ref is stored and unpacked, that is, whether a
// container can be made from it without a pull.
func (c *Conn) Exists(ctx context.Context, ref string) (bool, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return false, err
	}
	ctx = c.WithNamespace(ctx)
	img, err := c.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("image %s: %w", name, err)
	}
	unpacked, err := img.IsUnpacked(ctx, snapshotter)
	if errdefs.IsNotFound(err) {
		// Its content is gone (garbage collected or never complete).
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("image %s: check unpacked: %w", name, err)
	}
	return unpacked, nil
}

// List returns the images of the Conn's namespace.
func (c *Conn) List(ctx context.Context) ([]ImageSummary, error) {
	ctx = c.WithNamespace(ctx)
	imgs, err := c.client.ListImages(ctx)
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	out := make([]ImageSummary, 0, len(imgs))
	for _, img := range imgs {
		size, err := img.Size(ctx)
		if err != nil {
			// An image whose content is incomplete is still listed, so that
			// it can be seen and removed.
			c.log.Debug("image size", "image", img.Name(), "err", err)
			size = 0
		}
		out = append(out, ImageSummary{Ref: img.Name(), Digest: img.Target().Digest.String(), Size: size})
	}
	return out, nil
}

// Remove deletes ref and waits for containerd to collect its content and
// snapshots. A missing image is an error matching ErrNotFound.
func (c *Conn) Remove(ctx context.Context, ref string) error {
	name, err := NormalizeRef(ref)
	if err != nil {
		return err
	}
	ctx = c.WithNamespace(ctx)
	if err := c.client.ImageService().Delete(ctx, name, images.SynchronousDelete()); err != nil {
		return fmt.Errorf("remove image %s: %w", name, err)
	}
	c.log.Info("removed image", "image", name)
	return nil
}

func (c *Conn) ensureUnpacked(ctx context.Context, img client.Image) error {
	unpacked, err := img.IsUnpacked(ctx, snapshotter)
	if err != nil {
		return fmt.Errorf("image %s: check unpacked: %w", img.Name(), err)
	}
	if unpacked {
		return nil
	}
	if err := img.Unpack(ctx, snapshotter); err != nil {
		return fmt.Errorf("unpack image %s: %w", img.Name(), err)
	}
	return nil
}

func (c *Conn) describe(ctx context.Context, img client.Image) (Image, error) {
	size, err := img.Size(ctx)
	if err != nil {
		return Image{}, fmt.Errorf("image %s: size: %w", img.Name(), err)
	}
	return Image{
		Name:   img.Name(),
		Digest: img.Target().Digest.String(),
		Size:   size,
		Handle: img,
	}, nil
}
