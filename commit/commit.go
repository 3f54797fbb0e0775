// Package commit commits a running container's filesystem changes to a new
// image in leci's image store (CommitContainer) and keeps the tasks that
// do it, with their progress (DescribeCommitContainerTask). The tasks are
// kept in the daemon's store; a commit a stopped daemon left unfinished is
// recorded as failed by the next one.
package commit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"leci/api"
	"leci/internal/ids"
)

// ErrInvalidRef is wrapped by Start for an image name that does not parse.
var ErrInvalidRef = errors.New("not an image reference")

// Store keeps documents by kind and id: *store.Store.
type Store interface {
	PutDoc(kind, id string, doc json.RawMessage) error
	ListDocs(kind string) ([]json.RawMessage, error)
	DeleteDoc(kind, id string) error
}

// Committer commits a container (by its backend id) to the image ref and
// returns the image's id: the engine.
type Committer interface {
	Commit(ctx context.Context, containerID, ref, author, message string) (string, error)
}

const docKind = "committasks"

// MaxTasks is how many tasks are kept; the oldest finished ones go first.
const MaxTasks = 200

// Request is one CommitContainer.
type Request struct {
	GroupID, Container, ContainerID string
	// Ref is the image's name, repository:tag.
	Ref             string
	Author, Message string
}

// Phase is one phase of a task: leci's one is Commit (the cloud's Push has
// no counterpart: the image stays in the local store).
type Phase struct {
	Phase, Status, Message string
	At                     time.Time
}

// Task is one commit.
type Task struct {
	ID, GroupID, Container, Ref string
	// Status is Running, Succeeded or Failed; Message says why it failed,
	// or names the image made.
	Status, Message string
	// Progress is a percentage.
	Progress              int
	ImageID               string
	CreatedAt, FinishedAt time.Time
	Phases                []Phase
}

// Options configure a Manager.
type Options struct {
	Store     Store
	Committer Committer
	// Normalize turns an image name into the reference the image store
	// keys it by.
	Normalize func(string) (string, error)
	Log       *slog.Logger
	Now       func() time.Time
}

// Manager runs and keeps the commit tasks.
type Manager struct {
	opts Options
	wg   sync.WaitGroup

	mu    sync.Mutex
	tasks map[string]*Task
}

// Open loads the tasks kept in the store; one left Running by a stopped
// daemon is recorded as failed.
func Open(opts Options) (*Manager, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Normalize == nil {
		opts.Normalize = func(s string) (string, error) { return s, nil }
	}
	m := &Manager{opts: opts, tasks: map[string]*Task{}}
	docs, err := opts.Store.ListDocs(docKind)
	if err != nil {
		return nil, fmt.Errorf("read commit tasks: %w", err)
	}
	for _, d := range docs {
		var t Task
		if err := json.Unmarshal(d, &t); err != nil {
			opts.Log.Warn("unreadable commit task record", "err", err)
			continue
		}
		if t.Status == api.TaskRunning {
			m.finish(&t, "", errors.New("leci stopped before the commit ended"))
		}
		m.tasks[t.ID] = &t
	}
	return m, nil
}

// Wait waits for the commits under way.
func (m *Manager) Wait() { m.wg.Wait() }

// Start starts a commit in the background and returns its task's id.
func (m *Manager) Start(ctx context.Context, req Request) (string, error) {
	ref, err := m.opts.Normalize(req.Ref)
	if err != nil {
		return "", fmt.Errorf("%q: %w: %v", req.Ref, ErrInvalidRef, err)
	}
	suffix, err := ids.Suffix()
	if err != nil {
		return "", err
	}
	now := m.opts.Now()
	t := &Task{
		ID: "cct-" + suffix, GroupID: req.GroupID, Container: req.Container, Ref: ref,
		Status: api.TaskRunning, CreatedAt: now,
		Phases: []Phase{{Phase: "Commit", Status: api.TaskRunning, At: now, Message: "committing to " + ref}},
	}
	m.mu.Lock()
	m.prune()
	m.tasks[t.ID] = t
	err = m.save(t)
	m.mu.Unlock()
	if err != nil {
		return "", err
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		id, err := m.opts.Committer.Commit(ctx, req.ContainerID, ref, req.Author, req.Message)
		m.mu.Lock()
		defer m.mu.Unlock()
		m.finish(t, id, err)
	}()
	return t.ID, nil
}

// finish records the end of a task.
func (m *Manager) finish(t *Task, imageID string, err error) {
	now := m.opts.Now()
	t.FinishedAt = now
	p := Phase{Phase: "Commit", At: now}
	if err != nil {
		t.Status, t.Message, p.Status, p.Message = api.TaskFailed, err.Error(), api.TaskFailed, err.Error()
	} else {
		t.Status, t.Progress, t.ImageID = api.TaskSucceeded, 100, imageID
		t.Message = "committed to " + t.Ref
		p.Status, p.Message = api.TaskSucceeded, t.Message+" ("+imageID+")"
	}
	if n := len(t.Phases); n > 0 && t.Phases[n-1].Phase == p.Phase {
		t.Phases[n-1] = p
	} else {
		t.Phases = append(t.Phases, p)
	}
	if err := m.save(t); err != nil {
		m.opts.Log.Warn("record commit task", "task", t.ID, "err", err)
	}
}

// prune drops the oldest finished tasks beyond MaxTasks.
func (m *Manager) prune() {
	if len(m.tasks) < MaxTasks {
		return
	}
	var done []*Task
	for _, t := range m.tasks {
		if t.Status != api.TaskRunning {
			done = append(done, t)
		}
	}
	slices.SortFunc(done, func(a, b *Task) int { return a.CreatedAt.Compare(b.CreatedAt) })
	for _, t := range done[:max(0, len(m.tasks)-MaxTasks+1)] {
		delete(m.tasks, t.ID)
		if err := m.opts.Store.DeleteDoc(docKind, t.ID); err != nil {
			m.opts.Log.Warn("drop commit task", "task", t.ID, "err", err)
		}
	}
}

// List returns a copy of every task, newest first.
func (m *Manager) List() []Task {
	m.mu.Lock()
	out := make([]Task, 0, len(m.tasks))
	for _, t := range m.tasks {
		c := *t
		c.Phases = slices.Clone(t.Phases)
		out = append(out, c)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Task) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

func (m *Manager) save(t *Task) error {
	doc, err := json.Marshal(t)
	if err != nil {
		return fmt.Errorf("encode commit task: %w", err)
	}
	if err := m.opts.Store.PutDoc(docKind, t.ID, doc); err != nil {
		return fmt.Errorf("record commit task %s: %w", t.ID, err)
	}
	return nil
}
