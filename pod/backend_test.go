package pod

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestEnsureImagePolicy(t *testing.T) {
	lookupFailed := errors.New("store unreachable")
	for _, tc := range []struct {
		policy    string
		present   bool
		existsErr error
		wantPull  bool
		wantErr   error // nil: success
	}{
		{policy: PullAlways, present: true, wantPull: true},
		{policy: PullIfNotPresent, present: true},
		{policy: PullIfNotPresent, wantPull: true},
		{policy: "", wantPull: true},
		{policy: "", present: true},
		{policy: PullNever, present: true},
		{policy: PullNever, wantErr: ErrImageNeverPull},
		{policy: PullIfNotPresent, existsErr: lookupFailed, wantErr: ErrImagePull},
	} {
		pulled := false
		exists := func(ctx context.Context, ref string) (bool, error) { return tc.present, tc.existsErr }
		pull := func(ctx context.Context, ref string) error { pulled = true; return nil }
		err := EnsureImage(context.Background(), "busybox", tc.policy, exists, pull)
		if pulled != tc.wantPull {
			t.Errorf("%q present=%v: pulled %v, want %v", tc.policy, tc.present, pulled, tc.wantPull)
		}
		switch {
		case tc.wantErr == nil && err != nil:
			t.Errorf("%q present=%v: %v", tc.policy, tc.present, err)
		case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
			t.Errorf("%q present=%v: err %v, want %v", tc.policy, tc.present, err, tc.wantErr)
		}
	}
	if err := EnsureImage(context.Background(), "busybox", "Sometimes", nil, nil); err == nil {
		t.Error("unknown pull policy accepted")
	}
}

func TestProcessArgs(t *testing.T) {
	ep, cmd := []string{"/entry"}, []string{"default"}
	for _, tc := range []struct {
		command, args, want []string
	}{
		{want: []string{"/entry", "default"}},
		{command: []string{"/bin/sh"}, want: []string{"/bin/sh"}},
		{args: []string{"-v"}, want: []string{"/entry", "-v"}},
		{command: []string{"/bin/sh"}, args: []string{"-c", "true"}, want: []string{"/bin/sh", "-c", "true"}},
	} {
		got := ContainerConfig{Command: tc.command, Args: tc.args}.ProcessArgs(ep, cmd)
		if !slices.Equal(got, tc.want) {
			t.Errorf("command %q args %q: got %q, want %q", tc.command, tc.args, got, tc.want)
		}
	}
}
