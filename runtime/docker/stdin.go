package docker

import (
	"context"
	"fmt"
	"io"

	"github.com/docker/docker/api/types/container"
)

// OpenStdin attaches to the stdin of a running container with Stdin
// (Docker's OpenStdin): what is written goes to the container. Closing the
// writer ends the attach's input; Docker then closes the container's stdin
// when it has StdinOnce, and keeps it open otherwise.
func (b *Backend) OpenStdin(ctx context.Context, id string) (io.WriteCloser, error) {
	if err := checkID("container", id); err != nil {
		return nil, err
	}
	resp, err := b.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdin: true})
	if err != nil {
		return nil, fmt.Errorf("attach to the stdin of %s: %w", id, err)
	}
	return &attachedStdin{conn: resp.Conn, closeWrite: resp.CloseWrite, closeAll: resp.Close}, nil
}

// attachedStdin is the input side of an attach's hijacked connection.
type attachedStdin struct {
	conn       io.Writer
	closeWrite func() error
	closeAll   func()
}

func (a *attachedStdin) Write(p []byte) (int, error) { return a.conn.Write(p) }

// Close half-closes the connection, which is how Docker learns that the
// input has ended, then drops it.
func (a *attachedStdin) Close() error {
	err := a.closeWrite()
	a.closeAll()
	return err
}
