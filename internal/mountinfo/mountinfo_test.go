package mountinfo

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := "36 35 98:0 / /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n" +
		"37 35 0:31 / /sys/fs/cgroup/memory rw shared:9 - cgroup cgroup rw,memory\n" +
		"garbage\n"
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d mounts, want 2: %+v", len(got), got)
	}
	if got[0].Point != "/mnt/a b" || got[0].FSType != "ext3" || got[0].Source != "/dev/root" {
		t.Errorf("first = %+v", got[0])
	}
	if got[1].FSType != "cgroup" || got[1].SuperOptions != "rw,memory" {
		t.Errorf("second = %+v", got[1])
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`a\040b`: "a b", `a\134b`: `a\b`, `plain`: "plain", `a\09`: `a\09`} {
		if got := Unescape(in); got != want {
			t.Errorf("Unescape(%q) = %q, want %q", in, got, want)
		}
	}
}
