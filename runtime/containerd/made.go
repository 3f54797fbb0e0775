package containerd

import (
	"sync"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/oci"
)

// madeContainer is what this process made of a container that is yet to
// start: its record with its spec and extension, and its task once
// PrepareStart made it. The start then asks containerd for none of them
// again (four round trips, on the path from a create to a running
// container).
type madeContainer struct {
	ctr  client.Container
	spec *oci.Spec
	ext  containerExtension
	// rootfs is the mounts of the container's snapshot, as its Prepare
	// returned them.
	rootfs []mount.Mount
	task   client.Task
}

// madeContainers holds the madeContainer of each container, by ID, from
// its create until its start or removal. A container it does not hold
// (made by an earlier leci) is loaded from containerd as before.
type madeContainers struct {
	mu sync.Mutex
	m  map[string]madeContainer
}

func (s *madeContainers) put(id string, c madeContainer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]madeContainer{}
	}
	s.m[id] = c
}

// get returns id's madeContainer, keeping it.
func (s *madeContainers) get(id string) (madeContainer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	return c, ok
}

// take returns id's madeContainer and forgets it.
func (s *madeContainers) take(id string) (madeContainer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[id]
	delete(s.m, id)
	return c, ok
}

func (s *madeContainers) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// stoppedContainers holds, by ID, the containers whose exit an exit watcher
// of this process read, with their records, until their removal: such a
// task is stopped for good (a container ID runs once), so its removal asks
// containerd for neither the record nor the task's state (two round trips
// between a container's exit and the end of its group).
type stoppedContainers struct {
	mu sync.Mutex
	m  map[string]client.Container
}

func (s *stoppedContainers) put(ctr client.Container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]client.Container{}
	}
	s.m[ctr.ID()] = ctr
}

// get returns id's record, keeping it.
func (s *stoppedContainers) get(id string) (client.Container, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctr, ok := s.m[id]
	return ctr, ok
}

// take tells whether id is held, and forgets it.
func (s *stoppedContainers) take(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.m[id]
	delete(s.m, id)
	return ok
}
