package containerd

import (
	"context"
	"maps"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/pod"
)

// sandboxUID is who the sandbox process runs as: nobody, with no
// capabilities, since it only waits.
const sandboxUID = 65534

// sandboxSpecOpts builds the spec of a group's sandbox process, which
// exists to be PID 1 of the group's shared PID namespace: the read-only
// rootfs holding the sandbox binary, no capabilities, and the group's
// network, IPC and UTS namespaces joined (the hostname is already set in
// the UTS one) with a new PID namespace that the containers then join.
func sandboxSpecOpts(rootfs string, args []string, sb pod.Sandbox, cgroupsPath string) []oci.SpecOpts {
	opts := []oci.SpecOpts{
		oci.WithRootFSPath(rootfs),
		oci.WithRootFSReadonly(),
		oci.WithProcessArgs(args...),
		oci.WithProcessCwd("/"),
		oci.WithUIDGID(sandboxUID, sandboxUID),
		withNoCapabilities,
		oci.WithNoNewPrivileges,
		oci.WithCgroup(cgroupsPath),
	}
	return append(opts, joinSandbox(pod.Sandbox{NetNSPath: sb.NetNSPath, IPCPath: sb.IPCPath, UTSPath: sb.UTSPath})...)
}

func withNoCapabilities(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{}
	return nil
}

// withSysctls sets the group's namespaced sysctls; runc writes them inside
// the group's network and IPC namespaces, which every container joins, so
// each container's start applies them again, to the same values.
func withSysctls(sysctls map[string]string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if len(sysctls) == 0 {
			return nil
		}
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		if s.Linux.Sysctl == nil {
			s.Linux.Sysctl = map[string]string{}
		}
		maps.Copy(s.Linux.Sysctl, sysctls)
		return nil
	}
}
