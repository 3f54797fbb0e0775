package containerd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/opencontainers/runtime-spec/specs-go"

	"leci/pod"
)

// fakeRootfs is an image root with the users of leci's test image, and app
// also in the "wheel" group, for the options that read /etc/passwd and
// /etc/group (from the spec's root path, there being no snapshotter).
func fakeRootfs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":  "root:x:0:\nwheel:x:10:app\napp:x:1000:\nnogroup:x:65534:\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// baseSandbox and baseConfig are the fixture every case mutates.
func baseSandbox() pod.Sandbox {
	return pod.Sandbox{
		GroupID:      "eci-1",
		PID:          42,
		NetNSPath:    "/run/netns/eci-1",
		IPCPath:      "/proc/42/ns/ipc",
		UTSPath:      "/proc/42/ns/uts",
		CgroupParent: "/leci/eci-1",
	}
}

func baseConfig() pod.ContainerConfig {
	return pod.ContainerConfig{ID: "eci-1-web-0", GroupID: "eci-1", Name: "web", Kind: pod.KindApp, Image: "busybox"}
}

func baseImage() ocispec.ImageConfig {
	return ocispec.ImageConfig{Env: []string{"PATH=/bin"}, Cmd: []string{"sh"}}
}

// generate applies containerSpecOpts to containerd's default spec with no
// client, as CRI's spec tests do.
func generate(t *testing.T, img ocispec.ImageConfig, sb pod.Sandbox, cfg pod.ContainerConfig) (*oci.Spec, error) {
	t.Helper()
	ctx := namespaces.WithNamespace(context.Background(), "test")
	opts := append([]oci.SpecOpts{oci.WithRootFSPath(fakeRootfs(t))}, containerSpecOpts(img, sb, cfg)...)
	return oci.GenerateSpec(ctx, nil, &containers.Container{ID: cfg.ID}, opts...)
}

func mustGenerate(t *testing.T, img ocispec.ImageConfig, sb pod.Sandbox, cfg pod.ContainerConfig) *oci.Spec {
	t.Helper()
	s, err := generate(t, img, sb, cfg)
	if err != nil {
		t.Fatalf("generate spec: %v", err)
	}
	return s
}

func TestSpecArgs(t *testing.T) {
	ep, cmd := []string{"/entry", "-x"}, []string{"serve", "--port=80"}
	command, args := []string{"/bin/app"}, []string{"run", "fast"}
	tests := []struct {
		name          string
		ep, cmd       []string
		command, args []string
		want          []string
	}{
		{"image only", ep, cmd, nil, nil, []string{"/entry", "-x", "serve", "--port=80"}},
		{"image cmd only", nil, cmd, nil, nil, []string{"serve", "--port=80"}},
		{"args replace cmd", ep, cmd, nil, args, []string{"/entry", "-x", "run", "fast"}},
		{"args without entrypoint", nil, cmd, nil, args, []string{"run", "fast"}},
		{"command drops cmd", ep, cmd, command, nil, []string{"/bin/app"}},
		{"command and args", ep, cmd, command, args, []string{"/bin/app", "run", "fast"}},
		{"command on empty image", nil, nil, command, args, []string{"/bin/app", "run", "fast"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := ocispec.ImageConfig{Entrypoint: tt.ep, Cmd: tt.cmd}
			cfg := baseConfig()
			cfg.Command, cfg.Args = tt.command, tt.args
			s := mustGenerate(t, img, baseSandbox(), cfg)
			if !slices.Equal(s.Process.Args, tt.want) {
				t.Errorf("args = %q, want %q", s.Process.Args, tt.want)
			}
		})
	}
}

func TestSpecNoCommand(t *testing.T) {
	_, err := generate(t, ocispec.ImageConfig{}, baseSandbox(), baseConfig())
	if !errors.Is(err, pod.ErrCreateConfig) {
		t.Fatalf("err = %v, want ErrCreateConfig", err)
	}
}

