// Package testutil holds what leci's privileged tests share: requirement
// checks that skip on a developer's machine but fail in CI, where a missing
// requirement is a broken setup and not a reason to pass, and scratch
// directories that are cleaned even when a test leaves mounts in them; and
// self-signed certificates for the TLS tests.
package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// inCI tells whether the tests run in CI, where nothing may be skipped.
func inCI() bool {
	return os.Getenv("CI") == "true"
}

// skipOrFail skips the test, or fails it in CI.
func skipOrFail(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf("CI=true: "+format, args...)
	}
	t.Skipf(format, args...)
}

// RequireRoot skips the test unless it runs as root; with CI=true it fails
// instead.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		skipOrFail(t, "test needs root")
	}
}

// RequireBinary skips the test unless name is found in PATH (or, for a path,
// exists); with CI=true it fails instead. It returns the binary's path.
func RequireBinary(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		skipOrFail(t, "test needs %s: %v (hack/install-deps.sh installs it)", name, err)
	}
	return p
}
