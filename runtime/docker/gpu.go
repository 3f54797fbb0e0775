package docker

import (
	"fmt"
	"slices"

	"github.com/docker/docker/api/types/container"

	"leci/pod"
)

// withCDIDevices gives a Docker container the edits of its CDI devices.
// Docker 20.10 reads no CDI specs, so leci resolves them with the CDI
// library and hands them over as Docker's own options: device nodes as
// devices, the environment as variables, mounts as bind mounts. OCI hooks
// have no Docker option: a device whose spec has any is refused.
func withCDIDevices(cfg pod.ContainerConfig, config *container.Config, hc *container.HostConfig) error {
	edits, err := cfg.CDI.Resolve(cfg.GPUs)
	if err != nil {
		return fmt.Errorf("%w: GPUs %v: %v", pod.ErrCreateConfig, cfg.GPUs, err)
	}
	if edits.Hooks > 0 {
		return fmt.Errorf("%w: GPUs %v: their CDI specs ask for %d OCI hooks, which the Docker backend cannot run; use the containerd backend", pod.ErrCreateConfig, cfg.GPUs, edits.Hooks)
	}
	for _, d := range edits.Devices {
		hc.Devices = append(hc.Devices, container.DeviceMapping{PathOnHost: d.HostPath, PathInContainer: d.Path, CgroupPermissions: d.Permissions})
	}
	config.Env = append(slices.Clip(config.Env), edits.Env...)
	var ms []pod.Mount
	for _, m := range edits.Mounts {
		ms = append(ms, pod.Mount{Source: m.HostPath, Destination: m.ContainerPath, Type: "bind", Options: m.Options})
	}
	mounts, err := dockerMounts(ms)
	if err != nil {
		return fmt.Errorf("%w: GPUs %v: %v", pod.ErrCreateConfig, cfg.GPUs, err)
	}
	hc.Mounts = append(hc.Mounts, mounts...)
	return nil
}
