//go:build integration

package integration

import (
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
		hr.t.Errorf("containerd %s namespace %s: %s left after every group was deleted", containerdAddr, hr.cfg.Namespace, s)
	}
}
