package volumes

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"leci/api"
)

func mode(m api.FileMode) *api.FileMode { return &m }

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func permOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestConfigFilesModesNestingAndUmask(t *testing.T) {
	old := syscall.Umask(0o077) // the written modes must not depend on it
	defer syscall.Umask(old)
	dir := t.TempDir()
	binary := "\x00\xff\n\r\x80 bytes"
	cf := &api.ConfigFileVolume{
		DefaultMode: mode(0o640),
		ConfigFileToPath: []api.ConfigFileToPath{
			{Path: "a.conf", Content: b64("hi")},
			{Path: "bin/run.sh", Content: b64("echo"), Mode: mode(0o755)},
			{Path: "deep/er/secret", Content: b64(binary), Mode: mode(0o400)},
		},
	}
	if err := writeConfigFiles(dir, cf); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		"a.conf": 0o640, "bin/run.sh": 0o755, "deep/er/secret": 0o400,
		"bin": 0o755, "deep": 0o755, "deep/er": 0o755,
	} {
		if got := permOf(t, filepath.Join(dir, path)); got != want {
			t.Errorf("%s mode = %o, want %o", path, got, want)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "deep/er/secret")); string(data) != binary {
		t.Errorf("secret = %q, want %q", data, binary)
	}
}

func TestConfigFilesFollowNoSymlink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	if err := os.WriteFile(victim, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(victim, filepath.Join(dir, "file"))
	os.Symlink(outside, filepath.Join(dir, "sub"))
	os.Mkdir(filepath.Join(dir, "in"), 0o755)
	os.Symlink("in", filepath.Join(dir, "inside")) // even a link that stays inside
	for _, p := range []string{"file", "sub/x", "inside/x"} {
		err := writeConfigFiles(dir, &api.ConfigFileVolume{ConfigFileToPath: []api.ConfigFileToPath{{Path: p, Content: b64("evil")}}})
		if err == nil {
			t.Errorf("writing %s through a symbolic link succeeded", p)
		}
	}
	if data, _ := os.ReadFile(victim); string(data) != "host" {
		t.Errorf("host file = %q", data)
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 1 {
		t.Errorf("files made outside: %v", entries)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "in")); len(entries) != 0 {
		t.Errorf("files made through the inner link: %v", entries)
	}
}

func TestSubPathResolvesInsideOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	vol, outside := t.TempDir(), t.TempDir()
	os.Symlink("/", filepath.Join(vol, "to-root"))
	os.Symlink("/etc", filepath.Join(vol, "to-etc"))
	os.Symlink(outside, filepath.Join(vol, "to-outside"))
	os.Symlink("../../../../../../..", filepath.Join(vol, "up"))
	os.MkdirAll(filepath.Join(vol, "real/dir"), 0o755)
	os.Symlink("real", filepath.Join(vol, "rel"))
	root, err := unix.Open(vol, unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(root)
	for _, sub := range []string{"to-root", "to-etc", "to-root/tmp", "to-outside", "to-outside/new", "up", "up/etc"} {
		if err := mkdirAllBeneath(root, sub, 0o777, resolveInVolume); err == nil {
			t.Errorf("made %s", sub)
		}
		fd, err := openBeneath(root, sub, unix.O_PATH, resolveInVolume)
		if err == nil {
			unix.Close(fd)
			t.Errorf("opened %s", sub)
			continue
		}
		if msg := subPathError("v", sub, err).Error(); !strings.Contains(msg, "outside the volume") {
			t.Errorf("%s: message %q does not say it leads outside", sub, msg)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("made outside: %v", entries)
	}
	// Links that stay inside are followed; what is made is 0777.
	if err := mkdirAllBeneath(root, "rel/dir/new/er", 0o777, resolveInVolume); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"real/dir/new", "real/dir/new/er"} {
		if got := permOf(t, filepath.Join(vol, p)); got != 0o777 {
			t.Errorf("%s mode = %o, want 777", p, got)
		}
	}
	fd, err := openBeneath(root, "missing", unix.O_PATH, resolveInVolume)
	if err == nil {
		unix.Close(fd)
	}
	if msg := subPathError("v", "missing", err).Error(); !strings.Contains(msg, "does not exist") {
		t.Errorf("missing sub path: %q", msg)
	}
}

