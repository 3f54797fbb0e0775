package runtime

import (
	"time"

	"leci/api"
	"leci/pod"
)

// Reasons of container states, as the kubelet and ECI name them.
const (
	ReasonContainerCreating   = "ContainerCreating"
	ReasonPodInitializing     = "PodInitializing"
	ReasonCompleted           = "Completed"
	ReasonError               = "Error"
	ReasonOOMKilled           = "OOMKilled"
	ReasonCrashLoopBackOff    = "CrashLoopBackOff"
	ReasonErrImagePull        = "ErrImagePull"
	ReasonImagePullBackOff    = "ImagePullBackOff"
	ReasonErrImageNeverPull   = "ErrImageNeverPull"
	ReasonCreateConfigError   = "CreateContainerConfigError"
	ReasonCreateContainerErr  = "CreateContainerError"
	ReasonRunContainerError   = "RunContainerError"
	ReasonContainerTerminated = "Terminated"
	ReasonDeadlineExceeded    = "DeadlineExceeded"
)

// ContainerState is one state of a container: what Describe shows as
// CurrentState and PreviousState.
type ContainerState struct {
	State      api.ContainerStateName
	Reason     string
	Message    string
	ExitCode   int
	Signal     int
	StartedAt  time.Time
	FinishedAt time.Time
}

// ContainerStatus is everything known of one container of a group.
type ContainerStatus struct {
	Name         string
	Init         bool
	Current      ContainerState
	Previous     *ContainerState
	RestartCount int
	Ready        bool
	// Attempt numbers the container's runs; each run is a new backend
	// container, ID, with a fresh writable layer.
	Attempt int
	ID      string
	// NextStart is when a container waiting for a (re)start may start;
	// zero means at once.
	NextStart time.Time
	// Backoff counts the failures that set the current restart delay; it
	// is reset after a run that lasted long enough.
	Backoff int
	// Started is set once the container has run at least once.
	Started bool
}

// Event is a group event, deduplicated by (Type, Reason, Object, Message).
type Event struct {
	Type    string // Normal or Warning
	Reason  string
	Object  string // the container, or "" for the group
	Message string
	Count   int
	First   time.Time
	Last    time.Time
}

// GroupStatus is the state of a group: what the engine reports and the
// store keeps.
type GroupStatus struct {
	ID          string
	Request     *api.CreateContainerGroupRequest
	Phase       api.GroupStatus
	Message     string
	CreatedAt   time.Time
	StartedAt   time.Time
	SucceededAt time.Time
	FailedAt    time.Time
	// ExpiredAt is set once ActiveDeadlineSeconds has passed: the group was
	// stopped and stays Expired.
	ExpiredAt      time.Time
	IPv4           string
	IPv6           string
	InitContainers []ContainerStatus
	Containers     []ContainerStatus
	Events         []Event
	// GPUs are the CDI devices each container holds, by container name.
	GPUs map[string][]string
	// Host is what the group's setup made on this host, kept so that a
	// restarted leci can adopt the group.
	Host HostState
	// PendingUpdate is the request of an UpdateContainerGroup recorded
	// but not yet carried out (see Engine.Update); nil at rest.
	PendingUpdate *api.CreateContainerGroupRequest `json:",omitempty"`
}

// HostState is what a group's setup made: its network, /etc files,
// volumes and sandbox.
type HostState struct {
	SetUp   bool
	Network pod.Network
	Etc     pod.EtcPaths
	Volumes map[string]string
	Sandbox pod.Sandbox
}

// Terminal reports whether the group has finished for good.
func (g *GroupStatus) Terminal() bool {
	switch g.Phase {
	case api.GroupSucceeded, api.GroupFailed, api.GroupExpired:
		return true
	}
	return false
}

// clone copies the status deeply enough for a reader to keep it.
func (g *GroupStatus) clone() GroupStatus {
	c := *g
	c.InitContainers = cloneContainers(g.InitContainers)
	c.Containers = cloneContainers(g.Containers)
	c.Events = append([]Event(nil), g.Events...)
	return c
}

func cloneContainers(in []ContainerStatus) []ContainerStatus {
	out := append([]ContainerStatus(nil), in...)
	for i := range out {
		if p := out[i].Previous; p != nil {
			prev := *p
			out[i].Previous = &prev
		}
	}
	return out
}

// maxEvents is how many events a group keeps, as ECI keeps: the oldest
// go first.
const maxEvents = 50

// event records an event, folding repeats into one with a count.
func (g *GroupStatus) event(now time.Time, typ, reason, object, message string) {
	for i := range g.Events {
		e := &g.Events[i]
		if e.Type == typ && e.Reason == reason && e.Object == object && e.Message == message {
			e.Count++
			e.Last = now
			return
		}
	}
	if len(g.Events) >= maxEvents {
		g.Events = g.Events[1:]
	}
	g.Events = append(g.Events, Event{Type: typ, Reason: reason, Object: object, Message: message, Count: 1, First: now, Last: now})
}
