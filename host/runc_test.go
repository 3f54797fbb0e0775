package host

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"leci/internal/atomicfile"
)

func TestJudgeRunc(t *testing.T) {
	for _, c := range []struct {
		out    string
		refuse bool
		warns  []string // substrings, one per warning
	}{
		// Debian 12: 1.1.5 with the CVE-2024-21626 fix backported.
		{out: "runc version 1.1.5+ds1\ncommit: 1.1.5+ds1-1+deb12u1\nspec: 1.0.2-dev\n", warns: []string{"distribution build (+ds1)", "2025 mount races"}},
		{out: "runc version 1.1.7-0ubuntu1~22.04.2\nspec: 1.0.2-dev\n", warns: []string{"distribution build (ubuntu)", "2025 mount races"}},
		{out: "runc version 1.1.11\ncommit: v1.1.11-0-g4bccb38c\n", refuse: true},
		{out: "runc version 1.0.0-rc93\ncommit: 12644e61\n", refuse: true},
		{out: "runc version 1.1.12\ncommit: v1.1.12-0-g51d5e94\n", warns: []string{"2025 mount races"}},
		{out: "runc version 1.2.7\n", warns: []string{"2025 mount races"}},
		{out: "runc version 1.2.8\n"},
		{out: "runc version 1.3.2\n", warns: []string{"2025 mount races"}},
		{out: "runc version 1.3.3\n"},
		{out: "runc version 1.4.0-rc.2\n", warns: []string{"2025 mount races"}},
		{out: "runc version 1.4.0-rc.3\n"},
		{out: "runc version 1.4.0\n"},
		{out: "something else\n", warns: []string{"cannot read runc's version"}},
	} {
		warns, err := judgeRunc(c.out)
		if (err != nil) != c.refuse {
			t.Errorf("%q: error %v, want refused %v", c.out, err, c.refuse)
		}
		if c.refuse {
			continue
		}
		if len(warns) != len(c.warns) {
			t.Errorf("%q: warnings %q, want %d", c.out, warns, len(c.warns))
			continue
		}
		for i, w := range c.warns {
			if !strings.Contains(warns[i], w) {
				t.Errorf("%q: warning %q, want it to say %q", c.out, warns[i], w)
			}
		}
	}
}

// runc --version is asked once per runc binary: later opens of the same
// root read the answer kept there, and a replaced runc is asked again.
func TestRuncVersionKeptUntilRuncChanges(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "runc")
	writeRunc := func(version string) {
		t.Helper()
		script := "#!/bin/sh\necho x >> " + calls + "\necho 'runc version " + version + "'\n"
		if err := atomicfile.Write(fake, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	count := func() int {
		b, _ := os.ReadFile(calls)
		return strings.Count(string(b), "x")
	}
	writeRunc("1.1.12")
	t.Setenv("PATH", dir)
	cache := filepath.Join(dir, "runc-version")
	for range 3 {
		out, err := runcVersionOutput(context.Background(), cache)
		if err != nil || !strings.Contains(out, "runc version 1.1.12") {
			t.Fatalf("output %q, %v", out, err)
		}
	}
	if n := count(); n != 1 {
		t.Errorf("runc ran %d times for three opens, want once", n)
	}
	writeRunc("1.0.0")
	out, err := runcVersionOutput(context.Background(), cache)
	if err != nil || !strings.Contains(out, "runc version 1.0.0") || count() != 2 {
		t.Errorf("after runc was replaced: output %q, %v, %d runs; want the new runc asked", out, err, count())
	}
}
