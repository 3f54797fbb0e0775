package containerd

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"golang.org/x/sync/singleflight"
)

// pullFlight is one shared pull: its context ends when every caller waiting
// on it has given up, and not before, so one impatient caller does not cut
// the pull short for the others.
type pullFlight struct {
	ctx     context.Context
	cancel  context.CancelFunc
	waiters int
}

// Pull fetches ref from its registry and unpacks it. Refs are normalised as
// docker does ("busybox" is docker.io/library/busybox:latest). Concurrent
// pulls of one ref with the same options share one fetch.
func (c *Conn) Pull(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	name, err := NormalizeRef(ref)
	if err != nil {
		return Image{}, err
	}
	key := pullKey(name, opts)
	// The name may stand for another image once pulled.
	c.forgetChecked(name)
	defer c.forgetChecked(name)

	c.pullsMu.Lock()
	f, ok := c.flights[key]
	if !ok {
		// The pull runs on a context of its own that keeps ctx's values.
		fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		f = &pullFlight{ctx: fctx, cancel: cancel}
		c.flights[key] = f
	}
	f.waiters++
	c.pullsMu.Unlock()

	ch := c.pulls.DoChan(key, func() (any, error) {
		return c.pull(f.ctx, name, opts)
	})
	var (
		res singleflight.Result
		got bool
	)
	select {
	case res = <-ch:
		got = true
	case <-ctx.Done():
	}

	c.pullsMu.Lock()
	f.waiters--
	if f.waiters == 0 && c.flights[key] == f {
		delete(c.flights, key)
		// A caller that comes now must not join a pull whose context is
		// about to be cancelled.
		c.pulls.Forget(key)
		f.cancel()
	}
	c.pullsMu.Unlock()

	if !got {
		return Image{}, fmt.Errorf("pull %s: %w", name, ctx.Err())
	}
	if res.Err != nil {
		return Image{}, res.Err
	}
	return res.Val.(Image), nil
}

func (c *Conn) pull(ctx context.Context, name string, opts PullOptions) (Image, error) {
	ctx = c.WithNamespace(ctx)
	log := c.log.With("image", name)
	log.Info("pulling image")
	began := time.Now()
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: opts.registryHosts(ctx)})
	pullOpts := []client.RemoteOpt{
		client.WithResolver(resolver),
		client.WithPullUnpack,
		client.WithPullSnapshotter(snapshotter),
	}
	var progress *pullProgress
	if opts.Progress != nil {
		progress = newPullProgress(opts.Progress, c.client.ContentStore(), name)
		pullOpts = append(pullOpts, client.WithImageHandlerWrapper(progress.wrap))
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go progress.run(pctx)
	}
	img, err := c.client.Pull(ctx, name, pullOpts...)
	if err != nil {
		return Image{}, fmt.Errorf("pull %s: %w", name, err)
	}
	out, err := c.describe(ctx, img)
	if err != nil {
		return Image{}, err
	}
	if progress != nil {
		progress.finish(ctx, out)
	}
	log.Info("pulled image", "digest", out.Digest, "size", out.Size, "took", time.Since(began).Round(time.Millisecond))
	return out, nil
}

// pullKey identifies a pull for sharing: the reference and every option, the
// host lists in order-free form. Passwords enter only hashed.
func pullKey(name string, opts PullOptions) string {
	creds := slices.Clone(opts.Credentials)
	slices.SortFunc(creds, func(a, b Credential) int {
		return cmp.Or(
			strings.Compare(a.Server, b.Server),
			strings.Compare(a.UserName, b.UserName),
			strings.Compare(a.Password, b.Password),
		)
	})
	plain := slices.Sorted(slices.Values(opts.PlainHTTP))
	insecure := slices.Sorted(slices.Values(opts.Insecure))
	b, _ := json.Marshal(struct {
		Name     string
		Creds    []Credential
		Plain    []string
		Insecure []string
	}{name, creds, plain, insecure})
	sum := sha256.Sum256(b)
	return name + "@" + hex.EncodeToString(sum[:])
}
