//go:build integration

package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"leci/api"
)

// ActiveDeadlineSeconds counts from the group's creation, as recorded, not
// from the start of the daemon that supervises it: a group created with 8 s
// under a daemon killed at 2 s and started again at 5 s expires at 8 s, not
// 13 s.
func TestActiveDeadlineAcrossDaemonRestart(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	req := fmt.Sprintf("ContainerGroupName: deadline\nActiveDeadlineSeconds: 8\nTerminationGracePeriodSeconds: 1\nContainer:\n  - {Name: app, Image: %s, Command: [sh, -c, \"trap 'exit 0' TERM; while true; do sleep 0.2; done\"]}\n", image)
	created := time.Now()
	out, err := d.client(req, "create", "-f", "-")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	d.waitStatus(id, api.GroupRunning)
	time.Sleep(time.Until(created.Add(2 * time.Second)))
	d.kill()
	time.Sleep(time.Until(created.Add(5 * time.Second)))
	d = hr.startDaemon()
	g := d.waitStatus(id, api.GroupRunning)
	if c := g.Containers[0]; c.RestartCount != 0 {
		t.Errorf("restarts %d after the daemon's restart, want 0", c.RestartCount)
	}
	for g.Status != api.GroupExpired && time.Since(created) < 20*time.Second {
		time.Sleep(100 * time.Millisecond)
		g = d.describe(id)
	}
	took := time.Since(created)
	if g.Status != api.GroupExpired || took < 8*time.Second || took > 11*time.Second {
		t.Errorf("group %s after %s; want Expired 8 s after its creation (13 s would count from the restart)", g.Status, took.Round(100*time.Millisecond))
	}
	d.deleteAll()
	d.stop()
}