func TestCheck(t *testing.T) {
	root, data, other := t.TempDir(), t.TempDir(), t.TempDir()
	link := filepath.Join(other, "link")
	os.Symlink(root, link)
	m := New(Config{Root: root, HostPathAllow: []string{data, other}, HostPathDeny: []string{filepath.Join(other, "secret")}})
	hp := func(p string) api.Volume {
		return api.Volume{Name: "h", Type: api.VolumeHostPath, HostPathVolume: &api.HostPathVolume{Path: p}}
	}
	cases := []struct {
		path, why string
	}{
		{data, ""},
		{filepath.Join(data, "sub/new"), ""},
		{root, "inside " + root + " (leci's root)"},
		{filepath.Join(root, "groups"), "inside " + root},
		{"/", "contains"},
		{"/var", "contains /var/lib/containerd"},
		{"/run/containerd/containerd.sock", "inside /run/containerd"},
		{"/var/run/docker.sock", "inside"},
		{filepath.Join(other, "secret/x"), "denied by leci's configuration"},
		{"/srv", "outside the allowed host paths"},
		{link, "once its symbolic links are resolved"},
		{filepath.Join(link, "sub"), "once its symbolic links are resolved"},
	}
	for _, c := range cases {
		errs := m.Check([]api.Volume{{Name: "e", Type: api.VolumeEmptyDir}, hp(c.path)})
		if c.why == "" {
			if len(errs) != 0 {
				t.Errorf("%s: %v", c.path, errs)
			}
			continue
		}
		if len(errs) != 1 {
			t.Errorf("%s: %d errors %v, want one", c.path, len(errs), errs)
			continue
		}
		e := errs[0]
		if e.Code != CodeForbiddenHostPath || e.Status != http.StatusForbidden || e.Field != "Volume.2.HostPathVolume.Path" ||
			!strings.Contains(e.Message, c.why) || !errors.Is(e, ErrForbiddenHostPath) {
			t.Errorf("%s: %+v, want Forbidden.HostPath 403 on Volume.2.HostPathVolume.Path saying %q", c.path, e, c.why)
		}
	}
	// With no allow list, every path not denied is allowed.
	if errs := New(Config{Root: root}).Check([]api.Volume{hp("/srv/data"), hp("/var/tmp/x")}); len(errs) != 0 {
		t.Errorf("default rules refused %v", errs)
	}
	errs := New(Config{}).Check([]api.Volume{{Type: api.VolumeDisk}, {Type: api.VolumeFlex}, {Type: api.VolumeNFS}})
	want := []string{"DiskVolume.NotSupport", "FlexVolume.NotSupport"}
	if nfsSupported() != nil {
		want = append(want, "NFSVolume.NotSupport")
	}
	if len(errs) != len(want) {
		t.Fatalf("errors %v, want codes %v", errs, want)
	}
	for i, e := range errs {
		if e.Code != want[i] || e.Status != http.StatusBadRequest || !strings.HasSuffix(e.Field, ".Type") {
			t.Errorf("error %d = %+v, want %s", i, e, want[i])
		}
	}
}

