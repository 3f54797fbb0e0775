package runtime

import (
	"context"
	"errors"
	"sync"

	"leci/api"
	"leci/internal/pullprogress"
)

// imagePull is the first pull of an image by the group, started for all
// images at once so that pulls overlap with the sandbox's creation.
type imagePull struct {
	done chan struct{}
	mu   sync.Mutex
	err  error // once done is closed; a later pull that works clears it
}

func (p *imagePull) result() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

func (p *imagePull) setResult(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.err = err
}

var errCheckAgain = errors.New("image not checked since leci started")

type imageRef struct{ image, policy string }

func (g *group) imageRefs() []imageRef {
	seen := map[string]bool{}
	var refs []imageRef
	add := func(c *api.ContainerCommon) {
		if !seen[c.Image] {
			seen[c.Image] = true
			refs = append(refs, imageRef{c.Image, c.ImagePullPolicy})
		}
	}
	for i := range g.req.InitContainer {
		add(&g.req.InitContainer[i].ContainerCommon)
	}
	for i := range g.req.Container {
		add(&g.req.Container[i].ContainerCommon)
	}
	return refs
}

// ensureImage waits for the group's first pull of the image; after a failed
// first pull, each start pulls again.
func (g *group) ensureImage(c *api.ContainerCommon) error {
	p := g.images[c.Image]
	select {
	case <-p.done:
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
	if p.result() == nil {
		return nil
	}
	err := g.e.backend.EnsureImage(g.ctx, c.Image, c.ImagePullPolicy, imageAuth(g.req))
	if err == nil {
		p.setResult(nil)
	}
	return err
}

// pullContext returns the context of the group's first pulls: with the
// feed its create asked for (pullprogress.WithFeed) as their sink, and
// that feed, which the caller closes once those pulls have ended. Only
// once: a setup done again after the backend came back pulls for no one.
func (g *group) pullContext(ctx context.Context) (context.Context, *pullprogress.Feed) {
	feed := g.pullFeed
	if feed == nil {
		return ctx, nil
	}
	g.pullFeed = nil
	return pullprogress.WithSink(ctx, feed), feed
}
