//go:build integration

package integration

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/host"
)

// rootOnSmallDisk puts the harness's root on a filesystem of its own, of
// size bytes (ext4 in a file, loop-mounted), so that a test can fill it.
func rootOnSmallDisk(t *testing.T, size int64) func(*host.Config) {
	return func(c *host.Config) {
		img := filepath.Join(t.TempDir(), "root.img")
		f, err := os.Create(img)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
			t.Fatalf("mkfs.ext4: %v\n%s", err, out)
		}
		if out, err := exec.Command("mount", "-o", "loop", img, c.Root).CombinedOutput(); err != nil {
			t.Fatalf("mount %s: %v\n%s", img, err, out)
		}
		// Unmounted (and the loop device freed) by the root's own cleanup.
	}
}

// fillDisk takes every free block of the filesystem dir is on, with one
// file it returns.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for chunk := int64(64 << 20); chunk >= 4096; chunk /= 2 {
		for {
			fi, _ := f.Stat()
			if err := unix.Fallocate(int(f.Fd()), 0, fi.Size(), chunk); err != nil {
				if !errors.Is(err, syscall.ENOSPC) {
					t.Fatalf("fill %s: %v", dir, err)
				}
				break
			}
		}
	}
	return path
}

// A create while the disk under leci's root is full fails with a clear
// error and leaves no part of a group; once there is space again, creates
// work.
func TestCreateOnFullDisk(t *testing.T) {
	hr := newHarness(t, rootOnSmallDisk(t, 64<<20))
	d := hr.startDaemon()
	req := "ContainerGroupName: full\nTerminationGracePeriodSeconds: 1\nVolume:\n  - {Name: v, Type: EmptyDirVolume}\nContainer:\n" +
		"  - {Name: app, Image: " + image + ", Command: [sh, -c, \"trap 'exit 0' TERM; sleep 86400 & wait\"], VolumeMount: [{Name: v, MountPath: /v}]}\n"
	d.groupIDs() // answered once the daemon is wholly up: it writes files while it starts
	filler := fillDisk(t, hr.cfg.Root)

	out, err := d.client(req, "create", "-f", "-")
	if err != nil {
		if !strings.Contains(err.Error(), "no space left on device") {
			t.Errorf("create on a full disk: %v; want an error that says the disk is full", err)
		}
		// Refused: nothing of a group was made.
		assertNothingLeft(t, hr.h, hr.cfg, hr.cgroupRoot)
	} else {
		// Acknowledged (its record fitted): the group fails, saying why;
		// deleted, it leaves nothing.
		id := strings.TrimSpace(out)
		g, err := d.pollStatus(id, api.GroupFailed, time.Minute)
		if err != nil || !strings.Contains(describeMessages(g), "no space left on device") {
			t.Errorf("create on a full disk acknowledged as %s: %s (%v), events:\n%s; want Failed saying the disk is full", id, g.Status, err, describeMessages(g))
		}
		d.deleteAll()
		assertNothingLeft(t, hr.h, hr.cfg, hr.cgroupRoot)
	}
	if t.Failed() {
		t.FailNow()
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	out, err = d.client(req, "create", "-f", "-", "--wait", "running", "--wait-timeout", "2m")
	if err != nil {
		t.Fatalf("create once there is space again: %v", err)
	}
	d.waitStatus(strings.TrimSpace(out), api.GroupRunning)
	d.deleteAll()
	d.stop()
}

// describeMessages joins what a group's detail says of why it failed.
func describeMessages(g api.ContainerGroupDetail) string {
	var b strings.Builder
	for _, e := range g.Events {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}
