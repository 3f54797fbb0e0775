// Package docker runs leci's groups on a Docker Engine (runtime.Backend), for
// developer boxes that run Docker rather than a bare containerd. It speaks
// the Engine API through Docker's Go client with API version negotiation,
// and works against Docker 20.10 (API 1.41) and later.
//
// Per group it makes what the containerd backend makes, in Docker's terms:
//
//   - a group cgroup CgroupRoot/<group> carrying the group's limits (made
//     with leci/internal/cgroup, as the containerd backend does), passed as
//     every container's CgroupParent; this needs dockerd's cgroupfs cgroup
//     driver (--exec-opt native.cgroupdriver=cgroupfs), which NewBackend
//     checks;
//   - a sandbox container "<group>-sandbox" running "/leci pause" from a
//     local image holding only leci-helper as /leci (imported with ImageImport
//     from a tar made here, tagged with the program's hash, so nothing is
//     pulled and a new binary gets a new image), with network mode none,
//     Docker's restart policy off, and its own IPC and PID namespaces;
//   - the group's containers, named by their leci IDs, joining the sandbox
//     with container:<sandbox> network, IPC and (with ShareProcessNamespace)
//     PID modes.
//
// Docker makes the sandbox's network namespace itself and a container
// cannot be put into one leci made, so the backend says OwnsNetNS: the
// engine starts the sandbox first and then attaches leci's CNI network to
// the sandbox's namespace (network.Manager.SetupIn), which pins it like a
// namespace of its own. Addresses, /etc files, bandwidth, probes and
// cleanup are then the same code as with containerd.
//
// Logs: each container's output is read from the Engine (attached before
// the start, so nothing is missed; after a restart of leci, the logs API
// followed from the log file's last line) and written with leci/logs to
// the same CRI-format file the containerd backend's log writer writes, so
// "leci logs" reads both alike. The writer runs in the leci process, not
// beside the container as containerd's binary logger does.
//
// Registries: credentials go in X-Registry-Auth. Docker has no per-request
// plain-HTTP or insecure-TLS setting: a registry the request lists as
// plain-HTTP or insecure is reached over HTTP or without verification only
// when dockerd's configuration lists it under "insecure-registries"
// (loopback, 127.0.0.0/8, is insecure by default); a failed pull from such a
// registry says so.
//
// Every container carries the pod.Label* labels and leci.owner, the leci
// root it belongs to, so that two leci roots on one dockerd never adopt or
// remove each other's containers.
//
// Where it differs from the containerd backend, and why it cannot be helped:
//
//   - A sandbox that dies takes its network namespace along (Docker made
//     it), so its replacement gets a new one: the group's network is
//     attached again and its address may change. Containers still running
//     keep the old, detached namespace until they restart.
//   - Docker has no container:<id> UTS mode: each container has its own UTS
//     namespace with the group's hostname, so a sethostname in one is not
//     seen by the others.
//   - The containers share the sandbox's /dev/shm (IPC mode container:,
//     Docker's 64 MB default), as a Kubernetes pod's do; with containerd
//     each container mounts its own.
//   - Logs are copied by the leci process. While none runs, Docker's
//     json-file log (10 MB per container) holds the output, and an adopting
//     leci copies it over, stamped with the time of the copy.
//   - Plain-HTTP and insecure registries need dockerd's
//     "insecure-registries"; Docker takes no such setting per pull.
//   - The Engine API cannot kill an exec: a timed-out exec or exec probe is
//     killed by its pid, which works only for an Engine on this host.
//   - Docker before 23 (API 1.42) sizes an exec's terminal only once the
//     command runs: a command that asks for its size at once (stty size
//     first thing) may see 0x0; later resizes arrive as with containerd.
//   - Where leci's capability bounding set lacks a capability (leci itself
//     in a container), Docker's privileged mode cannot start at all; a
//     privileged container then gets every capability there is (and the
//     Engine knows), no seccomp, AppArmor or masked paths, but not the
//     host's devices.
//   - RunAsNonRoot with an image USER given by a name other than root is not
//     checked before the start (Docker resolves names itself).
//   - Bind mounts take only ro/rw options and tmpfs mounts only size and
//     mode, the options Docker's mount API has.
//   - The groups live only as long as dockerd does: a dockerd restart stops
//     every container unless dockerd runs with "live-restore": true.
//   - Docker's AppArmor profile (docker-default) applies where AppArmor is
//     enabled; the containerd backend sets none.
//   - dockerd must use the cgroupfs cgroup driver.
//   - Docker 20.10 loads only docker-archives (testimage.BuildArchive writes
//     a tar that is both that and an OCI layout); images are shared with
//     the Engine's other users, Docker having no namespaces.
package docker
