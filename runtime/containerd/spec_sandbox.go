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

// sandboxSpecOpts builds the sandbox's spec: the read-only rootfs holding
// the leci binary, the sandbox process, the group's hostname and sysctls,
// the group's network namespace joined (a new one when none is given) and
// new IPC, UTS, PID and mount namespaces that the containers then join.
// The PID namespace is always new, so the sandbox process is PID 1 of it
// whether or not the group shares it.
func sandboxSpecOpts(rootfs string, args []string, cfg pod.SandboxConfig, cgroupsPath string) []oci.SpecOpts {
	opts := []oci.SpecOpts{
		oci.WithRootFSPath(rootfs),
		oci.WithRootFSReadonly(),
		oci.WithProcessArgs(args...),
		oci.WithProcessCwd("/"),
		oci.WithUIDGID(sandboxUID, sandboxUID),
		withNoCapabilities,
		oci.WithNoNewPrivileges,
		oci.WithCgroup(cgroupsPath),
		oci.WithAnnotations(map[string]string{groupAnnotation: cfg.GroupID}),
		withSysctls(cfg.Sysctls),
	}
	if cfg.Hostname != "" {
		opts = append(opts, oci.WithHostname(cfg.Hostname))
	}
	if cfg.NetNSPath != "" {
		opts = append(opts, oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: cfg.NetNSPath}))
	}
	return opts
}

func withNoCapabilities(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	s.Process.Capabilities = &specs.LinuxCapabilities{}
	return nil
}

// withSysctls sets namespaced sysctls; runc writes them inside the
// sandbox's network and IPC namespaces, which the containers share.
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
