//go:build integration

package integration

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/host"
	"leci/internal/testutil"
	"leci/runtime"
)

// volumeDir is where a group's volume lives on the host.
func (hr *harness) volumeDir(id, name string) string {
	return filepath.Join(hr.cfg.Root, "groups", id, "volumes", name)
}

// waitWaiting waits until every named container is Waiting with
// CreateContainerConfigError and a message holding its text, retried at
// least twice, and returns the last status.
func (hr *harness) waitWaiting(id string, want map[string]string) runtime.GroupStatus {
	hr.t.Helper()
	return hr.waitFor(id, 30*time.Second, "containers waiting with config errors", func(st runtime.GroupStatus) bool {
		for _, c := range append(st.InitContainers, st.Containers...) {
			text, ok := want[c.Name]
			if !ok {
				continue
			}
			cur := c.Current
			if cur.State != api.StateWaiting || cur.Reason != runtime.ReasonCreateConfigError || !strings.Contains(cur.Message, text) || c.Backoff < 2 {
				return false
			}
		}
		return true
	})
}

func TestVolumeEmptyDirInitWritesAppsRead(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: vol-emptydir
RestartPolicy: Never
InitContainer:
  - {Name: writer, Image: ` + image + `, Command: [sh, -c, "echo from-init > /data/msg && mkdir /data/sub && echo deep > /data/sub/f"], VolumeMount: [{Name: data, MountPath: /data}]}
Container:
  - {Name: reader, Image: ` + image + `, Command: [sh, -c, "cat /data/msg; stat -c %a /data"], VolumeMount: [{Name: data, MountPath: /data}]}
  - Name: user
    Image: ` + image + `
    Command: [sh, -c, "cat /shared/sub/f && touch /shared/by-user && echo wrote-as-$(id -u)"]
    SecurityContext: {RunAsUser: 1000}
    VolumeMount: [{Name: data, MountPath: /shared}]
Volume:
  - {Name: data, Type: EmptyDirVolume}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	if got, want := hr.logOf(id, "reader", 1), "from-init\n777\n"; got != want {
		t.Errorf("reader: %q, want %q", got, want)
	}
	if got, want := hr.logOf(id, "user", 1), "deep\nwrote-as-1000\n"; got != want {
		t.Errorf("user: %q, want %q", got, want)
	}
	hr.delete(id)
	if _, err := os.Stat(filepath.Join(hr.cfg.Root, "groups", id)); !os.IsNotExist(err) {
		t.Errorf("group directory left: %v", err)
	}
}

func TestVolumeMemoryEmptyDirIsSizedTmpfs(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: vol-memory
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "grep ' /cache ' /proc/mounts; df -k /cache | tail -n 1; head -c 70000000 /dev/zero > /cache/big 2>/dev/null && echo fits || echo full"]
    VolumeMount: [{Name: cache, MountPath: /cache}]
Volume:
  - {Name: cache, Type: EmptyDirVolume, EmptyDirVolume: {Medium: memory, SizeLimit: "0.0625"}}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	out := hr.logOf(id, "app", 1)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 {
		t.Fatalf("output:\n%s", out)
	}
	if f := strings.Fields(lines[0]); len(f) < 4 || f[0] != "tmpfs" || f[2] != "tmpfs" || !strings.Contains(f[3], "size=65536k") {
		t.Errorf("/proc/mounts line %q, want a tmpfs of size=65536k", lines[0])
	}
	if f := strings.Fields(lines[1]); len(f) < 2 || f[1] != "65536" {
		t.Errorf("df line %q, want 65536 1K-blocks", lines[1])
	}
	if lines[2] != "full" {
		t.Errorf("writing 70 MB into a 64 MiB tmpfs: %s", lines[2])
	}
	hr.delete(id)
}

