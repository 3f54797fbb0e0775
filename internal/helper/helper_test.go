package helper

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// install is Install of prog, given as a file.
func install(dir string, prog []byte, sum string) (string, error) {
	return Install(dir, fstest.MapFS{"prog": {Data: prog, Mode: 0o755}}, "prog", sum)
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// checkInstalled wants path to be dir/leci-helper-<hash prefix of prog>,
// a 0755 file holding prog, and dir to hold nothing else but others.
func checkInstalled(t *testing.T, dir, path string, prog []byte, others ...string) {
	t.Helper()
	sum := sha256.Sum256(prog)
	if want := filepath.Join(dir, "leci-helper-"+hex.EncodeToString(sum[:])[:16]); path != want {
		t.Fatalf("installed at %s, want %s", path, want)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o755 {
		t.Errorf("mode %v, want 0755", fi.Mode())
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, prog) {
		t.Errorf("%s differs from the program (%d bytes, want %d)", path, len(got), len(prog))
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := append([]string{filepath.Base(path)}, others...); len(names) != len(want) {
		t.Errorf("%s holds %q, want %q (no temporary file left)", dir, names, want)
	}
}

func TestInstallWritesOnceAndReuses(t *testing.T) {
	// The directory is made as needed, and the umask narrows nothing.
	dir := filepath.Join(t.TempDir(), "bin")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	// Larger than the pieces the reuse check compares.
	prog := bytes.Repeat([]byte("#!/bin/sh\necho v1\n"), 200<<10/18)

	path, err := install(dir, prog, "")
	if err != nil {
		t.Fatal(err)
	}
	checkInstalled(t, dir, path, prog)
	ino := inode(t, path)

	again, err := install(dir, prog, "")
	if err != nil {
		t.Fatal(err)
	}
	if again != path || inode(t, again) != ino {
		t.Errorf("second install gave %s (inode changed: %v), want %s reused", again, inode(t, again) != ino, path)
	}
	checkInstalled(t, dir, path, prog)
}

// The build's SHA-256 names the file; anything that is not a SHA-256 is
// ignored and the program hashed instead.
func TestInstallTakesTheBuildsSum(t *testing.T) {
	dir := t.TempDir()
	prog := []byte("v1")
	h := sha256.Sum256(prog)
	for _, sum := range []string{hex.EncodeToString(h[:]), "", "v1", "abcd"} {
		path, err := install(dir, prog, sum)
		if err != nil {
			t.Fatal(err)
		}
		checkInstalled(t, dir, path, prog)
	}
	other := strings.Repeat("ab", sha256.Size)
	path, err := install(dir, prog, other)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "leci-helper-"+other[:16]); path != want {
		t.Errorf("installed at %s, want %s, named by the sum given", path, want)
	}
}

func TestInstallReplacesWrongContent(t *testing.T) {
	prog := bytes.Repeat([]byte("#!/bin/sh\necho v1\n"), 200<<10/18)
	for name, spoil := range map[string]func(path string) error{
		"same size, other bytes": func(p string) error { return os.WriteFile(p, bytes.ToUpper(prog), 0o755) },
		"one byte changed past the first piece": func(p string) error {
			b := bytes.Clone(prog)
			b[150000] ^= 1
			return os.WriteFile(p, b, 0o755)
		},
		"cut short":      func(p string) error { return os.Truncate(p, 4) },
		"not executable": func(p string) error { return os.Chmod(p, 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path, err := install(dir, prog, "")
			if err != nil {
				t.Fatal(err)
			}
			if err := spoil(path); err != nil {
				t.Fatal(err)
			}
			again, err := install(dir, prog, "")
			if err != nil {
				t.Fatal(err)
			}
			checkInstalled(t, dir, again, prog)
		})
	}
}

func TestInstallKeepsOtherVersions(t *testing.T) {
	dir := t.TempDir()
	v1, err := install(dir, []byte("v1"), "")
	if err != nil {
		t.Fatal(err)
	}
	v2, err := install(dir, []byte("v2"), "")
	if err != nil {
		t.Fatal(err)
	}
	if v1 == v2 {
		t.Fatalf("two programs installed at one path %s", v1)
	}
	checkInstalled(t, dir, v2, []byte("v2"), filepath.Base(v1))
	checkInstalled(t, dir, v1, []byte("v1"), filepath.Base(v2))
}

func TestInstallFailsOnUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := install(filepath.Join(file, "bin"), []byte("v1"), "")
	if err == nil || !strings.Contains(err.Error(), "install leci-helper") {
		t.Fatalf("install below a file: %v, want an error", err)
	}
}

// TestPath: with leci-helper embedded (make build, or go test -overlay) it
// is installed; without (a plain go test) the fallback is run instead.
func TestPath(t *testing.T) {
	dir := t.TempDir()
	got, err := Path(dir, "/usr/local/bin/leci")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := fs.ReadFile(bin, embedded)
	if err != nil {
		if got != "/usr/local/bin/leci" {
			t.Errorf("Path without an embedded program = %s, want the fallback", got)
		}
		return
	}
	t.Logf("leci-helper embedded, %d bytes", len(prog))
	sum, err := fs.ReadFile(bin, embedded+".sha256")
	if err != nil {
		t.Fatal(err)
	}
	if h := sha256.Sum256(prog); strings.TrimSpace(string(sum)) != hex.EncodeToString(h[:]) {
		t.Errorf("the build's SHA-256 of leci-helper is %q, want %x", sum, h)
	}
	checkInstalled(t, dir, got, prog)
}

// BenchmarkInstallReused is what every leci start pays once leci-helper is
// written out: compare the file with the program (the build hashed it).
func BenchmarkInstallReused(b *testing.B) {
	dir := b.TempDir()
	prog := bytes.Repeat([]byte("leci-helper "), 2<<20/12)
	if _, err := install(dir, prog, ""); err != nil {
		b.Fatal(err)
	}
	h := sha256.Sum256(prog)
	sum := hex.EncodeToString(h[:])
	b.SetBytes(int64(len(prog)))
	for b.Loop() {
		if _, err := install(dir, prog, sum); err != nil {
			b.Fatal(err)
		}
	}
}
