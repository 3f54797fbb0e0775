package containerd

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"

	"leci/internal/trace"
	"leci/pod"
)

// shimKeys chooses the runc shim that each task of a group goes to.
//
// containerd's runc shim serves every task whose spec carries the same
// groupAnnotation value (its key), so one shim process serves a whole group:
// a task of a group whose shim is up costs runc's create alone, not a shim
// start too, and an idle group holds one shim, not one per container. But a
// shim exits as soon as its last task is deleted, and a task sent to it in
// that moment fails. So a key is handed out only while a task this process
// created under it keeps its shim up, or before any task was created under
// it; deleting a key's last task first waits for the creations under way on
// that key, then retires it: the group's next task gets a new key, and a
// shim of its own. Keys carry this process's ID and start time, so a key of
// an earlier leci, whose shim's life this process does not track, is never
// handed out again.
type shimKeys struct {
	prefix string

	mu      sync.Mutex
	seq     uint64
	current map[string]*shimKey // by group: the key for its next task
	byTask  map[string]*shimKey // by container ID: the key its task was created under
}

// shimKey is one key and what this process knows of its shim.
type shimKey struct {
	name  string
	group string
	// tasks counts the tasks created under the key and not being deleted,
	// creating the creations under way.
	tasks, creating int
	// used: a shim may have started under the key.
	used bool
	// changed is closed, and replaced, when a creation under way ends.
	changed chan struct{}
}

func newShimKeys() *shimKeys {
	return &shimKeys{
		prefix:  strconv.Itoa(os.Getpid()) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36),
		current: map[string]*shimKey{},
		byTask:  map[string]*shimKey{},
	}
}

// currentLocked is group's key for its next task: a new one when the last
// one's shim may be going away.
func (s *shimKeys) currentLocked(group string) *shimKey {
	k := s.current[group]
	if k == nil || (k.used && k.tasks == 0 && k.creating == 0) {
		s.seq++
		k = &shimKey{
			name:    fmt.Sprintf("%s.%s.%d", group, s.prefix, s.seq),
			group:   group,
			changed: make(chan struct{}),
		}
		s.current[group] = k
	}
	return k
}

// next is the key to record in the spec of a container of group as it is
// created; beginCreate may choose another by the time its task is made.
func (s *shimKeys) next(group string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.currentLocked(group).name
}

// beginCreate returns the key under which container id's task is to be
// created, and done, which must be called with whether it was.
func (s *shimKeys) beginCreate(group, id string) (key string, done func(created bool)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.currentLocked(group)
	k.creating++
	k.used = true
	return k.name, func(created bool) {
		s.mu.Lock()
		defer s.mu.Unlock()
		k.creating--
		if created {
			k.tasks++
			s.byTask[id] = k
		}
		close(k.changed)
		k.changed = make(chan struct{})
	}
}

// deleting is called before container id's task is deleted. When the task
// is its shim's last, it waits until no creation is under way on the
// shim's key (or ctx ends) and retires the key. It tells whether this
// process created the task under a key.
func (s *shimKeys) deleting(ctx context.Context, id string) (known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.byTask[id]
	if k == nil {
		return false // made by another process, or never under a key
	}
	delete(s.byTask, id)
	k.tasks--
	for k.tasks == 0 && k.creating > 0 {
		changed := k.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
		}
		s.mu.Lock()
		if ctx.Err() != nil {
			break
		}
	}
	if k.tasks == 0 && s.current[k.group] == k {
		delete(s.current, k.group)
	}
	return true
}

// forget drops what is kept of group once it is removed.
func (s *shimKeys) forget(group string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kind := range []string{pod.KindApp, pod.KindInit} {
		sg := shimGroup(group, kind)
		if k := s.current[sg]; k != nil && k.tasks == 0 && k.creating == 0 {
			delete(s.current, sg)
		}
	}
}

// shimGroup names the containers of a group that share a shim: its init
// containers share one, and its app containers (and sandbox process)
// another. A runc shim creates one task at a time, so the app containers,
// made while the init containers run, would otherwise hold up the first
// init container's create, which all the group waits for; and an init
// container's shim goes away with the last of them.
func shimGroup(groupID, kind string) string {
	if kind == pod.KindInit {
		return groupID + "-init"
	}
	return groupID
}

