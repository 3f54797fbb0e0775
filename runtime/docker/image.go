package docker

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/jsonmessage"

	"leci/internal/pullprogress"
	"leci/internal/registries"
	"leci/pod"
)

// EnsureImage makes ref present per policy (pod.EnsureImage). Concurrent
// pulls of one ref share one pull. Errors wrap pod.ErrImageNeverPull or
// pod.ErrImagePull.
func (b *Backend) EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error {
	return pod.EnsureImage(ctx, ref, policy, b.imageExists, func(ctx context.Context, ref string) error {
		return b.pull(ctx, ref, auth)
	})
}

func (b *Backend) imageExists(ctx context.Context, ref string) (bool, error) {
	_, err := b.cli.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(err):
		return false, nil
	default:
		return false, fmt.Errorf("inspect image %s: %w", ref, err)
	}
}

func (b *Backend) pull(ctx context.Context, ref string, auth pod.ImageAuth) error {
	return b.pullWith(ctx, ref, auth, b.opts.Registries, pullprogress.SinkFrom(ctx, b.opts.PullProgress))
}

// pullWith pulls ref with the logins of auth, else of reg, showing show the
// progress. A pull of a ref under way is joined, and shows its own caller's.
func (b *Backend) pullWith(ctx context.Context, ref string, auth pod.ImageAuth, reg *registries.Config, show pullprogress.Sink) error {
	err := b.pulls.do(ctx, ref, func(ctx context.Context) error { return b.pullOnce(ctx, ref, auth, reg, show) })
	if err != nil {
		return fmt.Errorf("%w: %w", pod.ErrImagePull, err)
	}
	return nil
}

// pullOnce pulls ref and reads the Engine's progress to the end, where a
// failure is reported.
func (b *Backend) pullOnce(ctx context.Context, ref string, auth pod.ImageAuth, reg *registries.Config, show pullprogress.Sink) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	named = reference.TagNameOnly(named)
	host := reference.Domain(named)
	opts := image.PullOptions{}
	c, ok := credentialFor(host, auth.Credentials)
	if !ok {
		// The request's own logins win; the host's configuration fills in.
		if l, found := reg.Login(host); found {
			c, ok = pod.Credential{Server: host, UserName: l.Username, Password: l.Password}, true
			b.log.Info("pulling with a configured login", "host", host, "from", l.From)
		}
	}
	if ok {
		opts.RegistryAuth, err = encodeAuth(c)
		if err != nil {
			return err
		}
	}
	rc, err := b.cli.ImagePull(ctx, named.String(), opts)
	if err == nil {
		err = readProgress(rc, show)
	}
	if err == nil {
		b.log.Info("pulled image", "ref", named.String())
		return nil
	}
	if slices.Contains(auth.PlainHTTP, host) || slices.Contains(auth.Insecure, host) {
		return fmt.Errorf("pull %s: %w (the request reaches %s over plain HTTP or without TLS verification, which Docker allows only for registries listed under \"insecure-registries\" in dockerd's daemon.json, loopback excepted)", ref, err, host)
	}
	return fmt.Errorf("pull %s: %w", ref, err)
}

// readProgress drains a pull's or load's JSON progress stream, showing it
// to show when not nil, and returns the error it ends with, if any.
func readProgress(rc io.ReadCloser, show pullprogress.Sink) error {
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return fmt.Errorf("read progress: %w", err)
		}
		if m.Error != nil {
			return m.Error
		}
		if show != nil {
			show.Message(m)
		}
	}
}

// credentialFor picks the login for a registry host. Docker Hub answers to
// several names.
func credentialFor(host string, creds []pod.Credential) (pod.Credential, bool) {
	norm := func(h string) string {
		h = strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://")
		h = strings.TrimSuffix(h, "/")
		if i := strings.Index(h, "/"); i >= 0 {
			h = h[:i]
		}
		switch h {
		case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
			return "docker.io"
		}
		return h
	}
	want := norm(host)
	for _, c := range creds {
		if norm(c.Server) == want {
			return c, true
		}
	}
	return pod.Credential{}, false
}

