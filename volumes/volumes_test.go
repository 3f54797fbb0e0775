package volumes

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"leci/api"
)

func mode(m api.FileMode) *api.FileMode { return &m }

func TestConfigFilesModesAndNesting(t *testing.T) {
	old := syscall.Umask(0o077) // the written modes must not depend on it
	defer syscall.Umask(old)
	dir := t.TempDir()
	vol := api.Volume{Name: "cfg", Type: api.VolumeConfigFile, ConfigFileVolume: &api.ConfigFileVolume{
		DefaultMode: mode(0o640),
		ConfigFileToPath: []api.ConfigFileToPath{
			{Path: "a.conf", Content: "aGk="},
			{Path: "bin/run.sh", Content: "ZWNobw==", Mode: mode(0o755)},
		},
	}}
	srcs, err := Manager{}.Prepare(context.Background(), dir, []api.Volume{vol})
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{"a.conf": 0o640, "bin/run.sh": 0o755} {
		fi, err := os.Stat(filepath.Join(srcs["cfg"], path))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode = %o, want %o", path, got, want)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(srcs["cfg"], "a.conf")); string(data) != "hi" {
		t.Errorf("a.conf = %q, want hi", data)
	}
	m, err := Manager{}.Mount(srcs["cfg"], vol, api.VolumeMount{Name: "cfg", MountPath: "/etc/cfg"})
	if err != nil || !m.ReadOnly || m.Propagation != "rprivate" {
		t.Errorf("mount = %+v, %v; want read-only rprivate", m, err)
	}
}

func TestEmptyDirAndSubPath(t *testing.T) {
	dir := t.TempDir()
	vol := api.Volume{Name: "data", Type: api.VolumeEmptyDir}
	srcs, err := Manager{}.Prepare(context.Background(), dir, []api.Volume{vol})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(srcs["data"])
	if err != nil || fi.Mode().Perm() != 0o777 {
		t.Fatalf("EmptyDir mode = %v, %v; want 0777", fi.Mode(), err)
	}
	m, err := Manager{}.Mount(srcs["data"], vol, api.VolumeMount{Name: "data", MountPath: "/d", SubPath: "a/b/", MountPropagation: api.PropagationHostToContainer})
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != filepath.Join(srcs["data"], "a/b") || m.Propagation != "rslave" {
		t.Errorf("mount = %+v", m)
	}
	if _, err := os.Stat(m.Source); err != nil {
		t.Errorf("sub path not created: %v", err)
	}
	// A symlink planted in the volume that leads out is refused, and
	// nothing is created outside.
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(srcs["data"], "escape")); err != nil {
		t.Fatal(err)
	}
	if _, err := (Manager{}).Mount(srcs["data"], vol, api.VolumeMount{Name: "data", MountPath: "/d", SubPath: "escape/x"}); err == nil {
		t.Error("a sub path through a symlink out of the volume was accepted")
	}
	if _, err := os.Stat(filepath.Join(outside, "x")); !os.IsNotExist(err) {
		t.Errorf("something was created outside the volume: %v", err)
	}
}

func TestHostPathTypes(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		path, typ string
		ok        bool
	}{
		{dir, "Directory", true}, {file, "Directory", false}, {file, "File", true}, {dir, "File", false},
		{filepath.Join(dir, "missing"), "Directory", false}, {filepath.Join(dir, "made"), "DirectoryOrCreate", true},
	}
	for _, tc := range cases {
		err := checkHostPath(&api.HostPathVolume{Path: tc.path, Type: tc.typ})
		if (err == nil) != tc.ok {
			t.Errorf("%s as %s: err %v, want ok=%v", tc.path, tc.typ, err, tc.ok)
		}
	}
}

func TestUnsupportedVolumes(t *testing.T) {
	for _, v := range []api.Volume{{Name: "d", Type: api.VolumeDisk}, {Name: "f", Type: api.VolumeFlex}} {
		if _, err := (Manager{}).Prepare(context.Background(), t.TempDir(), []api.Volume{v}); err == nil {
			t.Errorf("%s was prepared, want ErrNotSupported", v.Type)
		}
	}
}
