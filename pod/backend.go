package pod

import (
	"context"
	"fmt"
	"slices"
)

// EnsureImage applies the pull policy ("" is IfNotPresent) for a backend's
// EnsureImage: Always pulls; IfNotPresent pulls when exists says ref is
// absent; Never then fails with ErrImageNeverPull. A failure of exists is
// wrapped in ErrImagePull; pull wraps its own.
func EnsureImage(ctx context.Context, ref, policy string, exists func(ctx context.Context, ref string) (bool, error), pull func(ctx context.Context, ref string) error) error {
	switch policy {
	case PullAlways:
		return pull(ctx, ref)
	case PullIfNotPresent, "", PullNever:
	default:
		return fmt.Errorf("image %s: unknown pull policy %q", ref, policy)
	}
	ok, err := exists(ctx, ref)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrImagePull, err)
	}
	switch {
	case ok:
		return nil
	case policy == PullNever:
		return fmt.Errorf("image %s: %w", ref, ErrImageNeverPull)
	default:
		return pull(ctx, ref)
	}
}

// ProcessArgs applies the kubelet's rule to the image's entrypoint and cmd:
// Command replaces the image's entrypoint and drops its cmd; Args replaces
// the cmd.
func (c ContainerConfig) ProcessArgs(entrypoint, cmd []string) []string {
	if len(c.Command) > 0 {
		entrypoint, cmd = c.Command, nil
	}
	if len(c.Args) > 0 {
		cmd = c.Args
	}
	return append(slices.Clone(entrypoint), cmd...)
}
