package testutil

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// Shim is a containerd shim process, with the processes it started (log
// writers, containers' first processes) as their command lines.
type Shim struct {
	PID int
	// ID is the task it was started for (its -id).
	ID       string
	Children []string
}

func (s Shim) String() string {
	return fmt.Sprintf("shim %d (-id %s) with %d children %q", s.PID, s.ID, len(s.Children), s.Children)
}

// ContainerdShims lists the shims that the containerd at address started
// for namespace; shims that have exited are left out.
func ContainerdShims(address, namespace string) []Shim {
	procs, _ := Processes()
	var shims []Shim
	for _, p := range procs {
		args := p.Args()
		if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim") {
			continue
		}
		if flagValue(args, "-address") != address || flagValue(args, "-namespace") != namespace {
			continue
		}
		shims = append(shims, Shim{PID: p.PID, ID: flagValue(args, "-id")})
	}
	for i := range shims {
		for _, p := range procs {
			if st, ok := Stat(p.PID); ok && st.PPID == shims[i].PID {
				shims[i].Children = append(shims[i].Children, strings.Join(p.Args(), " "))
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