// encodeAuth is the X-Registry-Auth header value of a login.
func encodeAuth(c pod.Credential) (string, error) {
	b, err := json.Marshal(registry.AuthConfig{Username: c.UserName, Password: c.Password, ServerAddress: c.Server})
	if err != nil {
		return "", fmt.Errorf("encode registry auth: %w", err)
	}
	return base64.URLEncoding.EncodeToString(b), nil
}

// Import loads images from a docker-archive tar (docker save's format, with
// manifest.json; Docker 25 and later also take an OCI layout) and returns
// the names it loaded.
func (b *Backend) Import(ctx context.Context, r io.Reader) ([]string, error) {
	resp, err := b.cli.ImageLoad(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("load image: %w", err)
	}
	defer resp.Body.Close()
	var names []string
	dec := json.NewDecoder(resp.Body)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("load image: read progress: %w", err)
		}
		if m.Error != nil {
			return nil, fmt.Errorf("load image: %w", m.Error)
		}
		if name, ok := strings.CutPrefix(strings.TrimSpace(m.Stream), "Loaded image: "); ok {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("load image: the archive named no image (an OCI layout needs Docker 25 or later; give a docker-archive)")
	}
	return names, nil
}

// RemoveImage deletes an image; one already gone is no error.
func (b *Backend) RemoveImage(ctx context.Context, ref string) error {
	if _, err := b.cli.ImageRemove(ctx, ref, image.RemoveOptions{}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove image %s: %w", ref, err)
	}
	return nil
}

// pullGroup runs one pull per ref at a time: callers asking for a ref being
// pulled wait for that pull and share its result. A caller whose ctx ends
// stops waiting; the pull goes on for the others while any still waits.
type pullGroup struct {
	mu    sync.Mutex
	calls map[string]*pullCall
}

type pullCall struct {
	done    chan struct{}
	err     error
	waiters int
	cancel  context.CancelFunc
}

func newPullGroup() *pullGroup { return &pullGroup{calls: map[string]*pullCall{}} }

func (g *pullGroup) do(ctx context.Context, key string, fn func(context.Context) error) error {
	g.mu.Lock()
	c, ok := g.calls[key]
	if !ok {
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		c = &pullCall{done: make(chan struct{}), cancel: cancel}
		g.calls[key] = c
		go func() {
			c.err = fn(pctx)
			cancel()
			g.mu.Lock()
			delete(g.calls, key)
			g.mu.Unlock()
			close(c.done)
		}()
	}
	c.waiters++
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		g.mu.Lock()
		c.waiters--
		if c.waiters == 0 {
			c.cancel()
		}
		g.mu.Unlock()
		return ctx.Err()
	}
}

// ImageSummary is one image the Engine holds, by one of its names.
type ImageSummary struct {
	Ref    string
	Digest string
	Size   int64
}

// Images lists the Engine's images, one entry per name (untagged ones by
// their ID).
func (b *Backend) Images(ctx context.Context) ([]ImageSummary, error) {
	list, err := b.cli.ImageList(ctx, image.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []ImageSummary
	for _, img := range list {
		refs := img.RepoTags
		if len(refs) == 0 {
			refs = []string{img.ID}
		}
		for _, r := range refs {
			out = append(out, ImageSummary{Ref: r, Digest: img.ID, Size: img.Size})
		}
	}
	slices.SortFunc(out, func(a, b ImageSummary) int { return strings.Compare(a.Ref, b.Ref) })
	return out, nil
}

// Pull pulls ref for the image command, with the logins of reg (nil: the
// backend's), showing show the progress (nil: nothing), and returns its
// normalised name and image ID.
func (b *Backend) Pull(ctx context.Context, ref string, reg *registries.Config, show pullprogress.Sink) (name, id string, err error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", "", fmt.Errorf("image reference %q: %w", ref, err)
	}
	name = reference.TagNameOnly(named).String()
	if reg == nil {
		reg = b.opts.Registries
	}
	if err := b.pullWith(ctx, name, pod.ImageAuth{}, reg, show); err != nil {
		return "", "", err
	}
	ii, err := b.cli.ImageInspect(ctx, name)
	if err != nil {
		return "", "", fmt.Errorf("inspect image %s: %w", name, err)
	}
	return name, ii.ID, nil
}
