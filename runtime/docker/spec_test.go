package docker

import (
	"errors"
	"slices"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"leci/pod"
)

func ptr[T any](v T) *T { return &v }

func TestCreateOptionsJoinSandbox(t *testing.T) {
	sb := pod.Sandbox{GroupID: "g1", PIDPath: "/proc/9/ns/pid", CgroupParent: "/leci/g1"}
	cfg := pod.ContainerConfig{ID: "g1-web-1", Name: "web", Image: "busybox", Command: []string{"httpd"}, LogPath: "/l/web.log"}
	c, hc, err := createOptions(imageConfig{}, sb, cfg, map[string]string{pod.LabelGroupID: "g1"}, hostLimits{})
	if err != nil {
		t.Fatal(err)
	}
	for what, got := range map[string]string{
		"network": string(hc.NetworkMode), "ipc": string(hc.IpcMode), "pid": string(hc.PidMode),
	} {
		if got != "container:g1-sandbox" {
			t.Errorf("%s mode %q, want container:g1-sandbox", what, got)
		}
	}
	if hc.CgroupParent != "/leci/g1" {
		t.Errorf("cgroup parent %q", hc.CgroupParent)
	}
	if hc.RestartPolicy.Name != container.RestartPolicyDisabled {
		t.Errorf("restart policy %q: Docker's must be off, leci restarts", hc.RestartPolicy.Name)
	}
	if c.Labels[labelLogPath] != "/l/web.log" || c.Labels[pod.LabelGroupID] != "g1" {
		t.Errorf("labels %v", c.Labels)
	}
	if !slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("security options %v", hc.SecurityOpt)
	}

	// Without a shared PID namespace the container has its own.
	sb.PIDPath = ""
	_, hc, err = createOptions(imageConfig{}, sb, cfg, nil, hostLimits{})
	if err != nil || hc.PidMode != "" {
		t.Errorf("pid mode %q, %v; want its own", hc.PidMode, err)
	}
}

func TestCreateOptionsCommand(t *testing.T) {
	img := imageConfig{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	for _, tc := range []struct {
		name          string
		command, args []string
		want          []string
	}{
		{"image", nil, nil, []string{"/entry", "default"}},
		{"args replace cmd", nil, []string{"a"}, []string{"/entry", "a"}},
		{"command drops cmd", []string{"sh"}, nil, []string{"sh"}},
		{"both", []string{"sh"}, []string{"-c", "x"}, []string{"sh", "-c", "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := createOptions(img, pod.Sandbox{GroupID: "g"}, pod.ContainerConfig{Command: tc.command, Args: tc.args}, nil, hostLimits{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Entrypoint, tc.want) || len(c.Cmd) != 0 {
				t.Errorf("entrypoint %q cmd %q, want %q", c.Entrypoint, c.Cmd, tc.want)
			}
		})
	}
	_, _, err := createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, pod.ContainerConfig{}, nil, hostLimits{})
	if !errors.Is(err, pod.ErrCreateConfig) {
		t.Errorf("no command anywhere: %v, want ErrCreateConfig", err)
	}
}

