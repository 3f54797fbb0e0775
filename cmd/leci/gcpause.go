package main

import (
	"runtime/debug"
	"sync"
	"time"
)

// A foreground run spends its CPU in two bursts, setting the group up and
// taking it down, and in between mostly waits. Go's collector, left at its
// default, runs cycle after cycle in those bursts as the heap grows from
// nothing: on a one-container group it cost a third of leci's own CPU
// (45 of 220 ms, perf stat, two cores), time the group's processes wait
// for. So the collector waits during the bursts, held back by a memory
// limit alone (Go's GOGC=off with GOMEMLIMIT): it still runs if leci's
// memory nears gcPauseLimit, so a burst cannot grow it past that.
const (
	gcPauseLimit = 64 << 20
	// gcPauseMax is how long the setup's pause lasts at most: a group that
	// runs longer is followed with the collector at its default.
	gcPauseMax = 10 * time.Second
)

// gcPause holds the collector back until resume is called (or, for a
// pause with a limit in time, until that passes).
type gcPause struct {
	mu      sync.Mutex
	resumed bool
	percent int
	limit   int64
	timer   *time.Timer
}

// pauseGC holds the collector back for at most d (0: until resume).
func pauseGC(d time.Duration) *gcPause {
	p := &gcPause{percent: debug.SetGCPercent(-1), limit: debug.SetMemoryLimit(gcPauseLimit)}
	if d > 0 {
		// Under the lock: the timer's resume may run before AfterFunc returns.
		p.mu.Lock()
		p.timer = time.AfterFunc(d, p.resume)
		p.mu.Unlock()
	}
	return p
}

// resume lets the collector run as it did before the pause; again, it
// does nothing.
func (p *gcPause) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resumed {
		return
	}
	p.resumed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	debug.SetMemoryLimit(p.limit)
	debug.SetGCPercent(p.percent)
}
