package probes

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"leci/api"
)

// Kind is the type of a probe.
type Kind int

const (
	Readiness Kind = iota + 1
	Liveness
)

func (k Kind) String() string {
	switch k {
	case Readiness:
		return "readiness"
	case Liveness:
		return "liveness"
	}
	return "unknown"
}

// initial is the result a probe of kind k has before it has run: a
// container is not ready until proven so, and alive until proven dead.
func (k Kind) initial() Result {
	if k == Liveness {
		return Success
	}
	return Failure
}

// Key names one worker: one run (Attempt) of one container and one kind of
// probe. A restarted container is a new attempt and so a new key.
type Key struct {
	GroupID   string
	Container string
	Attempt   int
	Kind      Kind
}

// Update is a change of a worker's thresholded result, with the message of
// the probe that caused it.
type Update struct {
	Key
	Result  Result
	Message string
}

// Options tune a Manager.
type Options struct {
	// Observe, when set, sees the raw result of every probe run, before
	// thresholds (for Unhealthy events, which the kubelet emits for each
	// failed probe). It is called from the worker's goroutine and must
	// not block.
	Observe func(Update)
}

// updatesBuffer lets workers run ahead of a busy engine for a while; past
// it they wait, each until it is stopped.
const updatesBuffer = 64

// Manager runs probe workers: one goroutine per Key.
type Manager struct {
	ex      Execer
	observe func(Update)
	log     *slog.Logger
	updates chan Update

	mu      sync.Mutex
	workers map[Key]*worker
	results map[Key]Result
}

// NewManager returns a Manager that runs Exec probes through ex and logs
// to log (nil: nowhere).
func NewManager(ex Execer, log *slog.Logger, opts Options) *Manager {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Manager{
		ex:      ex,
		observe: opts.Observe,
		log:     log,
		updates: make(chan Update, updatesBuffer),
		workers: make(map[Key]*worker),
		results: make(map[Key]Result),
	}
}

// Updates delivers every change of a thresholded result. An update may
// still arrive shortly after Stop for its key, so the reader should ignore
// keys (attempts) it no longer runs.
func (m *Manager) Updates() <-chan Update { return m.updates }

// Start runs probe p for key against t until Stop, StopAll or the end of
// ctx (the engine's lifetime). Get returns the kind's initial value at once;
// Start for a key that already runs does nothing.
func (m *Manager) Start(ctx context.Context, key Key, p *api.Probe, t Target) {
	if p == nil {
		return
	}
	log := m.log.With("group", key.GroupID, "container", key.Container, "attempt", key.Attempt, "probe", key.Kind.String())
	if key.Kind != Readiness && key.Kind != Liveness {
		log.Error("probe of unknown kind not started")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.workers[key]; ok {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	w := &worker{m: m, key: key, probe: *p, target: t, cancel: cancel, log: log}
	m.workers[key] = w
	m.results[key] = key.Kind.initial()
	go w.run(wctx)
}

// Stop ends key's worker, aborting a probe in flight, and forgets its
// result. It does not wait, and stopping twice or an unknown key is fine.
func (m *Manager) Stop(key Key) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopLocked(key)
}

// StopAll stops every worker of a group.
func (m *Manager) StopAll(groupID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for key := range m.workers {
		if key.GroupID == groupID {
			m.stopLocked(key)
		}
	}
}

func (m *Manager) stopLocked(key Key) {
	if w, ok := m.workers[key]; ok {
		w.cancel()
		delete(m.workers, key)
	}
	delete(m.results, key)
}

// Get returns key's thresholded result; false when no worker runs for it.
func (m *Manager) Get(key Key) (Result, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.results[key]
	return r, ok
}

// set records w's new thresholded result and publishes it if it changed.
// A worker that was stopped meanwhile records nothing.
func (m *Manager) set(ctx context.Context, w *worker, r Result, msg string) {
	m.mu.Lock()
	if m.workers[w.key] != w {
		m.mu.Unlock()
		return
	}
	old := m.results[w.key]
	m.results[w.key] = r
	m.mu.Unlock()
	if old == r {
		return
	}
	select {
	case m.updates <- Update{Key: w.key, Result: r, Message: msg}:
	case <-ctx.Done():
	}
}

// exited forgets a worker that ended with its context (the engine's
// lifetime); one that was stopped is already forgotten.
func (m *Manager) exited(w *worker) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.workers[w.key] == w {
		m.stopLocked(w.key)
	}
}

// worker probes one container with one probe. Its fields after cancel are
// used by its goroutine only.
type worker struct {
	m      *Manager
	key    Key
	probe  api.Probe
	target Target
	cancel context.CancelFunc
	log    *slog.Logger

	// last and streak count consecutive equal results against the
	// thresholds.
	last   Result
	streak int
}

// run probes at the initial delay and then every period (start to start)
// until ctx ends; after a liveness failure it only waits for the end.
func (w *worker) run(ctx context.Context) {
	defer w.m.exited(w)
	start := w.target.StartedAt
	if start.IsZero() {
		start = time.Now()
	}
	period := seconds(w.probe.PeriodSeconds, api.DefaultProbePeriodSeconds)
	next := start.Add(time.Duration(max(w.probe.InitialDelaySeconds, 0)) * time.Second)
	for {
		if !w.sleepUntil(ctx, next) {
			return
		}
		began := time.Now()
		if !w.probeOnce(ctx) {
			// On hold: the container is to be killed and a new attempt
			// gets a new worker.
			<-ctx.Done()
			return
		}
		next = began.Add(period)
	}
}

// sleepUntil waits until t; false when ctx ended.
func (w *worker) sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return ctx.Err() == nil
	case <-ctx.Done():
		return false
	}
}

// probeOnce runs the probe, applies the thresholds and records the result;
// false means hold (liveness failed).
func (w *worker) probeOnce(ctx context.Context) bool {
	res, msg := Run(ctx, w.m.ex, &w.probe, w.target)
	if ctx.Err() != nil {
		// Stopped while probing: the result is an artefact of the stop.
		return true
	}
	if w.m.observe != nil {
		w.m.observe(Update{Key: w.key, Result: res, Message: msg})
	}
	if res == Unknown {
		// Could not run: neither a success nor a failure, and the streak
		// goes on as if this run never happened.
		w.log.Debug("probe could not run", "msg", msg)
		return true
	}
	if res == w.last {
		w.streak++
	} else {
		w.last, w.streak = res, 1
	}
	if res == Failure && w.streak < orDefault(w.probe.FailureThreshold, api.DefaultProbeFailureThreshold) ||
		res == Success && w.streak < orDefault(w.probe.SuccessThreshold, api.DefaultProbeSuccessThreshold) {
		return true
	}
	if res == Failure {
		w.log.Debug("probe failed", "msg", msg)
	}
	w.m.set(ctx, w, res, msg)
	return !(w.key.Kind == Liveness && res == Failure)
}

// orDefault is n, or def when n is unset (a request that skipped
// api's defaults).
func orDefault(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}
