package containerd

import (
	"context"
	"fmt"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"

	"leci/pod"
)

// withCDIDevices applies the edits of the container's CDI devices (device
// nodes with their cgroup rules, mounts, environment, hooks) through the
// CDI library, as containerd's CRI does.
func withCDIDevices(cfg pod.ContainerConfig) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if err := cfg.CDI.Inject(s, cfg.GPUs); err != nil {
			return fmt.Errorf("%w: GPUs %v: %v", pod.ErrCreateConfig, cfg.GPUs, err)
		}
		return nil
	}
}
