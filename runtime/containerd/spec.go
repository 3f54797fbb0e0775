package containerd

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/internal/cgroup"
	"leci/pod"
)

// defaultEnv is the environment of an image that sets none.
var defaultEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// containerSpecOpts builds the spec of an app or init container from its
// image's configuration and the engine's request. It reads nothing itself:
// the options that need the image's /etc/passwd and /etc/group read them,
// when applied, through the client from the container's snapshot (or, with
// no snapshotter, from the spec's root path), so this is unit-testable with
// oci.GenerateSpec and a nil client.
func containerSpecOpts(img ocispec.ImageConfig, sb pod.Sandbox, cfg pod.ContainerConfig) []oci.SpecOpts {
	opts := []oci.SpecOpts{
		// As CRI does: containerd's default NOFILE of 1024 is no limit of the
		// request's, so containers inherit the shim's limits instead.
		withoutRlimits,
		withArgs(cfg.ProcessArgs(img.Entrypoint, img.Cmd)),
		oci.WithEnv(imageEnv(img)),
	}
	if cfg.TTY {
		opts = append(opts, withTerminal, oci.WithEnv([]string{"TERM=xterm"}))
	}
	opts = append(opts,
		oci.WithEnv(cfg.Env),
		oci.WithProcessCwd(cmp.Or(cfg.WorkingDir, img.WorkingDir, "/")),
	)
	opts = append(opts, userOpts(img.User, cfg.User)...)
	if cfg.ReadOnlyRootfs {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	opts = append(opts, mountOpts(cfg.Mounts)...)
	opts = append(opts, joinSandbox(sb)...)
	opts = append(opts, resourceOpts(cfg.Resources)...)
	if sb.CgroupParent != "" {
		opts = append(opts, oci.WithCgroup(path.Join(sb.CgroupParent, cfg.ID)))
	}
	opts = append(opts, withSysctls(sb.Sysctls))
	if cfg.Privileged {
		// Every capability, no masked or read-only paths, writable sysfs and
		// cgroupfs, no seccomp, the host's devices; and setuid binaries work.
		opts = append(opts, oci.WithPrivileged, oci.WithAllDevicesAllowed, oci.WithHostDevices, oci.WithNewPrivileges)
	} else {
		opts = append(opts,
			// ECI grants NET_RAW only on request (Capability.Add): raw
			// sockets forge packets on the group's network.
			oci.WithDroppedCapabilities(pod.DroppedByDefault),
			withAddedCapabilities(cfg.CapAdd),
			oci.WithNoNewPrivileges,
			// Last: the profile allows syscalls by the capabilities held.
			seccomp.WithDefaultProfile(),
		)
	}
	if len(cfg.GPUs) > 0 {
		opts = append(opts, withCDIDevices(cfg))
	}
	return opts
}

func imageEnv(img ocispec.ImageConfig) []string {
	if len(img.Env) == 0 {
		return defaultEnv
	}
	return img.Env
}

func withArgs(args []string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		if len(args) == 0 {
			return fmt.Errorf("%w: no command: the image has no entrypoint or cmd and none is given", pod.ErrCreateConfig)
		}
		return oci.WithProcessArgs(args...)(ctx, client, c, s)
	}
}

func withoutRlimits(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process != nil {
		s.Process.Rlimits = nil
	}
	return nil
}

// withTerminal gives the process a terminal. (oci.WithTTY also appends
// TERM, which could then appear twice.)
func withTerminal(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		s.Process = &specs.Process{}
	}
	s.Process.Terminal = true
	return nil
}

// joinSandbox puts the container into the sandbox's namespaces: network,
// IPC and UTS always (so it has the sandbox's hostname, and sets none), PID
// when the group shares it. Its mount namespace is its own.
func joinSandbox(sb pod.Sandbox) []oci.SpecOpts {
	var opts []oci.SpecOpts
	for _, ns := range []specs.LinuxNamespace{
		{Type: specs.NetworkNamespace, Path: sb.NetNSPath},
		{Type: specs.IPCNamespace, Path: sb.IPCPath},
		{Type: specs.UTSNamespace, Path: sb.UTSPath},
		{Type: specs.PIDNamespace, Path: sb.PIDPath},
	} {
		if ns.Path != "" {
			opts = append(opts, oci.WithLinuxNamespace(ns))
		}
	}
	return opts
}

// resourceOpts sets CFS quota and shares from cores, and the memory limit
// with swap equal to it (no swap beyond the limit).
func resourceOpts(r pod.Resources) []oci.SpecOpts {
	var opts []oci.SpecOpts
	if quota, shares := cgroup.CPUQuotaShares(r.CPU); quota > 0 {
		opts = append(opts, oci.WithCPUCFS(quota, cgroup.CFSPeriod), oci.WithCPUShares(shares))
	}
	if r.MemoryBytes > 0 {
		opts = append(opts, oci.WithMemoryLimit(uint64(r.MemoryBytes)), oci.WithMemorySwap(r.MemoryBytes))
	}
	return opts
}

// withCPUQuotaCap lowers the container's CFS quota to at most max (same
// period). See cgroup.FS.V1CPUQuota for why.
func withCPUQuotaCap(limit int64) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil || s.Linux.Resources == nil || s.Linux.Resources.CPU == nil {
			return nil
		}
		cpu := s.Linux.Resources.CPU
		if cpu.Quota != nil && *cpu.Quota > limit {
			q := limit
			cpu.Quota = &q
		}
		return nil
	}
}

// withAddedCapabilities adds capabilities to the default set. Names may
// come with or without CAP_, in any case; an unknown one is a
// configuration error here rather than a runc failure at start.
func withAddedCapabilities(names []string) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		if len(names) == 0 {
			return nil
		}
		known := cap.Known()
		caps := make([]string, 0, len(names))
		for _, n := range names {
			name := strings.ToUpper(strings.TrimSpace(n))
			if !strings.HasPrefix(name, "CAP_") {
				name = "CAP_" + name
			}
			if !slices.Contains(known, name) {
				return fmt.Errorf("%w: unknown capability %q", pod.ErrCreateConfig, n)
			}
			caps = append(caps, name)
		}
		return oci.WithAddedCapabilities(caps)(ctx, client, c, s)
	}
}
