// Package pod holds the neutral data that leci's group engine and its
// backends exchange: what a sandbox and a container must be, and what became
// of them. The engine (package runtime) turns an ECI request into these
// values; a backend (runtime/containerd, runtime/docker) turns them into
// real containers. Neither side imports the other; both import pod, which
// also holds what the backends do alike (backend.go: the pull policy, the
// entrypoint and command rule).
package pod

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"leci/internal/gpu"
)

// Labels that mark what leci created, so that it can find it again after a
// restart or a crash.
const (
	LabelGroupID   = "leci.group-id"
	LabelContainer = "leci.container"
	LabelKind      = "leci.kind" // "sandbox", "init" or "app"
	LabelAttempt   = "leci.attempt"
)

// Kinds of containers, the values of LabelKind.
const (
	KindSandbox = "sandbox"
	KindInit    = "init"
	KindApp     = "app"
)

// Errors a backend returns for the engine to turn into container reasons.
var (
	// ErrImageNeverPull: the image is absent and the pull policy is Never.
	ErrImageNeverPull = errors.New("image not present and pull policy is Never")
	// ErrImagePull: the pull failed (registry unreachable, auth, not found).
	ErrImagePull = errors.New("image pull failed")
	// ErrCreateConfig: the container cannot be created as asked (for
	// instance RunAsNonRoot with an image whose user is root).
	ErrCreateConfig = errors.New("container configuration error")
	// ErrUnavailable: the container runtime (containerd, dockerd) does not
	// answer. The groups it runs go on; what needs it waits for its return.
	ErrUnavailable = errors.New("container runtime unreachable")
	// ErrNameTaken: something that is not the group's (no leftover of an
	// earlier create of the same container) holds the container's name in
	// the runtime; it is left alone.
	ErrNameTaken = errors.New("the container's name is taken by something not of its group")
	// ErrNetNSGone: the group's network namespace no longer exists (the
	// host rebooted, or it was removed), and with it went every process
	// that lived in it.
	ErrNetNSGone = errors.New("the group's network namespace is gone")
)

// ErrSandboxLost is wrapped by a runtime.NetNSOwner's StartSandbox when it
// is asked for the sandbox in a recorded namespace (SandboxConfig.NetNSPath,
// after a restart of leci) and none runs there any more: the engine then
// replaces the sandbox and attaches the network anew. Any other error leaves the
// network alone.
var ErrSandboxLost = errors.New("the group's sandbox is gone with its network namespace")

// ErrNotRunning is wrapped by a backend for an exec or attach that needs a
// running container, or an open stdin, and finds none.
var ErrNotRunning = errors.New("container is not running")

// Pinger is implemented by a backend whose runtime can go away while leci
// runs (containerd stopped or restarting). Ping answers nil when the runtime
// answers, else an error wrapping ErrUnavailable.
//
// It is optional, not part of runtime.Backend: a backend without it is taken
// to be always there.
type Pinger interface {
	Ping(ctx context.Context) error
}

// DroppedByDefault are the capabilities the runtimes' default set holds
// that leci's containers get only when they ask (Capability.Add), as on
// ECI: NET_RAW forges packets on the group's network.
var DroppedByDefault = []string{"CAP_NET_RAW"}

// Resources are limits in the request's units made concrete.
type Resources struct {
	// CPU in cores (0.5 is half a core); 0 is no limit.
	CPU float64
	// MemoryBytes; 0 is no limit.
	MemoryBytes int64
	// Pids caps the number of processes and threads (pids.max); 0 is no
	// limit. Only the group's cgroup carries it.
	Pids int64
}

// Network is what the group's network setup produced.
type Network struct {
	// NetNSPath is the pinned network namespace every container joins.
	NetNSPath string
	// IPv4 and IPv6 are the group's addresses ("" when none).
	IPv4 string
	IPv6 string
	// Interface is the group's interface inside the namespace (eth0).
	Interface string
}

// SandboxConfig is the group's sandbox: the process that holds the IPC, UTS
// and (with SharePID) PID namespaces, in the group's network namespace and
// cgroup.
type SandboxConfig struct {
	GroupID   string
	Hostname  string
	NetNSPath string
	SharePID  bool
	// Sysctls are namespaced sysctls applied to the sandbox (net.*, kernel.shm*, ...).
	Sysctls map[string]string
	// Resources are the group-level limits, carried by the group cgroup
	// that holds every container of the group.
	Resources Resources
	Labels    map[string]string
	// New says that the group was made a moment ago by this process, with
	// an ID of its own: no sandbox of it can exist, and the backend need
	// not look for one to adopt.
	New bool
}

