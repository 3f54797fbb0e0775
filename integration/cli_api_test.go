//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"leci/api"
)

// TestCLIUpdateTagCacheCommit drives leci update, tag, image cache and
// commit against the daemon, as a user would.
func TestCLIUpdateTagCacheCommit(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	spec := func(marker string) string {
		return fmt.Sprintf("ContainerGroupName: cli-api\nTerminationGracePeriodSeconds: 1\nContainer:\n"+
			"  - {Name: app, Image: %s, Command: [sh, -c, \"echo %s > /tmp/marker; trap 'exit 0' TERM; while true; do sleep 0.2; done\"]}\n", image, marker)
	}
	out, err := d.client(spec("first"), "create", "-f", "-", "--format", "yaml", "--wait", "running")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	defer d.client("", "delete", id)
	ip := d.describe(id).IntranetIP

	// Tags.
	if out, err := d.client("", "tag", id, "team=a", "env=ci"); err != nil || !strings.Contains(out, "team=a\n") || !strings.Contains(out, "env=ci\n") {
		t.Errorf("leci tag: %q %v", out, err)
	}
	if out, err := d.client("", "tag", id, "env-"); err != nil || out != "team=a\n" {
		t.Errorf("leci tag KEY-: %q %v", out, err)
	}

	// Update from an edited request file.
	if out, err := d.client(spec("second"), "update", "-f", "-", "--format", "yaml", id); err != nil || strings.TrimSpace(out) != id {
		t.Fatalf("leci update: %q %v", out, err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		g := d.describe(id)
		if g.Status == api.GroupRunning && len(g.Containers) == 1 && g.Containers[0].CurrentState.State == api.StateRunning &&
			strings.Contains(strings.Join(g.Containers[0].Commands, " "), "second") {
			if g.IntranetIP != ip {
				t.Errorf("IP %s after the update, want %s", g.IntranetIP, ip)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not updated: %+v", g)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if out, err := d.client("", "exec", id, "--", "cat", "/tmp/marker"); err != nil || out != "second\n" {
		t.Errorf("the updated container's marker: %q %v", out, err)
	}

	// Image caches.
	out, err = d.client("", "image", "cache", "create", "cli-cache", image, "--tag", "team=a")
	if err != nil || !strings.HasPrefix(out, "imc-") {
		t.Fatalf("leci image cache create: %q %v", out, err)
	}
	cacheID := strings.TrimSpace(out)
	if out, err := d.client("", "image", "cache", "ls"); err != nil || !strings.Contains(out, cacheID) || !strings.Contains(out, "Ready") {
		t.Errorf("leci image cache ls: %q %v", out, err)
	}
	if out, err := d.client("", "image", "cache", "create", "cli-broken", "127.0.0.1:1/leci/nothing:1"); err == nil {
		t.Errorf("a cache of an image that cannot be pulled: %q, want exit 1", out)
	}
	if out, err := d.client("", "image", "cache", "rm", "cli-cache", "cli-broken"); err != nil || !strings.Contains(out, cacheID) {
		t.Errorf("leci image cache rm: %q %v", out, err)
	}

	// Commit, then run the image.
	if _, err := d.client("", "exec", id, "--", "sh", "-c", "echo from-cli > /committed"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImage(t, hr, "leci.local/cli-commit:v1", "leci.local/cli-commit:v1") })
	if out, err := d.client("", "commit", id, "-c", "app", "leci.local/cli-commit:v1"); err != nil || !strings.HasPrefix(out, "cct-") {
		t.Fatalf("leci commit: %q %v", out, err)
	}
	run := fmt.Sprintf("ContainerGroupName: cli-commit\nTerminationGracePeriodSeconds: 1\nContainer:\n" +
		"  - {Name: app, Image: leci.local/cli-commit:v1, ImagePullPolicy: Never, Command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]}\n")
	out, err = d.client(run, "create", "-f", "-", "--format", "yaml", "--wait", "running")
	if err != nil {
		t.Fatalf("a group of the committed image: %q %v", out, err)
	}
	id2 := strings.TrimSpace(out)
	defer d.client("", "delete", id2)
	if out, err := d.client("", "exec", id2, "--", "cat", "/committed"); err != nil || out != "from-cli\n" {
		t.Errorf("in the committed image: %q %v", out, err)
	}
	// Gone before the image is removed (Docker keeps an image a container uses).
	if _, err := d.client("", "delete", id, id2); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if out, _ := d.client("", "ps", "-a", "-o", "json"); !strings.Contains(out, "eci-") {
			return
		}
	}
	t.Errorf("the groups were not deleted")
}
