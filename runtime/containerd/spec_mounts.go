package containerd

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/pod"
)

// propagations are the values pod.Mount.Propagation may take ("" is
// rprivate), with the propagation the container's root mount then needs.
var propagations = map[string]string{
	"":         "",
	"private":  "",
	"rprivate": "",
	"slave":    "rslave",
	"rslave":   "rslave",
	"shared":   "rshared",
	"rshared":  "rshared",
}

// mountOpts adds the request's mounts. A mount replaces a default mount
// (/dev/shm, say) at the same destination. Mounts go in order of depth, so
// that /a is mounted before /a/b and does not hide it.
func mountOpts(ms []pod.Mount) []oci.SpecOpts {
	if len(ms) == 0 {
		return nil
	}
	mounts, rootProp, err := ociMounts(ms)
	if err != nil {
		return []oci.SpecOpts{func(context.Context, oci.Client, *containers.Container, *oci.Spec) error { return err }}
	}
	dests := make([]string, len(mounts))
	for i, m := range mounts {
		dests[i] = m.Destination
	}
	opts := []oci.SpecOpts{oci.WithoutMounts(dests...), oci.WithMounts(mounts)}
	if rootProp != "" {
		opts = append(opts, withRootfsPropagation(rootProp))
	}
	return opts
}

// ociMounts converts mounts, and says which propagation the root mount needs
// for them: rshared when one is shared (else its mounts could not propagate
// out), rslave when one is a slave.
func ociMounts(ms []pod.Mount) (out []specs.Mount, rootProp string, err error) {
	for _, m := range ms {
		if !path.IsAbs(m.Destination) {
			return nil, "", fmt.Errorf("%w: mount destination %q is not absolute", pod.ErrCreateConfig, m.Destination)
		}
		prop, ok := propagations[m.Propagation]
		if !ok {
			return nil, "", fmt.Errorf("%w: mount %s: propagation %q", pod.ErrCreateConfig, m.Destination, m.Propagation)
		}
		access := "rw"
		if m.ReadOnly {
			access = "ro"
		}
		om := specs.Mount{Destination: path.Clean(m.Destination)}
		switch m.Type {
		case "", "bind":
			if !path.IsAbs(m.Source) {
				return nil, "", fmt.Errorf("%w: mount %s: source %q is not absolute", pod.ErrCreateConfig, m.Destination, m.Source)
			}
			om.Type, om.Source = "bind", m.Source
			om.Options = []string{"rbind", access, bindPropagation(m.Propagation)}
		case "tmpfs":
			om.Type, om.Source = "tmpfs", "tmpfs"
			om.Options = []string{"nosuid", "nodev", access}
		default:
			return nil, "", fmt.Errorf("%w: mount %s: type %q", pod.ErrCreateConfig, m.Destination, m.Type)
		}
		om.Options = append(om.Options, m.Options...)
		out = append(out, om)
		switch {
		case prop == "rshared":
			rootProp = prop
		case prop == "rslave" && rootProp == "":
			rootProp = prop
		}
	}
	slices.SortStableFunc(out, func(a, b specs.Mount) int {
		return depth(a.Destination) - depth(b.Destination)
	})
	return out, rootProp, nil
}

func bindPropagation(p string) string {
	if p == "" {
		return "rprivate"
	}
	return p
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}

func withRootfsPropagation(p string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Linux == nil {
			s.Linux = &specs.Linux{}
		}
		s.Linux.RootfsPropagation = p
		return nil
	}
}