// By default the host's system directories, leci's socket directory and
// whatever contains them are refused; an allow rule lifts the system
// directories it covers, read-only unless it says rw, but never leci's
// own state.
func TestHostPathDefaultDenyAndAllowRules(t *testing.T) {
	root := t.TempDir()
	hp := func(p string) []api.Volume {
		return []api.Volume{{Name: "h", Type: api.VolumeHostPath, HostPathVolume: &api.HostPathVolume{Path: p}}}
	}
	defaults := New(Config{Root: root})
	for _, p := range []string{"/", "/etc", "/etc/shadow", "/proc", "/proc/sys/kernel", "/sys", "/sys/fs/cgroup", "/dev", "/dev/sda", "/root", "/root/.ssh", "/boot", "/run/leci", "/run/leci/leci.sock", "/run"} {
		errs := defaults.Check(hp(p))
		if len(errs) != 1 || !errors.Is(errs[0], ErrForbiddenHostPath) || errs[0].Field != "Volume.1.HostPathVolume.Path" {
			t.Errorf("default rules, %s: %v, want Forbidden.HostPath on Volume.1.HostPathVolume.Path", p, errs)
		}
	}
	if defaults.rules.readOnly("/srv/data") {
		t.Errorf("with no allow rule, /srv/data is read-only; want read-write as in Kubernetes")
	}

	data := t.TempDir()
	m := New(Config{Root: root, HostPathAllow: []string{"/etc", data + ":rw", "/:rw"}})
	for _, c := range []struct {
		path     string
		refused  string
		readOnly bool
	}{
		{path: "/etc/hostname", readOnly: true},
		{path: "/etc", readOnly: true},
		{path: data, readOnly: false},
		{path: "/srv", readOnly: false},
		{path: "/", refused: "contains " + root},
		{path: filepath.Join(root, "groups"), refused: "leci's root"},
		{path: "/run/containerd", refused: "container runtime"},
	} {
		errs := m.Check(hp(c.path))
		switch {
		case c.refused == "" && len(errs) != 0:
			t.Errorf("%s: %v, want it allowed", c.path, errs)
		case c.refused != "" && (len(errs) != 1 || !strings.Contains(errs[0].Message, c.refused)):
			t.Errorf("%s: %v, want it refused: %s", c.path, errs, c.refused)
		case c.refused == "" && m.rules.readOnly(c.path) != c.readOnly:
			t.Errorf("%s: read-only %v, want %v", c.path, !c.readOnly, c.readOnly)
		}
	}
	for rule, want := range map[string]string{"/data:rw": "/data rw", "/data": "/data ro", "/data/:ro": "/data ro", "data": "error", "/data:rx": "error"} {
		p, rw, err := ParseHostPathAllow(rule)
		got := fmt.Sprintf("%s %s", p, map[bool]string{true: "rw", false: "ro"}[rw])
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("ParseHostPathAllow(%q) = %s (%v), want %s", rule, got, err, want)
		}
	}
}

// A host path made on demand is made by handle from the allowed prefix: a
// symbolic link planted below it is not followed, and nothing is made
// where it points.
func TestHostPathCreateFollowsNoLink(t *testing.T) {
	allowed, elsewhere := t.TempDir(), t.TempDir()
	os.Symlink(elsewhere, filepath.Join(allowed, "link"))
	rules := newHostPathRules(Config{Root: t.TempDir(), HostPathAllow: []string{allowed + ":rw"}})
	for _, typ := range []string{"DirectoryOrCreate", "FileOrCreate"} {
		fd, err := openHostPath(rules, &api.HostPathVolume{Path: filepath.Join(allowed, "link", "new"), Type: typ})
		if err == nil {
			unix.Close(fd)
			t.Errorf("%s through a planted link: made", typ)
		}
		if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
			t.Errorf("%s made %d entries where the link points", typ, len(entries))
		}
	}
	fd, err := openHostPath(rules, &api.HostPathVolume{Path: filepath.Join(allowed, "a", "b"), Type: "FileOrCreate"})
	if err != nil {
		t.Fatalf("FileOrCreate below the allowed prefix: %v", err)
	}
	unix.Close(fd)
}

func TestZeroManagerDeniesRootFromLayout(t *testing.T) {
	root := t.TempDir()
	rules := Manager{}.rulesFor(filepath.Join(root, "groups", "eci-x", "volumes"))
	if why := rules.check(filepath.Join(root, "netns")); !strings.Contains(why, "leci's root") {
		t.Errorf("zero Manager allowed leci's root: %q", why)
	}
}

