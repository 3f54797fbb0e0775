package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"leci/host"
	"leci/internal/pullprogress"
	"leci/internal/registries"
	"leci/internal/testimage"
	"leci/runtime/containerd"
	"leci/runtime/docker"
)

// imageStore is the image side of the runtime the flags select, for the
// image commands.
type imageStore interface {
	// Import loads a tar and returns the names it held.
	Import(ctx context.Context, r io.Reader) ([]string, error)
	// BuildBusybox writes the test image, named ref, in a form Import takes.
	BuildBusybox(w io.Writer, ref string) error
	// Pull pulls ref with the registry settings reg, showing show the
	// layers as they come.
	Pull(ctx context.Context, ref string, reg *registries.Config, show pullprogress.Sink) (name, digest string, err error)
	List(ctx context.Context) ([]containerd.ImageSummary, error)
	Remove(ctx context.Context, ref string) error
	Close() error
}

// openImages connects to the runtime's image store: containerd or Docker
// as --runtime says, and with "auto" as host.Open chooses.
func (o *globalOptions) openImages(ctx context.Context, log *slog.Logger) (imageStore, error) {
	switch o.runtime {
	case host.RuntimeDocker:
		return o.openDockerImages(ctx, log)
	case host.RuntimeAuto:
		conn, err := o.connect(ctx, log)
		if err == nil {
			return containerdImages{conn}, nil
		}
		d, derr := o.openDockerImages(ctx, log)
		if derr != nil {
			return nil, fmt.Errorf("runtime auto: %w; %w", err, derr)
		}
		return d, nil
	default:
		conn, err := o.connect(ctx, log)
		if err != nil {
			return nil, err
		}
		return containerdImages{conn}, nil
	}
}

func (o *globalOptions) openDockerImages(ctx context.Context, log *slog.Logger) (imageStore, error) {
	b, err := docker.New(ctx, docker.Options{Host: o.dockerHost, Root: o.root, CgroupRoot: o.cgroupRoot}, log)
	if err != nil {
		return nil, fmt.Errorf("docker: %w", err)
	}
	return dockerImages{b}, nil
}

type containerdImages struct{ *containerd.Conn }

func (containerdImages) BuildBusybox(w io.Writer, ref string) error { return testimage.Build(w, ref) }

func (c containerdImages) Pull(ctx context.Context, ref string, reg *registries.Config, show pullprogress.Sink) (string, string, error) {
	img, err := c.Conn.Pull(ctx, ref, containerd.PullOptions{Registries: reg, Progress: show})
	return img.Name, img.Digest, err
}

type dockerImages struct{ *docker.Backend }

// BuildBusybox writes the combined OCI layout and docker-archive, since
// Docker before 25 loads only docker-archives.
func (dockerImages) BuildBusybox(w io.Writer, ref string) error {
	return testimage.BuildArchive(w, ref)
}

func (d dockerImages) List(ctx context.Context) ([]containerd.ImageSummary, error) {
	imgs, err := d.Images(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]containerd.ImageSummary, len(imgs))
	for i, img := range imgs {
		out[i] = containerd.ImageSummary{Ref: img.Ref, Digest: img.Digest, Size: img.Size}
	}
	return out, nil
}

func (d dockerImages) Remove(ctx context.Context, ref string) error { return d.RemoveImage(ctx, ref) }
