package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The heap profile a SIGUSR1 writes is pprof's text form, whose statistics
// the soak reads: every class it asks for must be there.
func TestWriteDumpsHeapProfileHasTheRuntimesMemoryStatistics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "debug", "heap.txt")
	goroutines := filepath.Join(filepath.Dir(path), "goroutines.txt")
	if err := writeDumps(goroutines, path); err != nil {
		t.Fatal(err)
	}
	if g, err := os.ReadFile(goroutines); err != nil || !strings.Contains(string(g), "goroutine ") {
		t.Errorf("goroutine dump: %d bytes, %v; want the goroutines' stacks", len(g), err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if !strings.HasPrefix(text, "heap profile: ") {
		t.Errorf("profile starts %q, want pprof's text form", text[:min(len(text), 40)])
	}
	for _, stat := range []string{"HeapInuse", "Stack", "MSpan", "MCache", "BuckHashSys", "GCSys", "OtherSys"} {
		if !strings.Contains(text, "\n# "+stat+" = ") {
			t.Errorf("profile has no %q statistic", stat)
		}
	}
	if fi, err := os.Stat(filepath.Dir(path)); err != nil {
		t.Error(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("debug directory mode %v, want 0700", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 2 {
		t.Errorf("debug directory holds %d entries, want the two dumps and no temporary", len(entries))
	}
}
