//go:build leci_node

package node

import (
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"leci/api"
	"leci/runtime"
)

// containerIDPrefix names the runtime in a container status's containerID,
// as a kubelet writes containerd:// or docker://.
const containerIDPrefix = "leci://"

// podStatus is a group's status as the Pod's status: the phase, the
// addresses, the container states with their reasons, restart counts and
// readiness, and the conditions a kubelet sets. It says what
// DescribeContainerGroups says of the same group (ECI's PodStatus).
func podStatus(st *runtime.GroupStatus, hostIP string) corev1.PodStatus {
	out := corev1.PodStatus{
		Phase:   podPhase(st.Phase),
		Message: st.Message,
		HostIP:  hostIP,
		PodIP:   st.IPv4,
	}
	if hostIP != "" {
		out.HostIPs = []corev1.HostIP{{IP: hostIP}}
	}
	for _, ip := range []string{st.IPv4, st.IPv6} {
		if ip != "" {
			out.PodIPs = append(out.PodIPs, corev1.PodIP{IP: ip})
		}
	}
	if !st.CreatedAt.IsZero() {
		out.StartTime = ptr(metav1.NewTime(st.CreatedAt))
	}
	var images map[string]string
	if st.Request != nil {
		images = map[string]string{}
		for _, c := range st.Request.InitContainer {
			images[c.Name] = c.Image
		}
		for _, c := range st.Request.Container {
			images[c.Name] = c.Image
		}
	}
	initialized := true
	for _, c := range st.InitContainers {
		initialized = initialized && c.Current.State == api.StateTerminated && c.Current.ExitCode == 0
		out.InitContainerStatuses = append(out.InitContainerStatuses, containerStatus(c, images[c.Name]))
	}
	ready := len(st.Containers) > 0 && out.Phase == corev1.PodRunning
	for _, c := range st.Containers {
		ready = ready && c.Ready
		out.ContainerStatuses = append(out.ContainerStatuses, containerStatus(c, images[c.Name]))
	}
	started := metav1.NewTime(st.StartedAt)
	if st.StartedAt.IsZero() {
		started = metav1.NewTime(st.CreatedAt)
	}
	created := metav1.NewTime(st.CreatedAt)
	out.Conditions = []corev1.PodCondition{
		condition(corev1.PodScheduled, true, created),
		condition(corev1.PodReadyToStartContainers, st.Host.SetUp || st.IPv4 != "", created),
		condition(corev1.PodInitialized, initialized, started),
		condition(corev1.ContainersReady, ready, started),
		condition(corev1.PodReady, ready, started),
	}
	return out
}

// podPhase is the Pod phase of a group phase, as ECI maps it.
func podPhase(s api.GroupStatus) corev1.PodPhase {
	switch s {
	case api.GroupPending, api.GroupScheduling, api.GroupRestarting:
		return corev1.PodPending
	case api.GroupRunning, api.GroupUpdating, api.GroupTerminating:
		return corev1.PodRunning
	case api.GroupSucceeded:
		return corev1.PodSucceeded
	case api.GroupFailed, api.GroupScheduleFailed, api.GroupExpired:
		return corev1.PodFailed
	}
	return corev1.PodUnknown
}

func condition(typ corev1.PodConditionType, ok bool, at metav1.Time) corev1.PodCondition {
	status := corev1.ConditionFalse
	if ok {
		status = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: typ, Status: status, LastTransitionTime: at}
}

func containerStatus(c runtime.ContainerStatus, image string) corev1.ContainerStatus {
	out := corev1.ContainerStatus{
		Name:         c.Name,
		Image:        image,
		ImageID:      image,
		Ready:        c.Ready,
		RestartCount: int32(c.RestartCount),
		Started:      ptr(c.Current.State == api.StateRunning),
		State:        containerState(c.Current, c.ID),
	}
	if c.ID != "" {
		out.ContainerID = containerIDPrefix + c.ID
	}
	if c.Previous != nil {
		out.LastTerminationState = containerState(*c.Previous, "")
	}
	return out
}

func containerState(s runtime.ContainerState, id string) corev1.ContainerState {
	switch s.State {
	case api.StateRunning:
		return corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: timeOf(s.StartedAt)}}
	case api.StateTerminated:
		t := &corev1.ContainerStateTerminated{
			ExitCode: int32(s.ExitCode), Signal: int32(s.Signal), Reason: s.Reason, Message: s.Message,
			StartedAt: timeOf(s.StartedAt), FinishedAt: timeOf(s.FinishedAt),
		}
		if id != "" {
			t.ContainerID = containerIDPrefix + id
		}
		return corev1.ContainerState{Terminated: t}
	}
	reason := s.Reason
	if reason == "" {
		reason = runtime.ReasonContainerCreating
	}
	return corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: s.Message}}
}

func timeOf(t time.Time) metav1.Time {
	if t.IsZero() {
		return metav1.Time{}
	}
	return metav1.NewTime(t)
}

func ptr[T any](v T) *T { return &v }
