package containerd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"

	"leci/pod"
)

// userOpts sets who the process runs as, in this order:
//
//  1. the uid: RunAsUser, else the image's USER (a name or uid, with an
//     optional group, resolved through the image's /etc/passwd and
//     /etc/group), else root; the primary gid is RunAsGroup when both are
//     given, else the user's in /etc/passwd (0 when it has none);
//  2. RunAsGroup alone replaces the primary gid of the user found in 1;
//  3. supplementary groups: those /etc/group lists the final user in;
//  4. RunAsNonRoot: the final uid must not be 0.
//
// Failures are configuration errors (pod.ErrCreateConfig): a user the
// image does not know, an id out of range, root where non-root is required.
func userOpts(imageUser string, u pod.User) []oci.SpecOpts {
	var opts []oci.SpecOpts
	switch {
	case u.UID != nil && u.GID != nil:
		opts = append(opts, idOpt(*u.UID, *u.GID, oci.WithUIDGID))
	case u.UID != nil:
		opts = append(opts, idOpt(*u.UID, 0, func(uid, _ uint32) oci.SpecOpts { return oci.WithUserID(uid) }))
	case imageUser != "":
		opts = append(opts, oci.WithUser(imageUser))
	default:
		opts = append(opts, oci.WithUserID(0))
	}
	if u.UID == nil && u.GID != nil {
		opts = append(opts, idOpt(0, *u.GID, func(_, gid uint32) oci.SpecOpts { return withPrimaryGID(gid) }))
	}
	opts = append(opts, withImageGroups)
	if u.NonRoot {
		opts = append(opts, withNonRoot)
	}
	// One wrapper, so that whatever resolving fails with is a config error.
	return []oci.SpecOpts{asCreateConfig("user", oci.Compose(opts...))}
}

// idOpt checks uid and gid against runc's range before building the option.
func idOpt(uid, gid int64, mk func(uid, gid uint32) oci.SpecOpts) oci.SpecOpts {
	if uid < 0 || uid > math.MaxInt32 || gid < 0 || gid > math.MaxInt32 {
		return func(context.Context, oci.Client, *containers.Container, *oci.Spec) error {
			return fmt.Errorf("uid %d or gid %d out of range", uid, gid)
		}
	}
	return mk(uint32(uid), uint32(gid))
}

func withPrimaryGID(gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process != nil {
			s.Process.User.GID = gid
		}
		return nil
	}
}

// withImageGroups sets the supplementary groups of the uid chosen by the
// options before it, which oci.WithAdditionalGIDs cannot know when built.
func withImageGroups(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
	if s.Process == nil {
		return nil
	}
	uid := strconv.FormatUint(uint64(s.Process.User.UID), 10)
	return oci.WithAdditionalGIDs(uid)(ctx, client, c, s)
}

func withNonRoot(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	if s.Process == nil || s.Process.User.UID == 0 {
		return fmt.Errorf("%w: RunAsNonRoot is set and the container would run as uid 0", pod.ErrCreateConfig)
	}
	return nil
}

// asCreateConfig wraps opt's error in pod.ErrCreateConfig (once).
func asCreateConfig(what string, opt oci.SpecOpts) oci.SpecOpts {
	return func(ctx context.Context, client oci.Client, c *containers.Container, s *oci.Spec) error {
		err := opt(ctx, client, c, s)
		if err == nil || errors.Is(err, pod.ErrCreateConfig) {
			return err
		}
		return fmt.Errorf("%w: %s: %w", pod.ErrCreateConfig, what, err)
	}
}