func TestSpecEnv(t *testing.T) {
	tests := []struct {
		name     string
		imageEnv []string
		env      []string
		tty      bool
		want     []string
	}{
		{"image", []string{"PATH=/x", "A=1"}, nil, false, []string{"PATH=/x", "A=1"}},
		{"override and add", []string{"PATH=/x", "A=1"}, []string{"A=2", "B=3"}, false, []string{"PATH=/x", "A=2", "B=3"}},
		{"default PATH", nil, []string{"B=3"}, false, []string{defaultEnv[0], "B=3"}},
		{"tty TERM", []string{"PATH=/x"}, nil, true, []string{"PATH=/x", "TERM=xterm"}},
		{"tty TERM overridden", []string{"PATH=/x", "TERM=dumb"}, []string{"TERM=vt100"}, true, []string{"PATH=/x", "TERM=vt100"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := baseImage()
			img.Env = tt.imageEnv
			cfg := baseConfig()
			cfg.Env, cfg.TTY = tt.env, tt.tty
			s := mustGenerate(t, img, baseSandbox(), cfg)
			if !slices.Equal(s.Process.Env, tt.want) {
				t.Errorf("env = %q, want %q", s.Process.Env, tt.want)
			}
			if s.Process.Terminal != tt.tty {
				t.Errorf("terminal = %v, want %v", s.Process.Terminal, tt.tty)
			}
		})
	}
}

func TestSpecWorkingDir(t *testing.T) {
	for _, tt := range []struct{ image, cfg, want string }{
		{"", "", "/"},
		{"/srv", "", "/srv"},
		{"/srv", "/work", "/work"},
	} {
		img := baseImage()
		img.WorkingDir = tt.image
		cfg := baseConfig()
		cfg.WorkingDir = tt.cfg
		if got := mustGenerate(t, img, baseSandbox(), cfg).Process.Cwd; got != tt.want {
			t.Errorf("image %q, cfg %q: cwd = %q, want %q", tt.image, tt.cfg, got, tt.want)
		}
	}
}

