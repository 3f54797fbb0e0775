package containerd

import (
	"os"
	"os/exec"
	"testing"
)

func TestShimArgs(t *testing.T) {
	for _, tc := range []struct {
		name, cmdline   string
		ns, id, address string
		ok              bool
	}{
		{
			name:    "a runc shim as containerd 1.6 starts it",
			cmdline: "/usr/bin/containerd-shim-runc-v2\x00-namespace\x00it-b217b\x00-id\x00eci-a-init-1\x00-address\x00/tmp/ctrd/containerd.sock\x00",
			ns:      "it-b217b", id: "eci-a-init-1", address: "/tmp/ctrd/containerd.sock", ok: true,
		},
		{
			name:    "with -debug",
			cmdline: "containerd-shim-runc-v2\x00-namespace\x00default\x00-id\x00x\x00-address\x00/run/containerd/containerd.sock\x00-debug\x00",
			ns:      "default", id: "x", address: "/run/containerd/containerd.sock", ok: true,
		},
		{
			name:    "its start command, which exits by itself",
			cmdline: "/usr/bin/containerd-shim-runc-v2\x00-namespace\x00default\x00-address\x00/run/containerd/containerd.sock\x00-publish-binary\x00/usr/bin/containerd\x00-id\x00x\x00start\x00",
		},
		{
			name:    "its delete command",
			cmdline: "/usr/bin/containerd-shim-runc-v2\x00-namespace\x00default\x00-address\x00/a.sock\x00-id\x00x\x00-bundle\x00/b\x00delete\x00",
		},
		{
			name:    "containerd itself",
			cmdline: "containerd\x00--config\x00/tmp/ctrd/config.toml\x00",
		},
		{
			name:    "a program that names a shim in its arguments",
			cmdline: "grep\x00containerd-shim-runc-v2\x00-namespace\x00default\x00-id\x00x\x00-address\x00/a.sock\x00",
		},
		{
			name:    "a shim whose -address has no value",
			cmdline: "containerd-shim-runc-v2\x00-namespace\x00default\x00-id\x00x\x00-address\x00",
		},
		{name: "a kernel thread", cmdline: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns, id, address, ok := shimArgs([]byte(tc.cmdline))
			if ns != tc.ns || id != tc.id || address != tc.address || ok != tc.ok {
				t.Errorf("shimArgs = %q, %q, %q, %v; want %q, %q, %q, %v", ns, id, address, ok, tc.ns, tc.id, tc.address, tc.ok)
			}
		})
	}
}

func TestSameAddress(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"/run/containerd/containerd.sock", "/run/containerd/containerd.sock", true},
		{"unix:///run/containerd/containerd.sock", "/run/containerd/containerd.sock", true},
		{"/run/containerd//containerd.sock", "/run/containerd/containerd.sock", true},
		{"/tmp/a/containerd.sock", "/tmp/b/containerd.sock", false},
		{"/run/containerd/containerd.sock", "/run/containerd/containerd.sock.ttrpc", false},
	} {
		if got := sameAddress(tc.a, tc.b); got != tc.want {
			t.Errorf("sameAddress(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

// Lines as the kernel writes them: a listening shim socket, a connection
// accepted on it (the same path, not listening), an abstract listening
// socket, an unbound one, and a path with a space.
const netUnix = `Num       RefCount Protocol Flags    Type St Inode Path
00000000a4485137: 00000002 00000000 00010000 0001 01 18682703 /run/containerd/s/2f31d4a75f63bb6228d7604ea3bcb692ef042bbeb197d8092c34676e76313500
00000000b1111111: 00000003 00000000 00000000 0001 03 18682799 /run/containerd/s/2f31d4a75f63bb6228d7604ea3bcb692ef042bbeb197d8092c34676e76313500
00000000c2222222: 00000002 00000000 00010000 0001 01 17000001 @/containerd-shim/abstract.sock@
00000000d3333333: 00000002 00000000 00000000 0002 01 17000002
00000000e4444444: 00000002 00000000 00010000 0001 01 17000003 /tmp/a dir/x.sock
`

func TestParseNetUnix(t *testing.T) {
	got := parseNetUnix([]byte(netUnix))
	want := map[uint64]string{
		18682703: "/run/containerd/s/2f31d4a75f63bb6228d7604ea3bcb692ef042bbeb197d8092c34676e76313500",
		17000003: "/tmp/a dir/x.sock",
	}
	if len(got) != len(want) {
		t.Fatalf("parseNetUnix = %v, want %v", got, want)
	}
	for inode, path := range want {
		if got[inode] != path {
			t.Errorf("inode %d: %q, want %q", inode, got[inode], path)
		}
	}
}

func TestSocketInode(t *testing.T) {
	for _, tc := range []struct {
		link  string
		inode uint64
		ok    bool
	}{
		{"socket:[18618410]", 18618410, true},
		{"pipe:[18618410]", 0, false},
		{"/dev/null", 0, false},
		{"socket:[18618410", 0, false},
		{"socket:[x]", 0, false},
	} {
		inode, ok := socketInode(tc.link)
		if inode != tc.inode || ok != tc.ok {
			t.Errorf("socketInode(%q) = %d, %v; want %d, %v", tc.link, inode, ok, tc.inode, tc.ok)
		}
	}
}

// A shim whose first task's bundle has been removed still works in it;
// cwdRemoved tells it from one whose bundle is there.
func TestCwdRemoved(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("the test needs sleep: %v", err)
	}
	dir := t.TempDir() + "/bundle"
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sleep, "600")
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if cwdRemoved(cmd.Process.Pid) {
		t.Error("cwdRemoved = true while the directory is there")
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if !cwdRemoved(cmd.Process.Pid) {
		t.Error("cwdRemoved = false once the directory is removed")
	}
	// Made again at the same path, it is another directory.
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if !cwdRemoved(cmd.Process.Pid) {
		t.Error("cwdRemoved = false once a new directory has the path")
	}
}
