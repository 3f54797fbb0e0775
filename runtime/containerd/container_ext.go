package containerd

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/typeurl/v2"
	"google.golang.org/protobuf/types/known/anypb"
)

// extensionName is the key of leci's record in a container's extensions.
const extensionName = "leci.container"

// extensionTypeURL names the JSON encoding of containerExtension.
const extensionTypeURL = "leci.dev/containerd/container-extension/v1"

// containerExtension is what StartContainer and StopContainer need to know
// of a container beyond its spec. It is kept with the container in
// containerd (an extension, not labels: it is no one's to filter by), so it
// survives a restart of leci.
type containerExtension struct {
	// LogPath is the file the container's output goes to ("" discards it).
	LogPath string `json:"logPath,omitempty"`
	// TTY is true when the process has a terminal.
	TTY bool `json:"tty,omitempty"`
	// StopSignal is the image's STOPSIGNAL ("" is SIGTERM).
	StopSignal string `json:"stopSignal,omitempty"`
	// Stdin keeps the process's stdin open for attaches (stdin.go);
	// StdinOnce closes it when the first attach ends.
	Stdin     bool `json:"stdin,omitempty"`
	StdinOnce bool `json:"stdinOnce,omitempty"`
}

// withExtension stores ext on the container. It is stored as JSON under a
// type URL of leci's own, which needs no typeurl registration.
func withExtension(ext containerExtension) client.NewContainerOpts {
	return func(_ context.Context, _ *client.Client, c *containers.Container) error {
		b, err := json.Marshal(ext)
		if err != nil {
			return err
		}
		if c.Extensions == nil {
			c.Extensions = map[string]typeurl.Any{}
		}
		c.Extensions[extensionName] = &anypb.Any{TypeUrl: extensionTypeURL, Value: b}
		return nil
	}
}

// extensionOf reads the container's record; a container without one (not
// made by CreateContainer) gets the zero record.
// loadWithExtension loads container id, in the Conn's namespace (the
// context returned carries it), with leci's extension.
func (b *Backend) loadWithExtension(ctx context.Context, id string) (context.Context, client.Container, containerExtension, error) {
	if err := checkID("container", id); err != nil {
		return ctx, nil, containerExtension{}, err
	}
	ctx = b.conn.WithNamespace(ctx)
	ctr, err := b.conn.Client().LoadContainer(ctx, id)
	if err != nil {
		return ctx, nil, containerExtension{}, fmt.Errorf("load container %s: %w", id, err)
	}
	ext, err := extensionOf(ctx, ctr)
	return ctx, ctr, ext, err
}

func extensionOf(ctx context.Context, ctr client.Container) (containerExtension, error) {
	var ext containerExtension
	// The record ctr was loaded with: extensions do not change.
	info, err := ctr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return ext, fmt.Errorf("container %s: %w", ctr.ID(), err)
	}
	a, ok := info.Extensions[extensionName]
	if !ok || a.GetTypeUrl() != extensionTypeURL {
		return ext, nil
	}
	if err := json.Unmarshal(a.GetValue(), &ext); err != nil {
		return ext, fmt.Errorf("container %s: leci extension: %w", ctr.ID(), err)
	}
	return ext, nil
}