func TestSpecUser(t *testing.T) {
	id := func(v int64) *int64 { return &v }
	tests := []struct {
		name      string
		imageUser string
		user      pod.User
		wantUID   uint32
		wantGID   uint32
		wantGIDs  []uint32
		wantErr   bool
	}{
		{name: "root by default", wantUID: 0, wantGID: 0, wantGIDs: []uint32{0}},
		{name: "image user by name", imageUser: "app", wantUID: 1000, wantGID: 1000, wantGIDs: []uint32{10, 1000}},
		{name: "image uid:gid", imageUser: "1000:65534", wantUID: 1000, wantGID: 65534, wantGIDs: []uint32{10, 65534}},
		{name: "RunAsUser known", user: pod.User{UID: id(1000)}, wantUID: 1000, wantGID: 1000, wantGIDs: []uint32{10, 1000}},
		{name: "RunAsUser unknown", user: pod.User{UID: id(4242)}, wantUID: 4242, wantGID: 0, wantGIDs: []uint32{0}},
		{name: "RunAsUser and group", imageUser: "nobody", user: pod.User{UID: id(1000), GID: id(5)}, wantUID: 1000, wantGID: 5, wantGIDs: []uint32{5, 10}},
		{name: "RunAsGroup alone", imageUser: "app", user: pod.User{GID: id(7)}, wantUID: 1000, wantGID: 7, wantGIDs: []uint32{7, 10}},
		{name: "non-root image user", imageUser: "app", user: pod.User{NonRoot: true}, wantUID: 1000, wantGID: 1000, wantGIDs: []uint32{10, 1000}},
		{name: "non-root refuses root image", user: pod.User{NonRoot: true}, wantErr: true},
		{name: "non-root refuses named root", imageUser: "root", user: pod.User{NonRoot: true}, wantErr: true},
		{name: "non-root refuses RunAsUser 0", imageUser: "app", user: pod.User{UID: id(0), NonRoot: true}, wantErr: true},
		{name: "unknown image user", imageUser: "ghost", wantErr: true},
		{name: "uid out of range", user: pod.User{UID: id(-1)}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img := baseImage()
			img.User = tt.imageUser
			cfg := baseConfig()
			cfg.User = tt.user
			s, err := generate(t, img, baseSandbox(), cfg)
			if tt.wantErr {
				if !errors.Is(err, pod.ErrCreateConfig) {
					t.Fatalf("err = %v, want ErrCreateConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			u := s.Process.User
			gids := slices.Sorted(slices.Values(u.AdditionalGids))
			if u.UID != tt.wantUID || u.GID != tt.wantGID || !slices.Equal(gids, tt.wantGIDs) {
				t.Errorf("user = %d:%d %v, want %d:%d %v", u.UID, u.GID, gids, tt.wantUID, tt.wantGID, tt.wantGIDs)
			}
		})
	}
}

func TestSpecMounts(t *testing.T) {
	cfg := baseConfig()
	cfg.Mounts = []pod.Mount{
		{Source: "/host/data/sub", Destination: "/data/sub", ReadOnly: true},
		{Source: "/host/data", Destination: "/data/", Propagation: "rshared"},
		{Type: "tmpfs", Destination: "/cache", Options: []string{"size=1m"}},
		{Source: "/host/shm", Destination: "/dev/shm"},
	}
	s := mustGenerate(t, baseImage(), baseSandbox(), cfg)
	byDest := map[string]specs.Mount{}
	var order []string
	for _, m := range s.Mounts {
		if _, dup := byDest[m.Destination]; dup {
			t.Errorf("two mounts at %s", m.Destination)
		}
		byDest[m.Destination] = m
		order = append(order, m.Destination)
	}
	want := map[string]specs.Mount{
		"/data/sub": {Destination: "/data/sub", Type: "bind", Source: "/host/data/sub", Options: []string{"rbind", "ro", "rprivate"}},
		"/data":     {Destination: "/data", Type: "bind", Source: "/host/data", Options: []string{"rbind", "rw", "rshared"}},
		"/cache":    {Destination: "/cache", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "rw", "size=1m"}},
		"/dev/shm":  {Destination: "/dev/shm", Type: "bind", Source: "/host/shm", Options: []string{"rbind", "rw", "rprivate"}},
	}
	for dest, w := range want {
		g := byDest[dest]
		if g.Type != w.Type || g.Source != w.Source || !slices.Equal(g.Options, w.Options) {
			t.Errorf("mount %s = %+v, want %+v", dest, g, w)
		}
	}
	if slices.Index(order, "/data") > slices.Index(order, "/data/sub") {
		t.Errorf("mount order %q: /data must come before /data/sub", order)
	}
	if _, ok := byDest["/proc"]; !ok {
		t.Error("default /proc mount lost")
	}
	if s.Linux.RootfsPropagation != "rshared" {
		t.Errorf("rootfs propagation = %q, want rshared", s.Linux.RootfsPropagation)
	}

	for _, bad := range []pod.Mount{
		{Source: "rel", Destination: "/x"},
		{Source: "/x", Destination: "rel"},
		{Source: "/x", Destination: "/x", Type: "nfs"},
		{Source: "/x", Destination: "/x", Propagation: "sideways"},
	} {
		cfg.Mounts = []pod.Mount{bad}
		if _, err := generate(t, baseImage(), baseSandbox(), cfg); !errors.Is(err, pod.ErrCreateConfig) {
			t.Errorf("mount %+v: err = %v, want ErrCreateConfig", bad, err)
		}
	}
}

func TestSpecNamespaces(t *testing.T) {
	for _, sharePID := range []bool{false, true} {
		sb := baseSandbox()
		if sharePID {
			sb.PIDPath = "/proc/42/ns/pid"
		}
		s := mustGenerate(t, baseImage(), sb, baseConfig())
		want := map[specs.LinuxNamespaceType]string{
			specs.NetworkNamespace: sb.NetNSPath,
			specs.IPCNamespace:     sb.IPCPath,
			specs.UTSNamespace:     sb.UTSPath,
			specs.PIDNamespace:     sb.PIDPath, // "" is a new one
			specs.MountNamespace:   "",
		}
		got := map[specs.LinuxNamespaceType]string{}
		for _, ns := range s.Linux.Namespaces {
			got[ns.Type] = ns.Path
		}
		if len(got) != len(want) {
			t.Errorf("share PID %v: namespaces %v, want %v", sharePID, got, want)
		}
		for typ, p := range want {
			if gp, ok := got[typ]; !ok || gp != p {
				t.Errorf("share PID %v: namespace %s = %q (present %v), want %q", sharePID, typ, gp, ok, p)
			}
		}
		if s.Hostname != "" {
			t.Errorf("hostname = %q, want none (the UTS namespace is the sandbox's)", s.Hostname)
		}
	}
}

func TestSpecCgroupAndLimits(t *testing.T) {
	s := mustGenerate(t, baseImage(), baseSandbox(), baseConfig())
	if s.Linux.CgroupsPath != "/leci/eci-1/eci-1-web-0" {
		t.Errorf("cgroups path = %q", s.Linux.CgroupsPath)
	}
	if s.Process.Rlimits != nil {
		t.Errorf("rlimits = %v, want inherited (none)", s.Process.Rlimits)
	}
}

func TestSpecResources(t *testing.T) {
	cfg := baseConfig()
	cfg.Resources = pod.Resources{CPU: 0.5, MemoryBytes: 64 << 20}
	s := mustGenerate(t, baseImage(), baseSandbox(), cfg)
	cpu, mem := s.Linux.Resources.CPU, s.Linux.Resources.Memory
	if cpu == nil || *cpu.Quota != 50000 || *cpu.Period != 100000 || *cpu.Shares != 512 {
		t.Errorf("cpu = %+v, want quota 50000 period 100000 shares 512", cpu)
	}
	if mem == nil || *mem.Limit != 64<<20 || *mem.Swap != 64<<20 {
		t.Errorf("memory = %+v, want limit = swap = 64 MiB", mem)
	}

	s = mustGenerate(t, baseImage(), baseSandbox(), baseConfig())
	if r := s.Linux.Resources; r.CPU != nil || r.Memory != nil {
		t.Errorf("no limits asked, got cpu %+v memory %+v", r.CPU, r.Memory)
	}

	// The v1 cap applied by CreateContainer.
	cfg.Resources.CPU = 4
	ctx := namespaces.WithNamespace(context.Background(), "test")
	opts := append([]oci.SpecOpts{oci.WithRootFSPath(fakeRootfs(t))}, containerSpecOpts(baseImage(), baseSandbox(), cfg)...)
	opts = append(opts, withCPUQuotaCap(150000))
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: cfg.ID}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if q := *s.Linux.Resources.CPU.Quota; q != 150000 {
		t.Errorf("capped quota = %d, want 150000", q)
	}
}

