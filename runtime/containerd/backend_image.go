package containerd

import (
	"context"
	"fmt"

	"leci/internal/pullprogress"
	"leci/pod"
)

// EnsureImage makes ref present per policy (pod.EnsureImage). Concurrent
// pulls of one ref share one fetch (Conn.Pull). Errors wrap
// pod.ErrImageNeverPull or pod.ErrImagePull.
func (b *Backend) EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error {
	return pod.EnsureImage(ctx, ref, policy, b.conn.Exists, func(ctx context.Context, ref string) error {
		return b.pull(ctx, ref, auth)
	})
}

func (b *Backend) pull(ctx context.Context, ref string, auth pod.ImageAuth) error {
	opts := pullOptions(auth)
	opts.Registries = b.opts.Registries
	opts.Progress = pullprogress.SinkFrom(ctx, b.opts.PullProgress)
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
