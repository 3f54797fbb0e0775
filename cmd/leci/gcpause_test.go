package main

import (
	"runtime/debug"
	"testing"
	"testing/synctest"
	"time"
)

// The collector is held back by the memory limit alone while paused, runs
// as before once resumed, and a pause with a limit in time ends by itself.
func TestPauseGC(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		before, limit := debug.SetGCPercent(100), debug.SetMemoryLimit(-1)
		defer debug.SetGCPercent(before)
		defer debug.SetMemoryLimit(limit)

		p := pauseGC(time.Second)
		if got := debug.SetGCPercent(-1); got != -1 {
			t.Errorf("GC percent while paused: %d, want -1 (off)", got)
		}
		if got := debug.SetMemoryLimit(-1); got != gcPauseLimit {
			t.Errorf("memory limit while paused: %d, want %d", got, gcPauseLimit)
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		if got := debug.SetGCPercent(-1); got != 100 {
			t.Errorf("GC percent after the pause's time: %d, want 100", got)
		}
		p.resume() // a second resume changes nothing
		if got := debug.SetGCPercent(-1); got != -1 {
			t.Errorf("GC percent after a second resume: %d, want what it was set to (-1)", got)
		}
		debug.SetGCPercent(100)

		p = pauseGC(0)
		p.resume()
		if got := debug.SetGCPercent(-1); got != 100 {
			t.Errorf("GC percent after resume: %d, want 100", got)
		}
	})
}
