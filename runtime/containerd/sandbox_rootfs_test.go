package containerd

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func rootfsBackend(t *testing.T, files map[string]string) *Backend {
	t.Helper()
	return &Backend{
		opts:       BackendOptions{Root: t.TempDir(), SandboxRootfsFiles: files},
		log:        slog.New(slog.DiscardHandler),
		rootfsSeen: map[string]fileStamp{},
	}
}

func writeExec(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func dirInode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return stampOf(fi).ino
}

func TestSandboxRootfs(t *testing.T) {
	src := filepath.Join(t.TempDir(), "leci")
	// 0700: never hard-linked (it must be 0755 in the rootfs), so copied.
	writeExec(t, src, "v1", 0o700)
	b := rootfsBackend(t, map[string]string{"/leci": src})

	dir, err := b.ensureSandboxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"dev", "leci", "proc", "run", "sys"}; !slices.Equal(names, want) {
		t.Errorf("rootfs holds %q, want %q", names, want)
	}
	fi, err := os.Stat(filepath.Join(dir, "leci"))
	if err != nil || fi.Mode().Perm() != 0o755 || readTrim(t, filepath.Join(dir, "leci")) != "v1" {
		t.Fatalf("/leci: %v %v", fi, err)
	}

	// Unchanged: the same directory is kept.
	ino := dirInode(t, dir)
	if _, err := b.ensureSandboxRootfs(); err != nil {
		t.Fatal(err)
	}
	b.rootfsSeen = map[string]fileStamp{} // as a new process would, rehashing
	if _, err := b.ensureSandboxRootfs(); err != nil {
		t.Fatal(err)
	}
	if got := dirInode(t, dir); got != ino {
		t.Error("rootfs rebuilt although nothing changed")
	}

	// The binary changed: rebuilt, swapped, and no leftovers beside it.
	writeExec(t, src, "v2", 0o700)
	if _, err := b.ensureSandboxRootfs(); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(dir, "leci")); got != "v2" {
		t.Errorf("/leci after change = %q, want v2", got)
	}
	if got := dirInode(t, dir); got == ino {
		t.Error("rootfs not rebuilt after the binary changed")
	}
	left, _ := os.ReadDir(b.opts.Root)
	if len(left) != 1 {
		t.Errorf("leci root holds %d entries, want only the rootfs", len(left))
	}

	// A stray file makes it rebuild too.
	ino = dirInode(t, dir)
	writeExec(t, filepath.Join(dir, "stray"), "x", 0o644)
	if _, err := b.ensureSandboxRootfs(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "stray")); !os.IsNotExist(err) {
		t.Error("stray file kept")
	}
	if got := dirInode(t, dir); got == ino {
		t.Error("rootfs not rebuilt after a stray file appeared")
	}
}

func TestSandboxRootfsNested(t *testing.T) {
	src := filepath.Join(t.TempDir(), "bb")
	writeExec(t, src, "bb", 0o755)
	b := rootfsBackend(t, map[string]string{"/bin/busybox": src, "/leci": src})
	dir, err := b.ensureSandboxRootfs()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bin/busybox", "leci"} {
		if got := readTrim(t, filepath.Join(dir, p)); got != "bb" {
			t.Errorf("%s = %q", p, got)
		}
	}
	ino := dirInode(t, dir)
	if _, err := b.ensureSandboxRootfs(); err != nil || dirInode(t, dir) != ino {
		t.Errorf("rebuilt a current nested rootfs (%v)", err)
	}
}

func readTrim(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
