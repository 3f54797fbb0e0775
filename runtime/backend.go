package runtime

import (
	"context"
	"time"

	"leci/pod"
)

// Backend is what the group engine needs from a container runtime. It is
// defined here, by its consumer; runtime/containerd implements it (and
// asserts so with var _ runtime.Backend = (*Backend)(nil)).
//
// Every method is idempotent where it removes something: removing what is
// already gone succeeds, so a half-created group can always be cleaned up.
type Backend interface {
	// EnsureImage makes ref present per the pull policy (Always,
	// IfNotPresent, Never). Concurrent calls for one ref pull once. Errors
	// wrap pod.ErrImageNeverPull or pod.ErrImagePull.
	EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error
	// StartSandbox creates the group's cgroup with the group's limits and
	// starts its sandbox process in the given network namespace.
	StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (pod.Sandbox, error)
	// RemoveSandbox stops and removes the sandbox and the group's cgroup.
	RemoveSandbox(ctx context.Context, groupID string) error
	// CreateContainer creates (but does not start) a container in the sandbox.
	// A configuration the backend cannot honour wraps pod.ErrCreateConfig.
	CreateContainer(ctx context.Context, sb pod.Sandbox, cfg pod.ContainerConfig) error
	// StartContainer starts a created container. The channel yields its
	// exit once, then is closed; it is armed before the start, so a fast
	// exit is never missed.
	StartContainer(ctx context.Context, id string) (<-chan pod.Exit, error)
	// WaitContainer returns the exit of a running container that this
	// process did not start (after a restart of leci), as StartContainer's
	// channel does.
	WaitContainer(ctx context.Context, id string) (<-chan pod.Exit, error)
	// StopContainer sends SIGTERM, waits up to grace, then SIGKILL, and
	// returns once the process has exited.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// RemoveContainer deletes the container's task, container and snapshot.
	RemoveContainer(ctx context.Context, id string) error
	// ListContainers lists the containers of a group ("" for every group
	// leci owns), sandboxes included.
	ListContainers(ctx context.Context, groupID string) ([]pod.ContainerInfo, error)
	// Exec runs cmd in a running container and waits for it, at most
	// until ctx is done (then the command is killed and ctx's error
	// returned). Output keeps at most maxOutput bytes.
	Exec(ctx context.Context, id string, cmd []string, maxOutput int) (pod.ExecResult, error)
	// ExecAttach runs an interactive command in a running container,
	// attached to eio's streams, and returns its exit code once it has
	// exited and its output has been copied. When ctx is done the command
	// is killed and ctx's error returned.
	ExecAttach(ctx context.Context, id string, eio pod.ExecIO) (int, error)
	// Usage reads the resource usage of a group's cgroup and of each of its
	// running containers.
	Usage(ctx context.Context, groupID string) (pod.GroupUsage, error)
}

// StartPreparer is implemented by a backend that can take a created
// container up to the moment its process would run (containerd: the task,
// with its shim, runc's create and the log writer), so that the start
// itself is short. The engine does it ahead of a start it knows is coming,
// once the group's network is set up; StartContainer then starts what was
// prepared. A prepared container that is not started is removed by
// RemoveContainer as any other.
type StartPreparer interface {
	PrepareStart(ctx context.Context, id string) error
}

// NetNSOwner is implemented by a backend whose runtime makes the sandbox's
// network namespace itself and cannot join one leci made (Docker: network
// mode none, then containers join with container:<sandbox>). For such a
// backend the engine starts the sandbox first, with no NetNSPath, and then
// attaches leci's network to the sandbox's namespace (Networker.SetupIn);
// for the others it makes the network first and starts the sandbox in it.
// An optional interface, rather than a Backend method, since only the
// order of setup depends on it.
type NetNSOwner interface {
	OwnsNetNS() bool
}
