package containerd

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"
	"github.com/opencontainers/image-spec/identity"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
	gen := c.checkedGeneration()
	img, err := c.client.GetImage(ctx, name)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("image %s: %w", name, err)
	}
	m, err := c.meta(ctx, img)
	if errdefs.IsNotFound(err) {
		// Its content is gone (garbage collected or never complete).
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// Unpacked is: the snapshot of its last layer is there.
	_, err = c.client.SnapshotService(snapshotter).Stat(ctx, m.chainID)
	if errdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("image %s: check unpacked: %w", name, err)
	}
	c.noteChecked(name, img, gen)
	return true, nil
}

// checkedFresh is how long an image Exists found stands for its name in
// the creates that follow.
const checkedFresh = time.Second

type checkedImage struct {
	img client.Image
	at  time.Time
}

func (c *Conn) checkedGeneration() uint64 {
	c.checkedMu.Lock()
	defer c.checkedMu.Unlock()
	return c.checkedGen
}

// noteChecked keeps img for name, unless an image changed since gen.
func (c *Conn) noteChecked(name string, img client.Image, gen uint64) {
	c.checkedMu.Lock()
	defer c.checkedMu.Unlock()
	if gen != c.checkedGen {
		return
	}
	if c.checked == nil {
		c.checked = map[string]checkedImage{}
	}
	now := time.Now()
	for n, ci := range c.checked {
		if now.Sub(ci.at) > checkedFresh {
			delete(c.checked, n)
		}
	}
	c.checked[name] = checkedImage{img: img, at: now}
}

// recentlyChecked is the image Exists found for name within checkedFresh.
func (c *Conn) recentlyChecked(name string) (client.Image, bool) {
	c.checkedMu.Lock()
	defer c.checkedMu.Unlock()
	ci, ok := c.checked[name]
	if !ok || time.Since(ci.at) > checkedFresh {
		return nil, false
	}
	return ci.img, true
}

// forgetChecked drops what Exists found, for names whose image changes
// (pulled, imported, removed by this process); nil drops all.
func (c *Conn) forgetChecked(names ...string) {
	c.checkedMu.Lock()
	defer c.checkedMu.Unlock()
	c.checkedGen++
	if names == nil {
		clear(c.checked)
	}
	for _, n := range names {
		delete(c.checked, n)
	}
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
	defer c.forgetChecked(name)
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

// imageMeta is what a container takes from its image's config: the
// process defaults and the chain ID of the unpacked layers. For a given
// target digest (and leci's one platform) it never changes, so it is kept
// (Conn.metas) rather than read from the content store again, manifest
// and config, by every image check and every container create.
type imageMeta struct {
	config  ocispec.Image
	chainID string
}

// maxImageMetas bounds Conn.metas; past it the map starts again.
const maxImageMetas = 256

// meta returns img's imageMeta, from Conn.metas or Conn.metaFiles when it
// is there.
func (c *Conn) meta(ctx context.Context, img client.Image) (imageMeta, error) {
	key := img.Target().Digest
	c.metasMu.Lock()
	m, ok := c.metas[key]
	c.metasMu.Unlock()
	if ok {
		return m, nil
	}
	if m, ok = c.metaFiles.load(key); ok {
		c.keepMeta(key, m)
		return m, nil
	}
	desc, err := img.Config(ctx)
	if err != nil {
		return imageMeta{}, fmt.Errorf("image %s: config: %w", img.Name(), err)
	}
	blob, err := content.ReadBlob(ctx, img.ContentStore(), desc)
	if err != nil {
		return imageMeta{}, fmt.Errorf("image %s: config: %w", img.Name(), err)
	}
	if err := json.Unmarshal(blob, &m.config); err != nil {
		return imageMeta{}, fmt.Errorf("image %s: config: %w", img.Name(), err)
	}
	m.chainID = identity.ChainID(m.config.RootFS.DiffIDs).String()
	c.keepMeta(key, m)
	if err := c.metaFiles.store(key, m); err != nil {
		c.log.Debug("keep image meta", "image", img.Name(), "err", err)
	}
	return m, nil
}

func (c *Conn) keepMeta(key digest.Digest, m imageMeta) {
	c.metasMu.Lock()
	defer c.metasMu.Unlock()
	if c.metas == nil || len(c.metas) >= maxImageMetas {
		c.metas = make(map[digest.Digest]imageMeta)
	}
	c.metas[key] = m
}

// imageForCreate returns the stored image ref and its imageMeta, for a
// container to be made from it. Whether its layers are unpacked is not
// asked here: the create's snapshot finds out (see CreateContainer).
func (c *Conn) imageForCreate(ctx context.Context, ref string) (client.Image, imageMeta, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return nil, imageMeta{}, err
	}
	ctx = c.WithNamespace(ctx)
	img, ok := c.recentlyChecked(name)
	if !ok {
		if img, err = c.client.GetImage(ctx, name); err != nil {
			return nil, imageMeta{}, fmt.Errorf("image %s: %w", name, err)
		}
	}
	m, err := c.meta(ctx, img)
	if err != nil {
		return nil, imageMeta{}, err
	}
	return img, m, nil
}