func TestHostPathTypes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o600)
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	denied := t.TempDir()
	rules := newHostPathRules(Config{Root: denied, HostPathAllow: []string{dir + ":rw", "/dev/null"}})
	cases := []struct {
		path, typ, err string
	}{
		{dir, "Directory", ""},
		{dir, "", ""},
		{file, "File", ""},
		{sock, "Socket", ""},
		{"/dev/null", "CharDevice", ""},
		{dir, "File", "is a directory, not a regular file as HostPathVolume.Type File needs"},
		{file, "Directory", "is a regular file, not a directory as HostPathVolume.Type Directory needs"},
		{file, "DirectoryOrCreate", "is a regular file, not a directory"},
		{sock, "BlockDevice", "is a socket, not a block device"},
		{filepath.Join(dir, "missing"), "Directory", "does not exist (HostPathVolume.Type Directory needs it to)"},
		{filepath.Join(dir, "missing"), "File", "does not exist"},
	}
	for _, c := range cases {
		fd, err := openHostPath(rules, &api.HostPathVolume{Path: c.path, Type: c.typ})
		if err == nil {
			unix.Close(fd)
		}
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s as %q: %v", c.path, c.typ, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s as %q: error %v, want %q", c.path, c.typ, err, c.err)
		}
	}
	for p, typ := range map[string]string{"made/dir": "DirectoryOrCreate", "made/file": "FileOrCreate", "untyped": ""} {
		fd, err := openHostPath(rules, &api.HostPathVolume{Path: filepath.Join(dir, p), Type: typ})
		if err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		unix.Close(fd)
		want := os.FileMode(0o755)
		if typ == "FileOrCreate" {
			want = 0o644
		}
		if got := permOf(t, filepath.Join(dir, p)); got != want {
			t.Errorf("%s made %s with mode %o, want %o", typ, p, got, want)
		}
	}
	// A link to a denied place is refused.
	link := filepath.Join(dir, "root")
	os.Symlink(denied, link)
	if fd, err := openHostPath(rules, &api.HostPathVolume{Path: link}); err == nil || !strings.Contains(err.Error(), "not allowed") {
		if err == nil {
			unix.Close(fd)
		}
		t.Errorf("a link into leci's root: %v", err)
	}
}

func TestNFSMountArgs(t *testing.T) {
	n := &api.NFSVolume{Server: "nas.example", Path: "/share/a"}
	a := nfsMountArgs(n, net.ParseIP("192.0.2.7"), "4.2")
	if a.Source != "nas.example:/share/a" || a.FSType != "nfs" || a.Data != "vers=4.2,addr=192.0.2.7" || a.Flags != unix.MS_NOSUID|unix.MS_NODEV {
		t.Errorf("v4.2 args = %+v", a)
	}
	n.ReadOnly = true
	a = nfsMountArgs(n, net.ParseIP("192.0.2.7"), "3")
	if a.Data != "vers=3,addr=192.0.2.7,nolock" || a.Flags != unix.MS_NOSUID|unix.MS_NODEV|unix.MS_RDONLY {
		t.Errorf("v3 read-only args = %+v", a)
	}
	a = nfsMountArgs(&api.NFSVolume{Server: "2001:db8::1", Path: "/x"}, net.ParseIP("2001:db8::1"), "4.1")
	if a.Source != "[2001:db8::1]:/x" || a.Data != "vers=4.1,addr=2001:db8::1" {
		t.Errorf("IPv6 args = %+v", a)
	}
	if !nfsFallback(unix.EPROTONOSUPPORT) || nfsFallback(unix.ETIMEDOUT) || nfsFallback(unix.EACCES) {
		t.Error("wrong fallback rules")
	}
	ctx := context.Background()
	if ip, err := resolveServer(ctx, "10.1.2.3"); err != nil || ip.String() != "10.1.2.3" {
		t.Errorf("resolve IP = %v, %v", ip, err)
	}
	if ip, err := resolveServer(ctx, "localhost"); err != nil || !ip.IsLoopback() {
		t.Errorf("resolve localhost = %v, %v", ip, err)
	}
}

func TestNFSSupportDetection(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(data), 0o644)
		return p
	}
	without := write("fs1", "nodev\ttmpfs\n\text4\n")
	with := write("fs2", "nodev\ttmpfs\nnodev\tnfs\nnodev\tnfs4\n")
	mods := filepath.Join(dir, "modules")
	write("modules/modules.dep", "kernel/fs/nfs/nfs.ko.xz: kernel/net/sunrpc/sunrpc.ko.xz\n")
	none := filepath.Join(dir, "none")
	if nfsSupportIn(without, none, none) {
		t.Error("found nfs where there is none")
	}
	if !nfsSupportIn(with, none, none) || !nfsSupportIn(without, none, mods) {
		t.Error("missed nfs")
	}
	os.MkdirAll(filepath.Join(dir, "sys/nfs"), 0o755)
	if !nfsSupportIn(without, filepath.Join(dir, "sys"), none) {
		t.Error("missed a loaded nfs module")
	}
}

