package main

import (
	"testing"
	"time"
)

func TestGroupMetricsSettings(t *testing.T) {
	for _, c := range []struct {
		interval, history         time.Duration
		wantInterval, wantHistory time.Duration
		wantErr                   bool
	}{
		{15 * time.Second, time.Hour, 15 * time.Second, time.Hour, false},
		{0, time.Hour, -1, time.Hour, false}, // only when asked: the engine's "never"
		{-time.Second, time.Hour, 0, 0, true},
		{time.Second, 0, 0, 0, true},
		{time.Second, -time.Minute, 0, 0, true},
	} {
		interval, history, err := groupMetricsSettings(c.interval, c.history)
		if (err != nil) != c.wantErr {
			t.Errorf("groupMetricsSettings(%v, %v): error %v, want one: %v", c.interval, c.history, err, c.wantErr)
			continue
		}
		if err == nil && (interval != c.wantInterval || history != c.wantHistory) {
			t.Errorf("groupMetricsSettings(%v, %v) = %v, %v; want %v, %v", c.interval, c.history, interval, history, c.wantInterval, c.wantHistory)
		}
	}
}
