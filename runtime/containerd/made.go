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
// of this process read, with their records, until their removal is done:
// such a task is stopped for good (a container ID runs once), so neither
// its removal nor a listing of its group asks containerd for its state,
// and its removal does not read its record again. A task's state is the
// shim's to tell, which answers it only once a delete under way is done:
// a group's delete, listing its containers while the one that ended is
// being removed, waited that long (about 10 ms) before its network could
// go.
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

func (s *stoppedContainers) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
