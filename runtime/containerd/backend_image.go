package containerd

import (
	"context"
	"fmt"

	"github.com/containerd/errdefs"

	"leci/pod"
)

// EnsureImage makes ref present per policy ("" is IfNotPresent). Concurrent
// pulls of one ref share one fetch (Conn.Pull). Errors wrap
// pod.ErrImageNeverPull or pod.ErrImagePull.
func (b *Backend) EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error {
	switch policy {
	case pod.PullAlways:
		return b.pull(ctx, ref, auth)
	case pod.PullIfNotPresent, "", pod.PullNever:
	default:
		return fmt.Errorf("image %s: pull policy %q: %w", ref, policy, errdefs.ErrInvalidArgument)
	}
	ok, err := b.conn.Exists(ctx, ref)
	if err != nil {
		return fmt.Errorf("%w: %w", pod.ErrImagePull, err)
	}
	switch {
	case ok:
		return nil
	case policy == pod.PullNever:
		return fmt.Errorf("image %s: %w", ref, pod.ErrImageNeverPull)
	default:
		return b.pull(ctx, ref, auth)
	}
}

func (b *Backend) pull(ctx context.Context, ref string, auth pod.ImageAuth) error {
	opts := pullOptions(auth)
	opts.Registries = b.opts.Registries
	opts.Progress = b.opts.PullProgress
	if _, err := b.conn.Pull(ctx, ref, opts); err != nil {
		return fmt.Errorf("%w: %w", pod.ErrImagePull, err)
	}
	return nil
}

// pullOptions maps the engine's neutral auth onto the Conn's.
func pullOptions(auth pod.ImageAuth) PullOptions {
	opts := PullOptions{PlainHTTP: auth.PlainHTTP, Insecure: auth.Insecure}
	for _, c := range auth.Credentials {
		opts.Credentials = append(opts.Credentials, Credential{Server: c.Server, UserName: c.UserName, Password: c.Password})
	}
	return opts
}