// Sandbox is a group's sandbox: what containers need to join it. PID is
// the sandbox process, 0 when the namespaces are held as files and no
// process is needed (no shared PID namespace).
type Sandbox struct {
	GroupID   string
	PID       int
	NetNSPath string
	// IPCPath, UTSPath and PIDPath are the sandbox's namespaces
	// (/proc/<pid>/ns/...); PIDPath is empty unless the PID namespace is shared.
	IPCPath string
	UTSPath string
	PIDPath string
	// CgroupParent is the group's cgroup; containers' cgroups go below it.
	CgroupParent string
	// Sysctls are the group's namespaced sysctls, for a backend that
	// applies them with each container (the namespaces are shared, so the
	// values are the same for all).
	Sysctls map[string]string
}

// Mount is a mount of a container, its source already prepared on the host.
type Mount struct {
	Source      string
	Destination string
	// Type is "bind" (the default) or "tmpfs".
	Type     string
	ReadOnly bool
	// Propagation is "rprivate" (default), "rslave" or "rshared".
	Propagation string
	Options     []string
}

// User is who the container's process runs as. Nil fields come from the image.
type User struct {
	UID *int64
	GID *int64
	// NonRoot refuses to start a container whose final uid is 0.
	NonRoot bool
}

// ContainerConfig is one container to create in a sandbox.
type ContainerConfig struct {
	// ID is unique within leci's containerd namespace: a restarted
	// container is a new container with a fresh writable layer.
	ID      string
	GroupID string
	Name    string
	Kind    string // KindInit or KindApp
	Attempt int
	Image   string
	// Command and Args override the image's entrypoint and cmd, as in the
	// kubelet: Command replaces the entrypoint (and drops the image's cmd),
	// Args replaces the cmd.
	Command    []string
	Args       []string
	WorkingDir string
	// Env is KEY=VALUE, added to (and overriding) the image's environment.
	Env            []string
	TTY            bool
	Stdin          bool
	StdinOnce      bool
	User           User
	ReadOnlyRootfs bool
	Privileged     bool
	CapAdd         []string
	Resources      Resources
	Mounts         []Mount
	// LogPath is the file the container's stdout and stderr go to.
	LogPath string
	Labels  map[string]string
	// GPUs are the CDI devices (qualified names) the container holds, and
	// CDI the pool that resolves their edits; both unset for none.
	GPUs []string
	CDI  *gpu.Pool
}

// Exit is how a container's process ended.
type Exit struct {
	Code int
	// Signal is the signal that killed the process, 0 when it exited.
	Signal     int
	OOMKilled  bool
	StartedAt  time.Time
	FinishedAt time.Time
}

// ContainerInfo is a container a backend holds, found by its labels.
type ContainerInfo struct {
	ID      string
	GroupID string
	Name    string
	Kind    string
	Attempt int
	Running bool
	PID     int
}

// Credential is a registry login.
type Credential struct {
	Server   string
	UserName string
	Password string
}

// ImageAuth is how a group's images may be pulled: logins matched by
// registry host, and the hosts to reach over plain HTTP or without TLS
// verification (host or host:port).
type ImageAuth struct {
	Credentials []Credential
	PlainHTTP   []string
	Insecure    []string
}

// EtcFiles is what goes into a group's /etc/hosts, /etc/hostname and
// /etc/resolv.conf, which every container of the group mounts.
type EtcFiles struct {
	Hostname    string
	IP          string
	Aliases     []HostAlias
	DNSPolicy   string // "Default": the host's resolver, or "None": only what is given
	NameServers []string
	Searches    []string
	Options     []DNSOption
}

// HostAlias is one extra line of /etc/hosts.
type HostAlias struct {
	IP        string
	Hostnames []string
}

// DNSOption is one resolv.conf option.
type DNSOption struct {
	Name  string
	Value string
}

// EtcPaths are the written files, on the host.
type EtcPaths struct {
	Hosts    string
	Hostname string
	Resolv   string
}

// ExecResult is how a command run in a container ended.
type ExecResult struct {
	ExitCode int
	// Output is the command's stdout and stderr, interleaved, cut at the
	// bound the caller gave.
	Output []byte
}

