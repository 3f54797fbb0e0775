//go:build leci_node

package node

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"leci/api"
	"leci/runtime"
)

func TestPodStatusOfARunningGroup(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := runtime.GroupStatus{
		ID: "eci-1", Phase: api.GroupRunning, CreatedAt: t0, StartedAt: t0.Add(time.Second), IPv4: "10.1.2.3",
		Request: &api.CreateContainerGroupRequest{
			InitContainer: []api.InitContainer{{ContainerCommon: api.ContainerCommon{Name: "prepare", Image: "busybox:init"}}},
			Container:     []api.Container{{ContainerCommon: api.ContainerCommon{Name: "app", Image: "busybox:app"}}},
		},
		InitContainers: []runtime.ContainerStatus{{Name: "prepare", Init: true, ID: "c0",
			Current: runtime.ContainerState{State: api.StateTerminated, Reason: runtime.ReasonCompleted, ExitCode: 0}}},
		Containers: []runtime.ContainerStatus{{Name: "app", ID: "c2", Ready: true, RestartCount: 1,
			Current:  runtime.ContainerState{State: api.StateRunning, StartedAt: t0.Add(2 * time.Second)},
			Previous: &runtime.ContainerState{State: api.StateTerminated, Reason: runtime.ReasonError, ExitCode: 2}}},
	}
	s := podStatus(&st, "192.0.2.7")
	if s.Phase != corev1.PodRunning || s.PodIP != "10.1.2.3" || s.HostIP != "192.0.2.7" {
		t.Errorf("phase %s ip %s host %s", s.Phase, s.PodIP, s.HostIP)
	}
	c := s.ContainerStatuses[0]
	if c.Image != "busybox:app" || !c.Ready || c.RestartCount != 1 || c.State.Running == nil || c.ContainerID != "leci://c2" {
		t.Errorf("container status %+v", c)
	}
	if lt := c.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 2 || lt.Reason != "Error" {
		t.Errorf("last state %+v, want terminated with Error, exit 2", c.LastTerminationState)
	}
	if ic := s.InitContainerStatuses[0]; ic.State.Terminated == nil || ic.State.Terminated.Reason != "Completed" {
		t.Errorf("init container %+v, want Completed", ic.State)
	}
	want := map[corev1.PodConditionType]corev1.ConditionStatus{
		corev1.PodScheduled: "True", corev1.PodInitialized: "True", corev1.ContainersReady: "True", corev1.PodReady: "True",
	}
	for _, cond := range s.Conditions {
		if w, ok := want[cond.Type]; ok && cond.Status != w {
			t.Errorf("condition %s = %s, want %s", cond.Type, cond.Status, w)
		}
	}

	// Not ready: a container not ready makes the Pod not ready.
	st.Containers[0].Ready = false
	for _, cond := range podStatus(&st, "").Conditions {
		if cond.Type == corev1.PodReady && cond.Status != corev1.ConditionFalse {
			t.Errorf("Ready = %s with a container not ready", cond.Status)
		}
	}
}

func TestPodStatusWaitingReasons(t *testing.T) {
	st := runtime.GroupStatus{Phase: api.GroupPending, Containers: []runtime.ContainerStatus{
		{Name: "a", Current: runtime.ContainerState{State: api.StateWaiting, Reason: runtime.ReasonImagePullBackOff, Message: "pull failed"}},
		{Name: "b"},
	}}
	s := podStatus(&st, "")
	if s.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", s.Phase)
	}
	if w := s.ContainerStatuses[0].State.Waiting; w == nil || w.Reason != "ImagePullBackOff" || w.Message != "pull failed" {
		t.Errorf("waiting %+v", s.ContainerStatuses[0].State)
	}
	if w := s.ContainerStatuses[1].State.Waiting; w == nil || w.Reason != "ContainerCreating" {
		t.Errorf("a container not started yet: %+v, want waiting ContainerCreating", s.ContainerStatuses[1].State)
	}
}

func TestPodPhases(t *testing.T) {
	for in, want := range map[api.GroupStatus]corev1.PodPhase{
		api.GroupScheduling: corev1.PodPending, api.GroupRunning: corev1.PodRunning, api.GroupSucceeded: corev1.PodSucceeded,
		api.GroupFailed: corev1.PodFailed, api.GroupExpired: corev1.PodFailed, api.GroupTerminating: corev1.PodRunning,
	} {
		if got := podPhase(in); got != want {
			t.Errorf("podPhase(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestFinalStatusTerminatesEveryContainer(t *testing.T) {
	st := runtime.GroupStatus{Phase: api.GroupRunning, Containers: []runtime.ContainerStatus{
		{Name: "app", Ready: true, Current: runtime.ContainerState{State: api.StateRunning}}}}
	s := finalStatus(&st, "")
	if s.Phase != corev1.PodFailed {
		t.Errorf("phase %s, want Failed (killed)", s.Phase)
	}
	if c := s.ContainerStatuses[0]; c.Ready || c.State.Terminated == nil {
		t.Errorf("container %+v, want terminated, not ready", c)
	}
}
