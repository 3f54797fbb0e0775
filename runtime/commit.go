package runtime

import (
	"context"
	"errors"

	"leci/pod"
)

// Committer is implemented by a backend that can commit a container's
// filesystem changes to a new image in its store (CommitContainer); both
// of leci's do.
type Committer interface {
	// Commit makes the image ref of the container's changes and returns
	// the image's id.
	Commit(ctx context.Context, containerID, ref, author, message string) (string, error)
}

// ErrCannotCommit is returned by Commit for a backend without Committer.
var ErrCannotCommit = errors.New("this container runtime cannot commit containers")

// Commit commits a container of a group, by its backend id, to the image
// ref.
func (e *Engine) Commit(ctx context.Context, containerID, ref, author, message string) (string, error) {
	c, ok := e.backend.(Committer)
	if !ok {
		return "", ErrCannotCommit
	}
	if err := e.Available(ctx); err != nil {
		return "", err
	}
	return c.Commit(ctx, containerID, ref, author, message)
}

// EnsureImage makes an image present in the backend's store per the pull
// policy, as a group's start does: what image caches pull with.
func (e *Engine) EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error {
	if err := e.Available(ctx); err != nil {
		return err
	}
	return e.backend.EnsureImage(ctx, ref, policy, auth)
}
