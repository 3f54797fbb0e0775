package containerd

import (
	"context"
	"sync"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/distribution/reference"
	"github.com/docker/docker/pkg/jsonmessage"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"leci/internal/pullprogress"
)

// progressTick is how often a pull's layers are looked at: what ctr and
// nerdctl redraw at.
const progressTick = 100 * time.Millisecond

// Layer states, in Docker's words, so that both runtimes print alike.
const (
	layerWaiting     = "Waiting"
	layerDownloading = "Downloading"
	layerDownloaded  = "Download complete"
	layerPresent     = "Already exists"
	layerDone        = "Pull complete"
)

// pullProgress follows the layers of one pull: which ones the pull's
// manifests name (seen by a handler wrapper, as the unpacker splits the
// layers off) and how far the content store's ingests of them are.
type pullProgress struct {
	sink  pullprogress.Sink
	store content.Store

	mu     sync.Mutex
	layers []ocispec.Descriptor
	state  map[string]string // by short id
}

func newPullProgress(sink pullprogress.Sink, store content.Store, name string) *pullProgress {
	p := &pullProgress{sink: sink, store: store, state: map[string]string{}}
	if named, err := reference.ParseNormalizedNamed(name); err == nil {
		tag := "latest"
		if t, ok := named.(reference.Tagged); ok {
			tag = t.Tag()
		}
		if d, ok := named.(reference.Digested); ok {
			tag = d.Digest().Encoded()[:12]
		}
		sink.Message(jsonmessage.JSONMessage{ID: tag, Status: "Pulling from " + reference.Path(named)})
	}
	return p
}

// wrap is the pull's handler wrapper: it notes the layers each manifest
// names.
func (p *pullProgress) wrap(h images.Handler) images.Handler {
	return images.HandlerFunc(func(ctx context.Context, desc ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		children, err := h.Handle(ctx, desc)
		if err == nil && images.IsManifestType(desc.MediaType) {
			for _, c := range children {
				if images.IsLayerType(c.MediaType) {
					p.add(ctx, c)
				}
			}
		}
		return children, err
	})
}

func shortID(desc ocispec.Descriptor) string {
	e := desc.Digest.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

func (p *pullProgress) add(ctx context.Context, desc ocispec.Descriptor) {
	id := shortID(desc)
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, seen := p.state[id]; seen {
		return
	}
	p.layers = append(p.layers, desc)
	state := layerWaiting
	if _, err := p.store.Info(ctx, desc.Digest); err == nil {
		state = layerPresent
	}
	p.set(id, state, nil)
}

// set records and sends a layer's state; mu is held.
func (p *pullProgress) set(id, state string, progress *jsonmessage.JSONProgress) {
	if p.state[id] == state && progress == nil {
		return
	}
	p.state[id] = state
	p.sink.Message(jsonmessage.JSONMessage{ID: id, Status: state, Progress: progress})
}

// run updates the layers' states every tick until ctx ends.
func (p *pullProgress) run(ctx context.Context) {
	t := time.NewTicker(progressTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.update(ctx)
		}
	}
}

// update looks at the ingests under way and at the blobs stored.
func (p *pullProgress) update(ctx context.Context) {
	statuses, err := p.store.ListStatuses(ctx)
	if err != nil {
		return
	}
	active := make(map[string]content.Status, len(statuses))
	for _, s := range statuses {
		active[s.Ref] = s
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, desc := range p.layers {
		id := shortID(desc)
		switch p.state[id] {
		case layerPresent, layerDownloaded:
			continue
		}
		if s, ok := active[remotes.MakeRefKey(ctx, desc)]; ok {
			total := s.Total
			if total == 0 {
				total = desc.Size
			}
			p.set(id, layerDownloading, &jsonmessage.JSONProgress{Current: s.Offset, Total: total})
			continue
		}
		if _, err := p.store.Info(ctx, desc.Digest); err == nil {
			p.set(id, layerDownloaded, nil)
		}
	}
}

// finish says how the pull ended, as Docker does: every layer fetched is
// complete, and the image's digest.
func (p *pullProgress) finish(ctx context.Context, img Image) {
	p.update(ctx)
	p.mu.Lock()
	for _, desc := range p.layers {
		id := shortID(desc)
		switch p.state[id] {
		case layerPresent:
		case layerWaiting:
			// Unpacking skipped it: its snapshot was there.
			p.set(id, layerPresent, nil)
		default:
			p.set(id, layerDone, nil)
		}
	}
	p.mu.Unlock()
	p.sink.Message(jsonmessage.JSONMessage{Status: "Digest: " + img.Digest})
	p.sink.Message(jsonmessage.JSONMessage{Status: "Status: Downloaded newer image for " + img.Name})
}
