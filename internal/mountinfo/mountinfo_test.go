package mountinfo

import (
	"fmt"
	"slices"
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

func TestUnder(t *testing.T) {
	in := "36 35 98:0 / /run/leci/g1 rw - tmpfs tmpfs rw\n" +
		"37 36 98:0 / /run/leci/g1/vol\\040a rw - tmpfs tmpfs rw\n" +
		"38 36 98:0 /x /run/leci/g1/vol/deeper/still rw - bind /dev/root rw\n" +
		"39 35 98:0 / /run/leci/g10 rw - tmpfs tmpfs rw\n" +
		"40 35 98:0 / /run/other rw - tmpfs tmpfs rw\n" +
		"short line\n"
	got, err := under(strings.NewReader(in), "/run/leci/g1")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/run/leci/g1/vol/deeper/still", "/run/leci/g1/vol a", "/run/leci/g1"}
	if !slices.Equal(got, want) {
		t.Errorf("under = %q, want %q (deepest first, g10 not below g1)", got, want)
	}
}

func BenchmarkUnder(b *testing.B) {
	var sb strings.Builder
	for i := range 2000 {
		fmt.Fprintf(&sb, "%d 35 0:%d / /var/lib/leci/groups/eci-%020d/volumes/v rw,relatime shared:1 - tmpfs tmpfs rw,size=65536k\n", i, i, i)
	}
	table := sb.String()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := under(strings.NewReader(table), "/var/lib/leci/groups/eci-00000000000000000007"); err != nil {
			b.Fatal(err)
		}
	}
}
