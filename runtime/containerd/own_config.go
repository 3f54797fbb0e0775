package containerd

import (
	"fmt"
	"path/filepath"
	"strings"
)

// disabledPlugins are left out of leci's own containerd: CRI (leci is its own
// orchestrator) and the snapshotters, tracing and optional parts it never
// uses, so that it boots in tens of milliseconds. The runtime v1 plugin stays:
// containerd 1.6's task service will not load without it. Names a version of
// containerd does not know are ignored by it.
var disabledPlugins = []string{
	"io.containerd.grpc.v1.cri",
	"io.containerd.cri.v1.images",
	"io.containerd.cri.v1.runtime",
	"io.containerd.snapshotter.v1.aufs",
	"io.containerd.snapshotter.v1.btrfs",
	"io.containerd.snapshotter.v1.devmapper",
	"io.containerd.snapshotter.v1.zfs",
	"io.containerd.snapshotter.v1.blockfile",
	"io.containerd.snapshotter.v1.erofs",
	"io.containerd.tracing.processor.v1.otlp",
	"io.containerd.internal.v1.tracing",
	"io.containerd.internal.v1.opt",
}

// ownConfig is the configuration of leci's own containerd living in dir. It
// is version 2, which containerd 1.6 reads and later versions migrate.
func ownConfig(dir string) string {
	quoted := make([]string, len(disabledPlugins))
	for i, p := range disabledPlugins {
		quoted[i] = fmt.Sprintf("  %q,", p)
	}
	socket := filepath.Join(dir, "containerd.sock")
	return fmt.Sprintf(`# Written by leci for its own containerd; rewritten on every start.
version = 2
root = %q
state = %q
disabled_plugins = [
%s
]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), strings.Join(quoted, "\n"), socket, socket+".ttrpc")
}
