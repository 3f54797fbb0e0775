// Package containerd is leci's connection to containerd and its image store.
//
// Connect dials the containerd leci is told to use, or, with the address
// "auto", the system containerd if one answers and else leci's own containerd,
// which it starts on first need under the leci root and which every leci
// process on that root then shares. Images come in by Import (an OCI layout or
// docker-archive tar) or Pull (from a registry, with credentials, plain-HTTP
// and insecure-TLS host lists as in an ECI request) and are always unpacked
// into the snapshotter, so a container can be created from them at once.
//
// The package uses containerd's v2 Go client and works against containerd 1.6
// and later: it touches only services 1.6 has (no transfer or sandbox
// service), and pulls and imports on the client side.
//
// Backend runs groups on it (runtime.Backend): per group a cgroup
// CgroupRoot/<group> holding the group's limits, the group's IPC and UTS
// namespaces pinned as files under <root>/sandboxes/<group> (the hostname
// set inside), which its containers join by path beside the group's network
// namespace, and the group's containers, each in its own cgroup
// CgroupRoot/<group>/<container>. Only a group that shares its PID
// namespace has a sandbox process: a container with no image and no
// snapshot (its root a read-only directory holding the leci helper) that is
// PID 1 of that namespace. One runc shim serves a group's tasks, through the
// io.containerd.runc.v2.group annotation, under a key that is retired with
// its shim's last task (shimKeys). Gotchas: on cgroup
// v1 the kernel refuses a child a CFS quota above its parent's (containers
// are capped at the group's); the shim copies a terminal only to a binary
// logger or FIFOs, never a file:// log; exits are read with the container
// cgroup's oom_kill count before RemoveContainer lets runc delete it; runc
// refuses a symlinked root, so the sandbox rootfs is swapped in with
// renameat2(RENAME_EXCHANGE).
//
// Errors are wrapped with %w. A missing image is reported with ErrNotFound,
// which is containerd's errdefs.ErrNotFound, so either may be tested with
// errors.Is.
package containerd
