package capped

import (
	"sync"
	"testing"
)

func TestBufferKeepsTheFirstMaxBytes(t *testing.T) {
	b := &Buffer{Max: 5}
	for _, s := range []string{"abc", "defg", "hij"} {
		if n, err := b.Write([]byte(s)); n != len(s) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want %d, nil", s, n, err, len(s))
		}
	}
	if got := string(b.Bytes()); got != "abcde" {
		t.Errorf("kept %q, want abcde", got)
	}
}

func TestBufferConcurrentWriters(t *testing.T) {
	b := &Buffer{Max: 1000}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				b.Write([]byte("x"))
			}
		}()
	}
	wg.Wait()
	if n := len(b.Bytes()); n != 1000 {
		t.Errorf("kept %d bytes, want 1000", n)
	}
}
