//go:build integration

package testutil_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"leci/internal/mountinfo"
	"leci/internal/testutil"
)

// TestStartDockerd starts a dockerd of its own, runs the docker CLI against
// it, and checks that Stop leaves no process and no mount in its directory.
func TestStartDockerd(t *testing.T) {
	testutil.RequireRoot(t)
	docker := testutil.RequireBinary(t, "docker")
	d := testutil.RequireDockerd(t)
	if !strings.HasPrefix(d.Host, "unix://"+d.Dir) {
		t.Fatalf("Host %q is not under %s", d.Host, d.Dir)
	}
	out, err := exec.Command(docker, "--host", d.Host, "info", "--format", "{{.DockerRootDir}} {{.CgroupDriver}}").CombinedOutput()
	if err != nil {
		t.Fatalf("docker info: %v\n%s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), filepath.Join(d.Dir, "data")+" cgroupfs"; got != want {
		t.Errorf("docker info = %q, want %q", got, want)
	}
	// Docker 20.10's trust key goes under Dir, not to /etc/docker.
	if cfg, _ := os.ReadFile(filepath.Join(d.Dir, "daemon.json")); strings.Contains(string(cfg), "deprecated-key-path") {
		if _, err := os.Stat(filepath.Join(d.Dir, "key.json")); err != nil {
			t.Errorf("trust key not under %s: %v", d.Dir, err)
		}
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(strings.TrimPrefix(d.Host, "unix://")); !os.IsNotExist(err) {
		t.Errorf("socket still there after Stop: %v", err)
	}
	if points, _ := mountinfo.Under(d.Dir); len(points) != 0 {
		t.Errorf("mounts left under %s: %v", d.Dir, points)
	}
}