func TestVolumeConfigFileBytesAndModes(t *testing.T) {
	hr := newHarness(t)
	conf := "listen=8080\n\x00\xff binary\r\n"
	key := "-----KEY-----\n"
	script := "#!/bin/sh\necho start\n"
	enc := base64.StdEncoding.EncodeToString
	id := hr.create(`
ContainerGroupName: vol-configfile
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "cd /etc/app && stat -c '%a %n' app.conf bin bin/start.sh secret secret/deep/key && sha256sum app.conf secret/deep/key bin/start.sh && bin/start.sh && (touch /etc/app/new 2>/dev/null && echo writable || echo read-only)"]
    VolumeMount: [{Name: config, MountPath: /etc/app}]
Volume:
  - Name: config
    Type: ConfigFileVolume
    ConfigFileVolume:
      DefaultMode: 0640
      ConfigFileToPath:
        - {Path: app.conf, Content: ` + enc([]byte(conf)) + `}
        - {Path: bin/start.sh, Content: ` + enc([]byte(script)) + `, Mode: 0755}
        - {Path: secret/deep/key, Content: ` + enc([]byte(key)) + `, Mode: 0600}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	sum := func(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }
	want := "640 app.conf\n755 bin\n755 bin/start.sh\n755 secret\n600 secret/deep/key\n" +
		sum(conf) + "  app.conf\n" + sum(key) + "  secret/deep/key\n" + sum(script) + "  bin/start.sh\n" +
		"start\nread-only\n"
	if got := hr.logOf(id, "app", 1); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
	hr.delete(id)
}

func TestVolumeSubPathsOfOneVolume(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: vol-subpaths
RestartPolicy: Never
InitContainer:
  - {Name: prep, Image: ` + image + `, Command: [sh, -c, "mkdir -p /v/a /v/b/c && echo A > /v/a/id && echo C > /v/b/c/id && echo conf > /v/file"], VolumeMount: [{Name: v, MountPath: /v}]}
Container:
  - {Name: one, Image: ` + image + `, Command: [sh, -c, "cat /data/id; ls /data"], VolumeMount: [{Name: v, MountPath: /data, SubPath: a}]}
  - {Name: two, Image: ` + image + `, Command: [sh, -c, "cat /data/id; echo two > /data/written; cat /one.conf"], VolumeMount: [{Name: v, MountPath: /data, SubPath: b/c}, {Name: v, MountPath: /one.conf, SubPath: file}]}
  - {Name: three, Image: ` + image + `, Command: [sh, -c, "echo made > /data/f; stat -c %a /data"], VolumeMount: [{Name: v, MountPath: /data, SubPath: new/dir}]}
Volume:
  - {Name: v, Type: EmptyDirVolume}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	for name, want := range map[string]string{"one": "A\nid\n", "two": "C\nconf\n", "three": "777\n"} {
		if got := hr.logOf(id, name, 1); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	vol := hr.volumeDir(id, "v")
	for path, want := range map[string]string{"b/c/written": "two\n", "new/dir/f": "made\n"} {
		if data, err := os.ReadFile(filepath.Join(vol, path)); err != nil || string(data) != want {
			t.Errorf("%s in the volume: %q, %v", path, data, err)
		}
	}
	hr.delete(id)
}

func TestVolumeSubPathSymlinkOutRefused(t *testing.T) {
	hr := newHarness(t)
	marker := fmt.Sprintf("leci-escape-%d", time.Now().UnixNano())
	etcBefore, _ := os.ReadDir("/etc")
	id := hr.create(`
ContainerGroupName: vol-escape
RestartPolicy: Never
InitContainer:
  - {Name: plant, Image: ` + image + `, Command: [sh, -c, "ln -s / /v/to-root && ln -s /etc /v/to-etc && mkdir /v/d && ln -s ../../../../../.. /v/d/up"], VolumeMount: [{Name: v, MountPath: /v}]}
Container:
  - {Name: etc, Image: ` + image + `, Command: [cat, /x/passwd], VolumeMount: [{Name: v, MountPath: /x, SubPath: to-etc}]}
  - {Name: root, Image: ` + image + `, Command: [ls, /x], VolumeMount: [{Name: v, MountPath: /x, SubPath: to-root/tmp/` + marker + `}]}
  - {Name: up, Image: ` + image + `, Command: [ls, /x], VolumeMount: [{Name: v, MountPath: /x, SubPath: d/up/etc/` + marker + `}]}
Volume:
  - {Name: v, Type: EmptyDirVolume}
`)
	st := hr.waitWaiting(id, map[string]string{
		"etc":  `sub path "to-etc" of volume v: it leads outside the volume`,
		"root": "it leads outside the volume",
		"up":   "it leads outside the volume",
	})
	if st.Phase != api.GroupPending {
		t.Errorf("phase %s, want Pending (the group waits, it does not fail)", st.Phase)
	}
	for _, p := range []string{"/tmp/" + marker, "/etc/" + marker} {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s was made on the host: %v", p, err)
		}
	}
	if etcAfter, _ := os.ReadDir("/etc"); len(etcAfter) != len(etcBefore) {
		t.Errorf("/etc changed: %d entries, was %d", len(etcAfter), len(etcBefore))
	}
	hr.delete(id)
}

func TestVolumeConfigFileSymlinkSwapSparesHost(t *testing.T) {
	hr := newHarness(t, allowPrivileged)
	host := testutil.TempDir(t, "leci-host")
	victim := filepath.Join(host, "victim")
	os.WriteFile(victim, []byte("host file\n"), 0o644)
	hostDir := filepath.Join(host, "dir")
	os.Mkdir(hostDir, 0o755)
	os.WriteFile(filepath.Join(hostDir, "kept"), []byte("kept\n"), 0o644)
	id := hr.create(`
ContainerGroupName: vol-swap
RestartPolicy: Never
Container:
  - Name: swap
    Image: ` + image + `
    SecurityContextPrivileged: true
    Command: [sh, -c, "mount -o remount,rw,bind /cfg && rm /cfg/a.conf && ln -s ` + victim + ` /cfg/a.conf && rm -r /cfg/sub && ln -s ` + hostDir + ` /cfg/sub && echo swapped"]
    VolumeMount: [{Name: cfg, MountPath: /cfg}]
Volume:
  - Name: cfg
    Type: ConfigFileVolume
    ConfigFileVolume:
      ConfigFileToPath:
        - {Path: a.conf, Content: YQo=}
        - {Path: sub/b.conf, Content: Ygo=}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	if got := hr.logOf(id, "swap", 1); got != "swapped\n" {
		t.Fatalf("swap: %q", got)
	}
	for _, name := range []string{"a.conf", "sub"} {
		if fi, err := os.Lstat(filepath.Join(hr.volumeDir(id, "cfg"), name)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Fatalf("%s is not a symbolic link in the volume on the host: %v", name, err)
		}
	}
	hr.delete(id)
	if data, err := os.ReadFile(victim); err != nil || string(data) != "host file\n" {
		t.Errorf("host file after delete: %q, %v", data, err)
	}
	if data, err := os.ReadFile(filepath.Join(hostDir, "kept")); err != nil || string(data) != "kept\n" {
		t.Errorf("host directory's file after delete: %q, %v", data, err)
	}
}

func TestVolumeHostPathTypeMismatchWaits(t *testing.T) {
	hr := newHarness(t)
	host := testutil.TempDir(t, "leci-host")
	os.Mkdir(filepath.Join(host, "dir"), 0o755)
	os.WriteFile(filepath.Join(host, "file"), []byte("f\n"), 0o644)
	later := filepath.Join(host, "later")
	id := hr.create(`
ContainerGroupName: vol-hostpath
RestartPolicy: Never
Container:
  - {Name: file-is-dir, Image: ` + image + `, Command: [cat, /h], VolumeMount: [{Name: wants-file, MountPath: /h}]}
  - {Name: dir-is-file, Image: ` + image + `, Command: [ls, /h], VolumeMount: [{Name: wants-dir, MountPath: /h}]}
  - {Name: forbidden, Image: ` + image + `, Command: [ls, /h], VolumeMount: [{Name: leci-root, MountPath: /h}]}
  - {Name: late, Image: ` + image + `, Command: [cat, /h/f, /file], VolumeMount: [{Name: missing, MountPath: /h}, {Name: file, MountPath: /file}]}
Volume:
  - {Name: wants-file, Type: HostPathVolume, HostPathVolume: {Path: ` + filepath.Join(host, "dir") + `, Type: File}}
  - {Name: wants-dir, Type: HostPathVolume, HostPathVolume: {Path: ` + filepath.Join(host, "file") + `, Type: Directory}}
  - {Name: leci-root, Type: HostPathVolume, HostPathVolume: {Path: ` + hr.cfg.Root + `, Type: Directory}}
  - {Name: missing, Type: HostPathVolume, HostPathVolume: {Path: ` + later + `, Type: Directory}}
  - {Name: file, Type: HostPathVolume, HostPathVolume: {Path: ` + filepath.Join(host, "file") + `, Type: File}}
`)
	st := hr.waitWaiting(id, map[string]string{
		"file-is-dir": "host path " + filepath.Join(host, "dir") + " is a directory, not a regular file as HostPathVolume.Type File needs",
		"dir-is-file": "is a regular file, not a directory as HostPathVolume.Type Directory needs",
		"forbidden":   "is not allowed: it is inside " + hr.cfg.Root + " (leci's root)",
		"late":        "host path " + later + " does not exist (HostPathVolume.Type Directory needs it to)",
	})
	if st.Phase != api.GroupPending {
		t.Errorf("phase %s, want Pending", st.Phase)
	}
	// Once the path is there, the next attempt starts the container.
	os.Mkdir(later, 0o755)
	os.WriteFile(filepath.Join(later, "f"), []byte("later\n"), 0o644)
	hr.waitFor(id, 30*time.Second, "late done", func(st runtime.GroupStatus) bool {
		return st.Containers[3].Current.State == api.StateTerminated
	})
	if got := hr.logOf(id, "late", 1); got != "later\nf\n" {
		t.Errorf("late: %q", got)
	}
	hr.delete(id)
	if _, err := os.Stat(filepath.Join(later, "f")); err != nil {
		t.Errorf("host file gone after delete: %v", err)
	}
}

func TestVolumeReadOnlyMounts(t *testing.T) {
	hr := newHarness(t)
	host := testutil.TempDir(t, "leci-host")
	id := hr.create(`
ContainerGroupName: vol-readonly
RestartPolicy: Never
InitContainer:
  - {Name: prep, Image: ` + image + `, Command: [sh, -c, "mkdir /e/s && echo x > /e/s/f"], VolumeMount: [{Name: e, MountPath: /e}]}
Container:
  - Name: app
    Image: ` + image + `
    Command:
      - sh
      - -c
      - |
        try() { if touch "$1" 2>/dev/null; then echo "$1 writable"; else echo "$1 read-only"; fi; }
        try /rw/f; try /ro/f; try /rosub/f; try /host/f; try /hostrw/f; try /cfg/f
        grep -E ' /(ro|rosub|host) ' /proc/mounts | cut -d' ' -f2,4 | cut -d, -f1
    VolumeMount:
      - {Name: e, MountPath: /rw}
      - {Name: e, MountPath: /ro, ReadOnly: true}
      - {Name: e, MountPath: /rosub, SubPath: s, ReadOnly: true}
      - {Name: h, MountPath: /host, ReadOnly: true}
      - {Name: h, MountPath: /hostrw}
      - {Name: c, MountPath: /cfg}
Volume:
  - {Name: e, Type: EmptyDirVolume}
  - {Name: h, Type: HostPathVolume, HostPathVolume: {Path: ` + host + `, Type: Directory}}
  - {Name: c, Type: ConfigFileVolume, ConfigFileVolume: {ConfigFileToPath: [{Path: a, Content: YQo=}]}}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	want := "/rw/f writable\n/ro/f read-only\n/rosub/f read-only\n/host/f read-only\n/hostrw/f writable\n/cfg/f read-only\n"
	out := hr.logOf(id, "app", 1)
	if !strings.HasPrefix(out, want) {
		t.Errorf("output:\n%s\nwant it to start with:\n%s", out, want)
	}
	for _, mp := range []string{"/ro ro", "/rosub ro", "/host ro"} {
		if !strings.Contains(out, mp+"\n") {
			t.Errorf("/proc/mounts does not show %q:\n%s", mp, out)
		}
	}
	hr.delete(id)
	if _, err := os.Stat(filepath.Join(host, "f")); err != nil {
		t.Errorf("the writable host path mount did not write to the host: %v", err)
	}
}

func TestVolumePropagation(t *testing.T) {
	hr := newHarness(t, allowPrivileged)
	host := testutil.TempDir(t, "leci-host")
	// The HostPath's mount must be shared for HostToContainer to work.
	if err := unix.Mount(host, host, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", host, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	private := testutil.TempDir(t, "leci-private")
	if err := unix.Mount(private, private, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("", private, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	id := hr.create(`
ContainerGroupName: vol-propagation
RestartPolicy: Never
Container:
  - Name: bidir
    Image: ` + image + `
    SecurityContextPrivileged: true
    Command: [sh, -c, "grep ' /vol ' /proc/self/mountinfo; mkdir /vol/inner && mount -t tmpfs tmpfs /vol/inner && echo hello > /vol/inner/flag"]
    VolumeMount: [{Name: v, MountPath: /vol, MountPropagation: Bidirectional}]
  - Name: slave
    Image: ` + image + `
    Command: [sh, -c, "grep ' /vol ' /proc/self/mountinfo; for i in $(seq 200); do [ -f /vol/inner/flag ] && break; sleep 0.1; done; cat /vol/inner/flag; grep -c ' /vol/inner .* - tmpfs ' /proc/self/mountinfo"]
    VolumeMount: [{Name: v, MountPath: /vol, MountPropagation: HostToContainer}]
  - Name: none
    Image: ` + image + `
    Command: [sh, -c, "grep ' /vol ' /proc/self/mountinfo"]
    VolumeMount: [{Name: v, MountPath: /vol, MountPropagation: None}]
  - Name: host
    Image: ` + image + `
    Command: [sh, -c, "grep ' /h ' /proc/self/mountinfo"]
    VolumeMount: [{Name: h, MountPath: /h, MountPropagation: HostToContainer}]
  - {Name: private, Image: ` + image + `, Command: ["true"], VolumeMount: [{Name: p, MountPath: /p, MountPropagation: HostToContainer}]}
Volume:
  - {Name: v, Type: EmptyDirVolume}
  - {Name: h, Type: HostPathVolume, HostPathVolume: {Path: ` + host + `, Type: Directory}}
  - {Name: p, Type: HostPathVolume, HostPathVolume: {Path: ` + private + `, Type: Directory}}
`)
	hr.waitFor(id, 60*time.Second, "four containers done and private waiting", func(st runtime.GroupStatus) bool {
		for _, c := range st.Containers[:4] {
			if c.Current.State != api.StateTerminated {
				return false
			}
		}
		p := st.Containers[4].Current
		return p.Reason == runtime.ReasonCreateConfigError && strings.Contains(p.Message, "neither a shared nor a slave mount")
	})
	line := func(name string) string { return strings.SplitN(hr.logOf(id, name, 1), "\n", 2)[0] }
	if l := line("bidir"); !strings.Contains(l, " shared:") {
		t.Errorf("Bidirectional: %q has no shared: field", l)
	}
	if l := line("slave"); !strings.Contains(l, " master:") || strings.Contains(l, " shared:") {
		t.Errorf("HostToContainer: %q, want a master: field and no shared:", l)
	}
	if l := line("none"); l == "" || strings.Contains(l, "shared:") || strings.Contains(l, "master:") {
		t.Errorf("None: %q, want neither shared: nor master:", l)
	}
	if l := line("host"); !strings.Contains(l, " master:") {
		t.Errorf("HostToContainer host path: %q has no master: field", l)
	}
	if got := hr.logOf(id, "slave", 1); !strings.HasSuffix(got, "hello\n1\n") {
		t.Errorf("the tmpfs mounted by the Bidirectional container did not reach the HostToContainer one: %q", got)
	}
	// It reached the host too: the volume holds the tmpfs.
	var sfs unix.Statfs_t
	if err := unix.Statfs(filepath.Join(hr.volumeDir(id, "v"), "inner"), &sfs); err != nil || sfs.Type != unix.TMPFS_MAGIC {
		t.Errorf("the tmpfs did not propagate to the host: %x %v", sfs.Type, err)
	}
	hr.delete(id)
	if mounts := mountsUnder(hr.cfg.Root); len(mounts) != 0 {
		t.Errorf("mounts left under the root after delete: %v", mounts)
	}
}

// By default a HostPath of the host's /etc is refused when the request
// comes in (Forbidden.HostPath, naming the field); an allow rule for /etc
// makes it usable, read-only (writes fail with EROFS in the container),
// and a rule that says rw gives a writable mount.
func TestHostPathSystemDirsDeniedUntilAllowed(t *testing.T) {
	request := func(path string) *api.CreateContainerGroupRequest {
		var req api.CreateContainerGroupRequest
		yaml := `
ContainerGroupName: hostpath-etc
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "cat /h/hostname >/dev/null && echo read; if touch /h/leci-probe 2>/tmp/err; then echo written; else cat /tmp/err; fi"]
    VolumeMount: [{Name: h, MountPath: /h}]
Volume:
  - {Name: h, Type: HostPathVolume, HostPathVolume: {Path: ` + path + `, Type: Directory}}
`
		if err := api.Decode([]byte(yaml), api.FormatYAML, &req); err != nil {
			t.Fatal(err)
		}
		if err := req.Normalize(); err != nil {
			t.Fatal(err)
		}
		return &req
	}
	defaults := ownHostConfig(t, "it", "li", 214)
	errs := defaults.Check(request("/etc"))
	if len(errs) != 1 || errs[0].Code != "Forbidden.HostPath" || errs[0].Status != 403 || errs[0].Field != "Volume.1.HostPathVolume.Path" {
		t.Fatalf("HostPath /etc by default: %v, want Forbidden.HostPath (403) on Volume.1.HostPathVolume.Path", errs)
	}

	rwDir := testutil.TempDir(t, "leci-host")
	os.WriteFile(filepath.Join(rwDir, "hostname"), []byte("x\n"), 0o644)
	hr := newHarness(t, func(cfg *host.Config) { cfg.HostPathAllow = []string{"/etc", rwDir + ":rw", "/tmp:rw"} })

	// The runtime's state, wherever it is configured (here under the
	// suite's temporary directory), is never a HostPath.
	var runtimeState string
	switch {
	case hr.h.Conn != nil:
		dirs := hr.h.Conn.StateDirs(context.Background())
		if len(dirs) == 0 {
			t.Fatal("containerd told no state directories")
		}
		runtimeState = dirs[0]
	case hr.h.Docker != nil:
		info, err := hr.h.Docker.Client().Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		runtimeState = info.DockerRootDir
	}
	if errs := hr.h.Volumes.Check(request(runtimeState).Volume); len(errs) != 1 || errs[0].Code != "Forbidden.HostPath" {
		t.Errorf("HostPath %s (the runtime's state): %v, want Forbidden.HostPath", runtimeState, errs)
	}
	for path, want := range map[string]string{"/etc": "read\ntouch: /h/leci-probe: Read-only file system\n", rwDir: "read\nwritten\n"} {
		req := request(path)
		if errs := hr.cfg.Check(req); len(errs) != 0 {
			t.Fatalf("HostPath %s with an allow rule: %v", path, errs)
		}
		id, err := hr.h.Engine.Create(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		hr.waitPhase(id, api.GroupSucceeded)
		if out := hr.logOf(id, "app", 1); out != want {
			t.Errorf("HostPath %s: output %q, want %q", path, out, want)
		}
		hr.delete(id)
	}
	if _, err := os.Stat("/etc/leci-probe"); err == nil {
		os.Remove("/etc/leci-probe")
		t.Errorf("a read-only allow rule let the container write /etc")
	}
}

// A container that leaves a setuid-root program in an EmptyDir gives the
// host's other users nothing: leci's root is theirs to enter no more, and
// every volume is mounted nosuid and nodev, in the container as on the host.
func TestSetuidInVolumeUnreachableFromHost(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: setuid-drop
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + image + `
    Command: [sh, -c, "cp /bin/sh /e/suid && chmod 4755 /e/suid && awk '$5 == \"/e\" {print $6}' /proc/self/mountinfo"]
    VolumeMount: [{Name: e, MountPath: /e}]
Volume:
  - {Name: e, Type: EmptyDirVolume}
`)
	hr.waitPhase(id, api.GroupSucceeded)
	opts := strings.TrimSpace(hr.logOf(id, "app", 1))
	if !slices.Contains(strings.Split(opts, ","), "nosuid") || !slices.Contains(strings.Split(opts, ","), "nodev") {
		t.Errorf("the EmptyDir's mount options in the container are %q, want nosuid and nodev", opts)
	}
	suid := filepath.Join(hr.volumeDir(id, "e"), "suid")
	fi, err := os.Stat(suid)
	if err != nil || fi.Mode()&os.ModeSetuid == 0 {
		t.Fatalf("the container's setuid program on the host: %v %v, want a setuid file (else this test proves nothing)", fi, err)
	}
	for _, dir := range []string{hr.cfg.Root, filepath.Join(hr.cfg.Root, "groups", id)} {
		if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want mode 0700", dir, fi, err)
		}
	}
	// busybox runs the applet its argv[0] names.
	cmd := &exec.Cmd{Path: suid, Args: []string{"id", "-u"}, SysProcAttr: &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}}
	out, err := cmd.CombinedOutput()
	if err == nil || strings.TrimSpace(string(out)) == "0" {
		t.Errorf("uid 65534 ran the container's setuid program from the host: %q, %v; want it unreachable", out, err)
	}
	t.Logf("uid 65534 running %s: %v %s", suid, err, out)
	// Even reached, the host's mount of the volume is nosuid and nodev.
	var st unix.Statfs_t
	if err := unix.Statfs(hr.volumeDir(id, "e"), &st); err != nil || st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("the EmptyDir's mount on the host: flags %#x (%v), want nosuid and nodev", st.Flags, err)
	}
	hr.delete(id)
}
