package runtime

import (
	"context"

	"leci/api"
	"leci/pod"
)

// Networker gives a group its network: package network implements it.
type Networker interface {
	// Setup creates the group's network namespace and attaches it, before
	// any container starts.
	Setup(ctx context.Context, groupID string, opts pod.NetworkOptions) (pod.Network, error)
	// SetupIn is Setup in the network namespace nsPath, which the
	// backend's sandbox already holds (see NetNSOwner): the namespace is
	// pinned where Setup would have made one, then attached alike.
	SetupIn(ctx context.Context, groupID string, opts pod.NetworkOptions, nsPath string) (pod.Network, error)
	// NetNSPath is where Setup pins the group's network namespace, known
	// before Setup returns: containers are created to join it by path
	// while CNI ADD still runs, and started once it is done.
	NetNSPath(groupID string) string
	// Teardown detaches and removes it; it succeeds when nothing is left,
	// including when nothing was ever set up.
	Teardown(ctx context.Context, groupID string) error
	// Check verifies that a group's network is still as set up (after a
	// restart of leci), and claims it for this process.
	Check(ctx context.Context, groupID string) error
	// WriteEtcFiles writes the group's hosts, hostname and resolv.conf
	// into dir.
	WriteEtcFiles(dir string, f pod.EtcFiles) (pod.EtcPaths, error)
	// FillEtcFiles writes them in place, for containers created before
	// (their files bind mounted) and not started yet to see the content.
	FillEtcFiles(dir string, f pod.EtcFiles) (pod.EtcPaths, error)
	// Usage reads the traffic counters of the group's interfaces, as seen
	// inside its network namespace (loopback left out).
	Usage(ctx context.Context, groupID string) ([]pod.InterfaceUsage, error)
}

// Volumes prepares a group's volumes on the host: package volumes
// implements it.
type Volumes interface {
	// Prepare makes every volume of the group under dir and returns, by
	// name, the source of each to hand to Mount.
	Prepare(ctx context.Context, dir string, vols []api.Volume) (map[string]string, error)
	// Mount returns the mount of a container for one of its VolumeMounts,
	// resolving SubPath safely inside the volume.
	Mount(source string, vol api.Volume, m api.VolumeMount) (pod.Mount, error)
	// Cleanup unmounts and removes everything Prepare made under dir.
	Cleanup(ctx context.Context, dir string) error
	// Usage lists the disk EmptyDir volumes over their SizeLimit.
	Usage(dir string, vols []api.Volume) []pod.Overuse
}
