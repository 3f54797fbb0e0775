//go:build integration

package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"time"

	"leci/internal/testutil"
)

// assertNoShims fails the test if a shim of its containerd and namespace is
// still up once every group is deleted, a while after: a shim exits once
// it serves no task, a moment after its last task's delete.
func (hr *harness) assertNoShims() {
	hr.t.Helper()
	if hr.h.Conn == nil {
		return
	}
	var left []testutil.Shim
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = testutil.ContainerdShims(containerdAddr, hr.cfg.Namespace)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, s := range left {
		hr.t.Errorf("containerd %s namespace %s: %s left after every group was deleted; containerd's log on its task:\n%s",
			containerdAddr, hr.cfg.Namespace, s, containerdLogOn(s.ID))
	}
}

// containerdLogOn is what the test containerd logged about task id (the
// last maxContainerdLogLines lines naming it): what it did with the task's
// shim.
func containerdLogOn(id string) string {
	const maxContainerdLogLines = 40
	f, err := os.Open(filepath.Join(filepath.Dir(containerdAddr), "containerd.log"))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), id) {
			lines = append(lines, sc.Text())
		}
	}
	if len(lines) > maxContainerdLogLines {
		lines = lines[len(lines)-maxContainerdLogLines:]
	}
	return strings.Join(lines, "\n")
}
