package main

import (
	"log/slog"

	"leci/commit"
	"leci/host"
	"leci/imagecache"
	"leci/runtime/containerd"
	"leci/server"
	"leci/store"
)

// apiParts are the daemon's parts beyond the groups: the image caches and
// the commit tasks, both kept in the store and served by the API.
type apiParts struct {
	caches  *imagecache.Manager
	commits *commit.Manager
}

// openAPIParts opens the image caches (taking up pulls a stopped daemon
// left) and the commit tasks on the engine's image store.
func openAPIParts(st *store.Store, env *host.Host, log *slog.Logger) (*apiParts, error) {
	caches, err := imagecache.Open(imagecache.Options{
		Store: st, Puller: env.Engine, Normalize: containerd.NormalizeRef, Log: log.With("part", "imagecache"),
	})
	if err != nil {
		return nil, err
	}
	commits, err := commit.Open(commit.Options{
		Store: st, Committer: env.Engine, Normalize: containerd.NormalizeRef, Log: log.With("part", "commit"),
	})
	if err != nil {
		caches.Close()
		return nil, err
	}
	return &apiParts{caches: caches, commits: commits}, nil
}

// options adds the parts to the server's options.
func (p *apiParts) options(o server.Options) server.Options {
	o.Caches, o.Commits = p.caches, p.commits
	return o
}

// Close stops the pulls and waits for the commits under way.
func (p *apiParts) Close() {
	p.caches.Close()
	p.commits.Wait()
}
