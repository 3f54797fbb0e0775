//go:build integration

package integration

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"leci/internal/testutil"
)

// shimProc is a containerd shim of the test's containerd and namespace,
// with the processes it started (a log writer, a container that has lost
// its task) as they show in /proc.
type shimProc struct {
	pid      int
	id       string // the -id it was started with: its first task's
	children []string
}

func (s shimProc) String() string {
	return fmt.Sprintf("shim %d (-id %s) with %d children %q", s.pid, s.id, len(s.children), s.children)
}

// shimsOf lists the shims containerd at address started for namespace.
func shimsOf(address, namespace string) []shimProc {
	procs, _ := testutil.Processes()
	var shims []shimProc
	for _, p := range procs {
		args := p.Args()
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if flagValue(args, "-address") != address || flagValue(args, "-namespace") != namespace {
			continue
		}
		shims = append(shims, shimProc{pid: p.PID, id: flagValue(args, "-id")})
	}
	for i := range shims {
		for _, p := range procs {
			if st, ok := testutil.Stat(p.PID); ok && st.PPID == shims[i].pid {
				shims[i].children = append(shims[i].children, strings.Join(p.Args(), " "))
			}
		}
	}
	return shims
}

// flagValue is the argument that follows flag in args, "" if none does.
func flagValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// assertNoShims fails t if a shim of the test's containerd and namespace
// is still up once deleted groups' shims have had a while to exit: a shim
// stops once it serves no task, a moment after its last task's delete.
func (hr *harness) assertNoShims() {
	hr.t.Helper()
	if hr.h.Conn == nil {
		return
	}
	var left []shimProc
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		left = shimsOf(containerdAddr, hr.cfg.Namespace)
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, s := range left {
		hr.t.Errorf("containerd %s namespace %s: %s left after every group was deleted", containerdAddr, hr.cfg.Namespace, s)
	}
}
