package docker

import (
	"context"
	"fmt"

	"github.com/docker/docker/errdefs"

	"leci/pod"
)

// removeLeftover removes the container that a create of cfg, cut short by
// a crash of leci, left under its name (the Engine refuses the name to the
// next create with Conflict), so that the create can be made again. Only a
// container of this leci root and of cfg's group is removed; anything else
// under the name is left alone, and the error wraps pod.ErrNameTaken.
func (b *Backend) removeLeftover(ctx context.Context, cfg pod.ContainerConfig) error {
	st, err := b.cli.ContainerInspect(ctx, cfg.ID)
	if errdefs.IsNotFound(err) {
		return nil // removed meanwhile
	}
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", cfg.ID, err)
	}
	var labels map[string]string
	if st.Config != nil {
		labels = st.Config.Labels
	}
	if st.ContainerJSONBase == nil || st.Name != "/"+cfg.ID || labels[labelOwner] != b.opts.Root || labels[pod.LabelGroupID] != cfg.GroupID {
		return fmt.Errorf("create container %s: %w: a container of group %q, leci root %q", cfg.ID, pod.ErrNameTaken, labels[pod.LabelGroupID], labels[labelOwner])
	}
	b.log.Warn("removing the container a create cut short left", "group", cfg.GroupID, "container", cfg.ID)
	return b.removeContainer(ctx, cfg.ID)
}