func TestUserOf(t *testing.T) {
	for _, tc := range []struct {
		name    string
		image   string
		user    pod.User
		want    string
		wantErr bool
	}{
		{"image user", "app", pod.User{}, "app", false},
		{"uid and gid", "app", pod.User{UID: ptr(int64(5)), GID: ptr(int64(6))}, "5:6", false},
		{"uid alone", "app", pod.User{UID: ptr(int64(5))}, "5", false},
		{"gid alone keeps the image user", "app:grp", pod.User{GID: ptr(int64(6))}, "app:6", false},
		{"gid alone, root", "", pod.User{GID: ptr(int64(6))}, "0:6", false},
		{"non-root, image root", "", pod.User{NonRoot: true}, "", true},
		{"non-root, uid 0", "app", pod.User{UID: ptr(int64(0)), NonRoot: true}, "", true},
		{"non-root, named root", "root", pod.User{NonRoot: true}, "", true},
		{"non-root, uid 1000", "", pod.User{UID: ptr(int64(1000)), NonRoot: true}, "1000", false},
		{"non-root, image uid 00", "00", pod.User{NonRoot: true}, "", true},
		{"non-root, image uid 000 with a group", "000:1000", pod.User{NonRoot: true}, "", true},
		{"non-root, image user by name (resolved at create)", "app", pod.User{NonRoot: true}, "app", false},
		{"out of range", "", pod.User{UID: ptr(int64(-1))}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := userOf(tc.image, tc.user)
			if tc.wantErr {
				if !errors.Is(err, pod.ErrCreateConfig) {
					t.Errorf("got %q, %v; want ErrCreateConfig", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestUserNameInPasswd(t *testing.T) {
	passwd := []byte("root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0::/:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nbroken:x:y:0::/:\n")
	for _, c := range []struct {
		user string
		uid  uint64
		ok   bool
	}{
		{"toor", 0, true}, {"app:grp", 1000, true}, {"ghost", 0, false}, {"broken", 0, false},
	} {
		name, isName := userName(c.user)
		if !isName {
			t.Fatalf("%q is a name", c.user)
		}
		if uid, ok := uidInPasswd(passwd, name); uid != c.uid || ok != c.ok {
			t.Errorf("%s: uid %d %v, want %d %v", c.user, uid, ok, c.uid, c.ok)
		}
	}
	for _, numeric := range []string{"0", "00", "1000:5", ""} {
		if _, isName := userName(numeric); isName {
			t.Errorf("%q taken for a name", numeric)
		}
	}
}

func TestCreateOptionsResources(t *testing.T) {
	cfg := pod.ContainerConfig{Command: []string{"x"}, Resources: pod.Resources{CPU: 2, MemoryBytes: 64 << 20}}
	_, hc, err := createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if hc.CPUPeriod != 100000 || hc.CPUQuota != 200000 || hc.CPUShares != 2048 {
		t.Errorf("cpu period %d quota %d shares %d", hc.CPUPeriod, hc.CPUQuota, hc.CPUShares)
	}
	if hc.Memory != 64<<20 || hc.MemorySwap != 64<<20 {
		t.Errorf("memory %d swap %d: want equal, no swap beyond the limit", hc.Memory, hc.MemorySwap)
	}
	// On cgroup v1 the group's quota caps the container's.
	_, hc, _ = createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{cpuQuotaCap: 50000})
	if hc.CPUQuota != 50000 {
		t.Errorf("capped quota %d, want 50000", hc.CPUQuota)
	}
}

func TestCreateOptionsSecurity(t *testing.T) {
	cfg := pod.ContainerConfig{Command: []string{"x"}, CapAdd: []string{"net_admin", "CAP_SYS_TIME"}, ReadOnlyRootfs: true}
	_, hc, err := createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(hc.CapAdd, []string{"CAP_NET_ADMIN", "CAP_SYS_TIME"}) || !slices.Equal(hc.CapDrop, []string{"CAP_NET_RAW"}) || !hc.ReadonlyRootfs || hc.Privileged {
		t.Errorf("caps %v dropped %v read-only %v privileged %v; want NET_RAW dropped", hc.CapAdd, hc.CapDrop, hc.ReadonlyRootfs, hc.Privileged)
	}
	cfg.CapAdd = []string{"NET_RAW"}
	if _, hc, err := createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{}); err != nil || !slices.Equal(hc.CapAdd, []string{"CAP_NET_RAW"}) || len(hc.CapDrop) != 0 {
		t.Errorf("NET_RAW asked for: %v, caps %v dropped %v", err, hc.CapAdd, hc.CapDrop)
	}
	cfg.CapAdd = []string{"NOT_A_CAP"}
	if _, _, err := createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{}); !errors.Is(err, pod.ErrCreateConfig) {
		t.Errorf("unknown capability: %v", err)
	}
	cfg = pod.ContainerConfig{Command: []string{"x"}, Privileged: true, CapAdd: []string{"NOT_A_CAP"}}
	_, hc, err = createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{})
	if err != nil || !hc.Privileged || len(hc.SecurityOpt) != 0 {
		t.Errorf("privileged: %+v, %v", hc, err)
	}
}

func TestDockerMounts(t *testing.T) {
	got, err := dockerMounts([]pod.Mount{
		{Source: "/v/a/b", Destination: "/data/sub", Propagation: "rslave"},
		{Source: "/v/a", Destination: "/data", ReadOnly: true},
		{Destination: "/scratch", Type: "tmpfs", Options: []string{"size=1048576", "mode=1777"}},
		{Source: "/g/etc/hosts", Destination: "/etc/hosts", Type: "bind"},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []mount.Mount{
		{Type: mount.TypeBind, Source: "/v/a", Target: "/data", ReadOnly: true, BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate}},
		{Type: mount.TypeTmpfs, Target: "/scratch", TmpfsOptions: &mount.TmpfsOptions{SizeBytes: 1 << 20, Mode: 01777}},
		{Type: mount.TypeBind, Source: "/v/a/b", Target: "/data/sub", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRSlave}},
		{Type: mount.TypeBind, Source: "/g/etc/hosts", Target: "/etc/hosts", BindOptions: &mount.BindOptions{Propagation: mount.PropagationRPrivate}},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d mounts, want %d: %+v", len(got), len(want), got)
	}
	byTarget := map[string]mount.Mount{}
	for _, m := range got {
		byTarget[m.Target] = m
	}
	for _, w := range want {
		g := byTarget[w.Target]
		if g.Type != w.Type || g.Source != w.Source || g.ReadOnly != w.ReadOnly ||
			(w.BindOptions != nil && (g.BindOptions == nil || *g.BindOptions != *w.BindOptions)) ||
			(w.TmpfsOptions != nil && (g.TmpfsOptions == nil || g.TmpfsOptions.SizeBytes != w.TmpfsOptions.SizeBytes || g.TmpfsOptions.Mode != w.TmpfsOptions.Mode)) {
			t.Errorf("mount %s = %+v, want %+v", w.Target, g, w)
		}
	}
	if slices.IndexFunc(got, func(m mount.Mount) bool { return m.Target == "/data" }) > slices.IndexFunc(got, func(m mount.Mount) bool { return m.Target == "/data/sub" }) {
		t.Error("/data/sub comes before /data, which would hide it")
	}
	for _, bad := range []pod.Mount{
		{Source: "rel", Destination: "/x"},
		{Source: "/x", Destination: "rel"},
		{Source: "/x", Destination: "/x", Propagation: "sideways"},
		{Source: "/x", Destination: "/x", Type: "nfs"},
		{Source: "/x", Destination: "/x", Options: []string{"noexec"}},
	} {
		if _, err := dockerMounts([]pod.Mount{bad}); !errors.Is(err, pod.ErrCreateConfig) {
			t.Errorf("mount %+v: %v, want ErrCreateConfig", bad, err)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"eci-abc", "g1-web-1", "a.b_c"} {
		if err := checkID("x", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-a", "a/b", "..", "a b"} {
		if err := checkID("x", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCredentialFor(t *testing.T) {
	creds := []pod.Credential{{Server: "https://index.docker.io/v1/", UserName: "hub"}, {Server: "reg.example:5000", UserName: "own"}}
	if c, ok := credentialFor("docker.io", creds); !ok || c.UserName != "hub" {
		t.Errorf("docker.io: %+v %v", c, ok)
	}
	if c, ok := credentialFor("reg.example:5000", creds); !ok || c.UserName != "own" {
		t.Errorf("reg.example:5000: %+v %v", c, ok)
	}
	if _, ok := credentialFor("reg.example", creds); ok {
		t.Error("a login for host:port used for the host without the port")
	}
}

func TestPrivilegedWithoutFullBoundingSet(t *testing.T) {
	cfg := pod.ContainerConfig{Command: []string{"x"}, Privileged: true}
	_, hc, err := createOptions(imageConfig{}, pod.Sandbox{GroupID: "g"}, cfg, nil, hostLimits{privilegedCaps: []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}})
	if err != nil {
		t.Fatal(err)
	}
	if hc.Privileged || !slices.Equal(hc.CapAdd, []string{"CAP_SYS_ADMIN", "CAP_NET_ADMIN"}) ||
		!slices.Contains(hc.SecurityOpt, "seccomp=unconfined") || hc.MaskedPaths == nil || len(hc.MaskedPaths) != 0 || hc.ReadonlyPaths == nil ||
		slices.Contains(hc.SecurityOpt, "no-new-privileges") {
		t.Errorf("privileged by hand: privileged %v caps %v security %v", hc.Privileged, hc.CapAdd, hc.SecurityOpt)
	}
}