func TestSpecCapabilities(t *testing.T) {
	cfg := baseConfig()
	cfg.CapAdd = []string{"NET_ADMIN", "cap_sys_time", "NET_RAW"}
	s := mustGenerate(t, baseImage(), baseSandbox(), cfg)
	for _, set := range [][]string{s.Process.Capabilities.Bounding, s.Process.Capabilities.Effective, s.Process.Capabilities.Permitted} {
		for _, c := range []string{"CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_NET_RAW", "CAP_CHOWN"} {
			if !slices.Contains(set, c) {
				t.Errorf("capabilities %v lack %s", set, c)
			}
		}
		if n := len(set); n != len(slices.Compact(slices.Sorted(slices.Values(set)))) {
			t.Errorf("duplicate capabilities in %v", set)
		}
	}
	// NET_RAW only when asked for, as on ECI.
	cfg.CapAdd = nil
	s = mustGenerate(t, baseImage(), baseSandbox(), cfg)
	if slices.Contains(s.Process.Capabilities.Bounding, "CAP_NET_RAW") || !slices.Contains(s.Process.Capabilities.Bounding, "CAP_CHOWN") {
		t.Errorf("default capabilities %v: want CAP_CHOWN and no CAP_NET_RAW", s.Process.Capabilities.Bounding)
	}
	cfg.CapAdd = []string{"FLY"}
	if _, err := generate(t, baseImage(), baseSandbox(), cfg); !errors.Is(err, pod.ErrCreateConfig) {
		t.Errorf("unknown capability: err = %v, want ErrCreateConfig", err)
	}
}

func TestSpecSecurity(t *testing.T) {
	cfg := baseConfig()
	s := mustGenerate(t, baseImage(), baseSandbox(), cfg)
	if s.Linux.Seccomp == nil || len(s.Linux.Seccomp.Syscalls) == 0 {
		t.Error("no seccomp profile on an unprivileged container")
	}
	if !s.Process.NoNewPrivileges {
		t.Error("no-new-privileges not set")
	}
	if len(s.Linux.MaskedPaths) == 0 || len(s.Linux.ReadonlyPaths) == 0 {
		t.Error("default masked or read-only paths lost")
	}
	if s.Root.Readonly {
		t.Error("root read-only without ReadOnlyRootfs")
	}

	cfg.ReadOnlyRootfs = true
	if s := mustGenerate(t, baseImage(), baseSandbox(), cfg); !s.Root.Readonly {
		t.Error("ReadOnlyRootfs: root is writable")
	}

	cfg = baseConfig()
	cfg.Privileged = true
	s = mustGenerate(t, baseImage(), baseSandbox(), cfg)
	if s.Linux.Seccomp != nil {
		t.Error("privileged container has a seccomp profile")
	}
	if s.Process.NoNewPrivileges {
		t.Error("privileged container has no-new-privileges")
	}
	if len(s.Linux.MaskedPaths) != 0 || len(s.Linux.ReadonlyPaths) != 0 {
		t.Error("privileged container has masked or read-only paths")
	}
	if !slices.Contains(s.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") && os.Geteuid() == 0 {
		t.Error("privileged container lacks CAP_SYS_ADMIN")
	}
}

