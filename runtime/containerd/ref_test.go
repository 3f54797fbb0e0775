package containerd

import (
	"testing"

	"github.com/containerd/errdefs"
)

func TestNormalizeRef(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for in, want := range map[string]string{
		"busybox":                          "docker.io/library/busybox:latest",
		"busybox:1.36":                     "docker.io/library/busybox:1.36",
		"library/busybox":                  "docker.io/library/busybox:latest",
		"docker.io/busybox":                "docker.io/library/busybox:latest",
		"user/app:v1":                      "docker.io/user/app:v1",
		"127.0.0.1:5000/leci/bb":           "127.0.0.1:5000/leci/bb:latest",
		"localhost/app":                    "localhost/app:latest",
		"registry.example.com/a/b/c:tag":   "registry.example.com/a/b/c:tag",
		"busybox@" + dgst:                  "docker.io/library/busybox@" + dgst,
		"busybox:1.36@" + dgst:             "docker.io/library/busybox@" + dgst,
		"registry.example.com/app@" + dgst: "registry.example.com/app@" + dgst,
	} {
		got, err := NormalizeRef(in)
		if err != nil {
			t.Errorf("NormalizeRef(%q): %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("NormalizeRef(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "Busybox", "a b", "busybox:", "busybox@sha256:abc"} {
		if _, err := NormalizeRef(bad); err == nil {
			t.Errorf("NormalizeRef(%q): want an error", bad)
		} else if !errdefs.IsInvalidArgument(err) {
			t.Errorf("NormalizeRef(%q): %v does not match ErrInvalidArgument", bad, err)
		}
	}
}

func TestOCIRefName(t *testing.T) {
	for in, want := range map[string]string{
		"latest":                      "", // a tag alone names no repository
		"v1.0":                        "",
		"busybox":                     "", // ambiguous: OCI reads it as a tag
		"library/busybox":             "docker.io/library/busybox:latest",
		"leci.test/busybox:latest":    "leci.test/busybox:latest",
		"docker.io/library/busybox:1": "docker.io/library/busybox:1",
		"127.0.0.1:5000/x/y:z":        "127.0.0.1:5000/x/y:z",
		"Bad/Ref:x":                   "",
	} {
		if got := ociRefName(in); got != want {
			t.Errorf("ociRefName(%q) = %q, want %q", in, got, want)
		}
	}
}
