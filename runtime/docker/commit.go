package docker

import (
	"context"
	"fmt"

	"github.com/docker/docker/api/types/container"
)

// Commit makes the image ref of a container's filesystem changes with the
// Docker Engine's commit, the container paused meanwhile, and returns the
// image's id.
func (b *Backend) Commit(ctx context.Context, id, ref, author, message string) (string, error) {
	res, err := b.cli.ContainerCommit(ctx, id, container.CommitOptions{Reference: ref, Author: author, Comment: message, Pause: true})
	if err != nil {
		return "", fmt.Errorf("commit container %s: %w", id, err)
	}
	return res.ID, nil
}
