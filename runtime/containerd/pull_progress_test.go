package containerd

import (
	"context"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fakeStore is a content store of which a pull's progress reads the
// blobs present and the ingests under way.
type fakeStore struct {
	content.Store
	present map[digest.Digest]bool
	active  []content.Status
}

func (f *fakeStore) Info(_ context.Context, d digest.Digest) (content.Info, error) {
	if f.present[d] {
		return content.Info{Digest: d}, nil
	}
	return content.Info{}, errdefs.ErrNotFound
}

func (f *fakeStore) ListStatuses(context.Context, ...string) ([]content.Status, error) {
	return f.active, nil
}

type recordSink []jsonmessage.JSONMessage

func (r *recordSink) Message(m jsonmessage.JSONMessage) { *r = append(*r, m) }

// TestPullProgressStates: a layer present before the pull is "Already
// exists"; one fetched goes Waiting, Downloading with its byte counts,
// Download complete and, once the pull ends, Pull complete.
func TestPullProgressStates(t *testing.T) {
	ctx := context.Background()
	layer := func(s string) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: images.MediaTypeDockerSchema2LayerGzip, Digest: digest.FromString(s), Size: 100}
	}
	had, fetched := layer("had"), layer("fetched")
	store := &fakeStore{present: map[digest.Digest]bool{had.Digest: true}}
	var got recordSink
	p := newPullProgress(&got, store, "127.0.0.1:5000/team/app:v1")
	manifest := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString("manifest")}
	handler := p.wrap(images.HandlerFunc(func(context.Context, ocispec.Descriptor) ([]ocispec.Descriptor, error) {
		return []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageConfig}, had, fetched}, nil
	}))
	if _, err := handler.Handle(ctx, manifest); err != nil {
		t.Fatal(err)
	}
	store.active = []content.Status{{Ref: "layer-" + fetched.Digest.String(), Offset: 40, Total: 100}}
	p.update(ctx)
	store.active, store.present[fetched.Digest] = nil, true
	p.update(ctx)
	p.finish(ctx, Image{Name: "127.0.0.1:5000/team/app:v1", Digest: "sha256:feed"})

	id := func(d ocispec.Descriptor) string { return d.Digest.Encoded()[:12] }
	want := []jsonmessage.JSONMessage{
		{ID: "v1", Status: "Pulling from team/app"},
		{ID: id(had), Status: "Already exists"},
		{ID: id(fetched), Status: "Waiting"},
		{ID: id(fetched), Status: "Downloading", Progress: &jsonmessage.JSONProgress{Current: 40, Total: 100}},
		{ID: id(fetched), Status: "Download complete"},
		{ID: id(fetched), Status: "Pull complete"},
		{Status: "Digest: sha256:feed"},
		{Status: "Status: Downloaded newer image for 127.0.0.1:5000/team/app:v1"},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Status != w.Status || (g.Progress == nil) != (w.Progress == nil) ||
			(w.Progress != nil && (g.Progress.Current != w.Progress.Current || g.Progress.Total != w.Progress.Total)) {
			t.Errorf("message %d = %+v (progress %+v), want %+v (progress %+v)", i, g, g.Progress, w, w.Progress)
		}
	}
}