func TestSandboxSpec(t *testing.T) {
	sb := pod.Sandbox{
		GroupID:   "eci-1",
		NetNSPath: "/run/netns/eci-1",
		IPCPath:   "/var/lib/leci/sandboxes/eci-1/ipc",
		UTSPath:   "/var/lib/leci/sandboxes/eci-1/uts",
	}
	ctx := namespaces.WithNamespace(context.Background(), "test")
	rootfs := t.TempDir()
	s, err := oci.GenerateSpec(ctx, nil, &containers.Container{ID: "eci-1-sandbox"},
		sandboxSpecOpts(rootfs, []string{"/leci", "pause"}, sb, "/leci/eci-1/sandbox")...)
	if err != nil {
		t.Fatal(err)
	}
	if s.Root.Path != rootfs || !s.Root.Readonly {
		t.Errorf("root = %+v, want %s read-only", s.Root, rootfs)
	}
	// The hostname lives in the pinned UTS namespace: the sandbox sets none.
	if !slices.Equal(s.Process.Args, []string{"/leci", "pause"}) || s.Hostname != "" {
		t.Errorf("args %q hostname %q", s.Process.Args, s.Hostname)
	}
	if s.Linux.CgroupsPath != "/leci/eci-1/sandbox" {
		t.Errorf("cgroups path %q", s.Linux.CgroupsPath)
	}
	if c := s.Process.Capabilities; len(c.Bounding)+len(c.Effective)+len(c.Permitted) != 0 {
		t.Errorf("sandbox capabilities = %+v, want none", c)
	}
	if s.Process.User.UID != sandboxUID {
		t.Errorf("sandbox uid = %d", s.Process.User.UID)
	}
	for typ, want := range map[specs.LinuxNamespaceType]string{
		specs.NetworkNamespace: sb.NetNSPath, specs.IPCNamespace: sb.IPCPath, specs.UTSNamespace: sb.UTSPath,
		specs.PIDNamespace: "", specs.MountNamespace: "",
	} {
		found := false
		for _, ns := range s.Linux.Namespaces {
			if ns.Type == typ && ns.Path == want {
				found = true
			}
		}
		if !found {
			t.Errorf("%s namespace: want path %q, have %+v", typ, want, s.Linux.Namespaces)
		}
	}
}

// A container joins the group's namespaces by path and applies the
// group's sysctls itself; it shares a shim with the group only while a
// sandbox process keeps that shim up.
func TestContainerJoinsNamespaceFiles(t *testing.T) {
	sb := pod.Sandbox{
		GroupID:   "eci-1",
		NetNSPath: "/run/netns/eci-1",
		IPCPath:   "/var/lib/leci/sandboxes/eci-1/ipc",
		UTSPath:   "/var/lib/leci/sandboxes/eci-1/uts",
		Sysctls:   map[string]string{"net.ipv4.ip_unprivileged_port_start": "0"},
	}
	s := mustGenerate(t, baseImage(), sb, pod.ContainerConfig{ID: "eci-1-c-1", Name: "c"})
	if s.Linux.Sysctl["net.ipv4.ip_unprivileged_port_start"] != "0" {
		t.Errorf("sysctls = %v", s.Linux.Sysctl)
	}
	for typ, want := range map[specs.LinuxNamespaceType]string{specs.IPCNamespace: sb.IPCPath, specs.UTSNamespace: sb.UTSPath} {
		if got := namespacePath(s, typ); got != want {
			t.Errorf("%s namespace = %q, want %q", typ, got, want)
		}
	}
}