// withShimKey records key as the container's shim key.
func withShimKey(key string) oci.SpecOpts {
	return oci.WithAnnotations(map[string]string{groupAnnotation: key})
}

// newTask creates ctr's task, with spec its spec and rootfs the mounts of
// its snapshot (nil: asked of containerd), on the shim shimKeys chooses
// for its group; the key in the spec is changed first if it is no longer
// the one to use.
func (b *Backend) newTask(ctx context.Context, ctr client.Container, spec *oci.Spec, rootfs []mount.Mount, ioc cio.Creator) (_ client.Task, retErr error) {
	info, err := ctr.Info(ctx, client.WithoutRefreshedMetadata)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", ctr.ID(), err)
	}
	create := func(ctx context.Context) (client.Task, error) {
		if rootfs == nil {
			return ctr.NewTask(ctx, ioc)
		}
		return b.createTask(ctx, ctr, spec, rootfs, ioc)
	}
	group := info.Labels[pod.LabelGroupID]
	if group == "" {
		return seeCreateThrough(ctx, create)
	}
	key, done := b.shims.beginCreate(shimGroup(group, info.Labels[pod.LabelKind]), ctr.ID())
	defer func() { done(retErr == nil) }()
	if spec.Annotations[groupAnnotation] != key {
		sp := trace.Begin(ctx, "task.shimkey")
		spec.Annotations = maps.Clone(spec.Annotations)
		if spec.Annotations == nil {
			spec.Annotations = map[string]string{}
		}
		spec.Annotations[groupAnnotation] = key
		err := ctr.Update(ctx, func(ctx context.Context, cl *client.Client, c *containers.Container) error {
			return client.WithSpec(spec)(ctx, cl, c)
		})
		sp.End(err)
		if err != nil {
			return nil, fmt.Errorf("container %s: set shim key: %w", ctr.ID(), err)
		}
	}
	return seeCreateThrough(ctx, create)
}

// deleteTaskOf deletes task, ctr's, after telling shimKeys, so that the
// shim's key is retired if this was its last task.
//
// Tasks that share a shim and are deleted at once race its shutdown: the
// delete of one sees the shim serve no task any more and stops it while
// the other's answer is on its way, and containerd (1.6 and later) reports
// that other delete as failed ("ttrpc: closed") although it removed the
// task, its bundle and its cgroup. So such an error is checked: the task
// is asked for again, and deleted again if it is still there.
//
// A nil task is one known to be stopped: deleted by its ID, in one call
// (the client's Delete asks for its status first).
//
// A task an earlier leci made may share its shim with one that leci was
// killed creating, which containerd forgot (see RemoveOrphanShims): once
// such a task is deleted, the shim is stopped if it serves nothing else.
func (b *Backend) deleteTaskOf(ctx context.Context, ctr client.Container, task client.Task, opts ...client.ProcessDeleteOpts) error {
	if !b.shims.deleting(ctx, ctr.ID()) {
		defer func() {
			if err := b.conn.RemoveOrphanShims(ctx); err != nil {
				b.log.Warn("stop orphaned shims", "err", err)
			}
		}()
	}
	var err error
	if task == nil {
		_, err = b.conn.Client().TaskService().Delete(ctx, &tasksapi.DeleteTaskRequest{ContainerID: ctr.ID()})
		err = errgrpc.ToNative(err)
	} else {
		_, err = task.Delete(ctx, opts...)
	}
	if err == nil || !isShimClosed(err) {
		return err
	}
	b.log.Debug("task delete raced its shim's shutdown; checking the task", "container", ctr.ID(), "err", err)
	again, lerr := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(lerr) {
		return nil
	}
	if lerr != nil {
		return fmt.Errorf("%w (and then: %w)", err, lerr)
	}
	if _, derr := again.Delete(ctx, opts...); derr != nil && !errdefs.IsNotFound(derr) {
		return fmt.Errorf("%w (and again: %w)", err, derr)
	}
	return nil
}

// isShimClosed tells whether err is a shim's connection closing under a
// call. It crosses containerd's API as an error of code Unknown whose
// message is ttrpc's, so the message is what can be matched.
func isShimClosed(err error) bool {
	return errors.Is(err, ttrpc.ErrClosed) || strings.Contains(err.Error(), ttrpc.ErrClosed.Error())
}
