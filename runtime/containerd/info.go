package containerd

import (
	"context"
	"fmt"
	"slices"
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

// StateDirs are the directories containerd's plugins say they keep their
// data and state in (their "root" and "state" exports: content,
// snapshots, the runtime's tasks), wherever containerd's configuration
// puts them; none when containerd does not tell.
func (c *Conn) StateDirs(ctx context.Context) []string {
	resp, err := c.client.IntrospectionService().Plugins(c.WithNamespace(ctx))
	if err != nil {
		return nil
	}
	var dirs []string
	for _, p := range resp.Plugins {
		for _, key := range []string{"root", "state"} {
			if d := p.Exports[key]; d != "" && !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	return dirs
}