// NetworkOptions are what a group asks of its network beyond an address.
type NetworkOptions struct {
	// IngressBandwidth and EgressBandwidth limit the group's traffic, in
	// bits per second; 0 is no limit.
	IngressBandwidth int64
	EgressBandwidth  int64
	// IPv6 asks for an IPv6 address as well (Ipv6AddressCount 1).
	IPv6 bool
	// IPv4, when set, is the address the group asks for
	// (PrivateIpAddress); the network gives it or fails.
	IPv4 string
	// Ports are published on the host, when the host allows it.
	Ports []PortMapping
}

// PortMapping publishes a container port on the host.
type PortMapping struct {
	ContainerPort int
	HostPort      int
	Protocol      string // "tcp" or "udp"
	HostIP        string
}

// ExecIO is an interactive command run in a container: what the WebSocket
// exec session of the daemon and `leci exec -it` attach to.
type ExecIO struct {
	Cmd []string
	// TTY gives the command a terminal; its output then arrives on Stdout
	// only, and Resize carries the terminal's size.
	TTY bool
	// Stdin is nil when the session has no input; the command then reads
	// end of file.
	Stdin io.Reader
	// Stdout and Stderr receive the command's output; Stderr may be nil
	// with TTY.
	Stdout, Stderr io.Writer
	// Resize sends the terminal's size; the first value is the initial
	// size. Nil without TTY.
	Resize <-chan TermSize
	// Env ("KEY=VALUE") is added to the container's environment, a key
	// given replacing the container's; WorkingDir and User ("UID[:GID]",
	// or a name where the backend can look one up) replace the
	// container's when set.
	Env        []string
	WorkingDir string
	User       string
}

// TermSize is a terminal's size in characters.
type TermSize struct {
	Width, Height uint16
}

// Usage is the resource usage of one cgroup at one moment.
type Usage struct {
	Time time.Time
	// CPUNanos is the CPU time used since the cgroup was created.
	CPUNanos uint64
	// Memory, in bytes: the usage as the kernel counts it (page cache
	// included), the working set (usage less inactive file pages, what the
	// kubelet evicts by), the anonymous resident memory, the page cache,
	// and the limit (0 when unlimited).
	MemoryUsage, MemoryWorkingSet, MemoryRSS, MemoryCache, MemoryLimit uint64
}

// GroupUsage is a group's usage: its group cgroup, and each container's.
type GroupUsage struct {
	Group Usage
	// Containers is keyed by container ID; the sandbox is left out.
	Containers map[string]Usage
}

// InterfaceUsage is the traffic counters of one network interface.
type InterfaceUsage struct {
	Name                                     string
	RxBytes, TxBytes, RxPackets, TxPackets   uint64
	RxErrors, TxErrors, RxDropped, TxDropped uint64
}

// Overuse is a disk EmptyDir volume that holds more than its SizeLimit.
// (A memory EmptyDir cannot: its tmpfs is that size.)
type Overuse struct {
	Volume string
	// Used and Limit are in bytes; Used counts allocated blocks, as du does.
	Used, Limit int64
}

func (o Overuse) String() string {
	return fmt.Sprintf("EmptyDir volume %s uses %s, more than its SizeLimit of %s", o.Volume, gibString(o.Used), gibString(o.Limit))
}

func gibString(n int64) string {
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", float64(n)/(1<<30)), "0"), ".") + " GiB"
}

// Image pull policies, as in an ECI request ("" means PullIfNotPresent).
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// SandboxAt describes a running sandbox whose process is pid, joined through
// its /proc namespaces. netnsPath is the group's network namespace ("": the
// process's own); the PID namespace is given only when sharePID.
func SandboxAt(groupID string, pid int, netnsPath, cgroupParent string, sharePID bool) Sandbox {
	ns := func(name string) string { return fmt.Sprintf("/proc/%d/ns/%s", pid, name) }
	sb := Sandbox{
		GroupID:      groupID,
		PID:          pid,
		NetNSPath:    netnsPath,
		IPCPath:      ns("ipc"),
		UTSPath:      ns("uts"),
		CgroupParent: cgroupParent,
	}
	if sb.NetNSPath == "" {
		sb.NetNSPath = ns("net")
	}
	if sharePID {
		sb.PIDPath = ns("pid")
	}
	return sb
}

// InfoFromLabels reads back a container's identity from the pod.Label*
// labels a backend gave it.
func InfoFromLabels(id string, labels map[string]string) ContainerInfo {
	attempt, _ := strconv.Atoi(labels[LabelAttempt])
	return ContainerInfo{
		ID:      id,
		GroupID: labels[LabelGroupID],
		Name:    labels[LabelContainer],
		Kind:    labels[LabelKind],
		Attempt: attempt,
	}
}
