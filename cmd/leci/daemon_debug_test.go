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
	if err := writeDumps(filepath.Join(filepath.Dir(path), "goroutines.txt"), path); err != nil {
		t.Fatal(err)
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
	if fi, err := os.Stat(filepath.Dir(path)); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("debug directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
}
