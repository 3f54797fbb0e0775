package containerd

import (
	"context"
	"fmt"
)

// Info describes the containerd in use, for "leci info".
type Info struct {
	Address     string
	Version     string
	Revision    string
	Namespace   string
	Snapshotter string
	// Own is true for leci's own containerd (started by this or another
	// leci process on the same root), false for one leci was given or found.
	Own bool
	// PID of leci's own containerd; 0 otherwise.
	PID int
	// Dir holds own containerd's config, log, state and data; empty otherwise.
	Dir string
}

// Info asks containerd for its version and reports how leci uses it.
func (c *Conn) Info(ctx context.Context) (Info, error) {
	v, err := c.client.Version(c.WithNamespace(ctx))
	if err != nil {
		return Info{}, fmt.Errorf("containerd version: %w", err)
	}
	info := Info{
		Address:     c.address,
		Version:     v.Version,
		Revision:    v.Revision,
		Namespace:   c.namespace,
		Snapshotter: snapshotter,
	}
	if c.own != nil {
		info.Own = true
		info.Dir = c.own.dir
		// Read afresh: the daemon may have been restarted by another process.
		if pid, ok := c.own.runningPID(); ok {
			info.PID = pid
		}
	}
	return info, nil
}
