package containerd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/diff"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/pkg/labels"
	"github.com/containerd/containerd/v2/pkg/rootfs"
	"github.com/containerd/errdefs"
	"github.com/containerd/platforms"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Commit makes the image ref of a container's filesystem changes: the
// diff of its snapshot against its image's (containerd's diff service, as
// nerdctl commit does) is added as a layer to a copy of the image's config
// and manifest, and the image is unpacked so that groups can run it. The
// container is paused meanwhile, so that the layer is consistent. It
// returns the new manifest's digest.
func (b *Backend) Commit(ctx context.Context, id, ref, author, message string) (string, error) {
	ctx = b.conn.WithNamespace(ctx)
	cl := b.conn.Client()
	ctr, err := cl.LoadContainer(ctx, id)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", id, err)
	}
	info, err := ctr.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("container %s: %w", id, err)
	}
	base, err := cl.GetImage(ctx, info.Image)
	if err != nil {
		return "", fmt.Errorf("image of container %s: %w", id, err)
	}
	// The lease keeps the new blobs from the garbage collector until the
	// image names them.
	ctx, done, err := cl.WithLease(ctx)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", id, err)
	}
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		done(cctx)
	}()

	if task, err := ctr.Task(ctx, nil); err == nil {
		if err := task.Pause(ctx); err == nil {
			defer func() {
				cctx, cancel := cleanupContext(ctx)
				defer cancel()
				if err := task.Resume(cctx); err != nil {
					b.log.Warn("resume container after commit", "container", id, "err", err)
				}
			}()
		}
	}
	layer, err := rootfs.CreateDiff(ctx, info.SnapshotKey, cl.SnapshotService(info.Snapshotter), cl.DiffService(),
		diff.WithMediaType(ocispec.MediaTypeImageLayerGzip), diff.WithReference("leci-commit-"+id))
	if err != nil {
		return "", fmt.Errorf("diff of container %s: %w", id, err)
	}
	cs := cl.ContentStore()
	layerInfo, err := cs.Info(ctx, layer.Digest)
	if err != nil {
		return "", fmt.Errorf("layer of container %s: %w", id, err)
	}
	diffID, err := digest.Parse(layerInfo.Labels[labels.LabelUncompressed])
	if err != nil {
		return "", fmt.Errorf("layer of container %s: no uncompressed digest: %w", id, err)
	}

	manifest, err := images.Manifest(ctx, cs, base.Target(), platforms.Default())
	if err != nil {
		return "", fmt.Errorf("manifest of %s: %w", base.Name(), err)
	}
	raw, err := content.ReadBlob(ctx, cs, manifest.Config)
	if err != nil {
		return "", fmt.Errorf("config of %s: %w", base.Name(), err)
	}
	var config ocispec.Image
	if err := json.Unmarshal(raw, &config); err != nil {
		return "", fmt.Errorf("config of %s: %w", base.Name(), err)
	}
	now := time.Now().UTC()
	config.Created, config.Author = &now, author
	config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, diffID)
	config.History = append(config.History, ocispec.History{
		Created: &now, CreatedBy: "leci commit", Author: author, Comment: message,
	})

	configDesc, err := writeJSON(ctx, cs, ocispec.MediaTypeImageConfig, config, nil)
	if err != nil {
		return "", err
	}
	newManifest := ocispec.Manifest{
		Versioned: manifest.Versioned, MediaType: ocispec.MediaTypeImageManifest,
		Config: configDesc, Layers: append(append([]ocispec.Descriptor(nil), manifest.Layers...), layer),
	}
	gcRefs := map[string]string{"containerd.io/gc.ref.content.config": configDesc.Digest.String()}
	for i, l := range newManifest.Layers {
		gcRefs["containerd.io/gc.ref.content.l."+strconv.Itoa(i)] = l.Digest.String()
	}
	manifestDesc, err := writeJSON(ctx, cs, ocispec.MediaTypeImageManifest, newManifest, gcRefs)
	if err != nil {
		return "", err
	}
	img := images.Image{Name: ref, Target: manifestDesc, CreatedAt: now, UpdatedAt: now}
	is := cl.ImageService()
	if _, err := is.Create(ctx, img); errdefs.IsAlreadyExists(err) {
		_, err = is.Update(ctx, img)
		if err != nil {
			return "", fmt.Errorf("image %s: %w", ref, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	if err := client.NewImage(cl, img).Unpack(ctx, snapshotter); err != nil {
		return "", fmt.Errorf("unpack image %s: %w", ref, err)
	}
	return manifestDesc.Digest.String(), nil
}

// writeJSON writes v as a blob of the content store.
func writeJSON(ctx context.Context, cs content.Store, mediaType string, v any, labels map[string]string) (ocispec.Descriptor, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("encode %s: %w", mediaType, err)
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
	var opts []content.Opt
	if labels != nil {
		opts = append(opts, content.WithLabels(labels))
	}
	if err := content.WriteBlob(ctx, cs, "leci-commit-"+desc.Digest.String(), bytes.NewReader(data), desc, opts...); err != nil {
		return ocispec.Descriptor{}, fmt.Errorf("write %s: %w", mediaType, err)
	}
	return desc, nil
}