func TestUsage(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"big", "small", "nolimit"} {
		os.Mkdir(filepath.Join(dir, name), 0o777)
	}
	mib := bytes.Repeat([]byte{1}, 1<<20)
	big := filepath.Join(dir, "big", "f")
	os.WriteFile(big, append(mib, mib...), 0o644)
	os.Link(big, filepath.Join(dir, "big", "hardlink")) // counted once
	os.Symlink("/usr", filepath.Join(dir, "big", "usr"))
	os.WriteFile(filepath.Join(dir, "small", "f"), mib[:1000], 0o644)
	os.WriteFile(filepath.Join(dir, "nolimit", "f"), mib, 0o644)
	ed := func(name, limit, medium string) api.Volume {
		return api.Volume{Name: name, Type: api.VolumeEmptyDir, EmptyDirVolume: &api.EmptyDirVolume{SizeLimit: limit, Medium: medium}}
	}
	vols := []api.Volume{ed("big", "1Mi", ""), ed("small", "1Mi", ""), ed("nolimit", "", ""), ed("mem", "1Mi", "memory")}
	got := Manager{}.Usage(dir, vols)
	if len(got) != 1 || got[0].Volume != "big" || got[0].Limit != 1<<20 || got[0].Used < 2<<20 || got[0].Used > 3<<20 {
		t.Fatalf("Usage = %+v, want big over 1 MiB with about 2 MiB used", got)
	}
	if s := got[0].String(); !strings.Contains(s, "EmptyDir volume big uses 0.00") || !strings.Contains(s, "SizeLimit of 0.001 GiB") {
		t.Errorf("String = %q", s)
	}
}

func TestParsePropagation(t *testing.T) {
	table := "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n" +
		"43 27 254:0 /run/netns /run/netns rw,relatime shared:1 - ext4 /dev/vda rw\n" +
		"50 27 0:50 / /a\\040b rw master:3 - tmpfs tmpfs rw\n" +
		"51 27 0:51 / /c rw shared:4 master:3 - tmpfs tmpfs rw\n"
	for id, want := range map[uint64]struct {
		point         string
		shared, slave bool
	}{27: {"/", false, false}, 43: {"/run/netns", true, false}, 50: {"/a b", false, true}, 51: {"/c", true, true}} {
		point, shared, slave, err := parsePropagation(strings.NewReader(table), id)
		if err != nil || point != want.point || shared != want.shared || slave != want.slave {
			t.Errorf("mount %d: %q shared %v slave %v %v; want %+v", id, point, shared, slave, err, want)
		}
	}
	if _, _, _, err := parsePropagation(strings.NewReader(table), 99); err == nil {
		t.Error("found a mount that is not there")
	}
}

func TestRemoveTreeFollowsNoSymlink(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	victim := filepath.Join(outside, "victim")
	os.WriteFile(victim, []byte("host"), 0o644)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "a/b/c"), 0o755)
	os.WriteFile(filepath.Join(tree, "a/b/c/f"), nil, 0o000)
	os.Chmod(filepath.Join(tree, "a/b"), 0o500)
	os.Symlink(outside, filepath.Join(tree, "a/dirlink"))
	os.Symlink(victim, filepath.Join(tree, "filelink"))
	if os.Geteuid() != 0 {
		os.Chmod(filepath.Join(tree, "a/b"), 0o755)
	}
	if err := RemoveTree(tree); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Errorf("tree left: %v", err)
	}
	if data, err := os.ReadFile(victim); err != nil || string(data) != "host" {
		t.Errorf("host file = %q, %v", data, err)
	}
	if err := RemoveTree(tree); err != nil {
		t.Errorf("second RemoveTree: %v", err)
	}
}
