package testutil

import (
	"os"
	"testing"
)

// A process starts after its parent: Stat's start times order them.
func TestStatStartOrdersByAge(t *testing.T) {
	self, ok := Stat(os.Getpid())
	if !ok {
		t.Fatal("no stat for this process")
	}
	parent, ok := Stat(self.PPID)
	if !ok {
		t.Fatalf("no stat for the parent %d", self.PPID)
	}
	if self.Start == 0 || parent.Start > self.Start {
		t.Errorf("start ticks: parent %d, this process %d; want the parent's first, both set", parent.Start, self.Start)
	}
	if self.State == "" || self.Comm == "" {
		t.Errorf("stat %+v: state and command name missing", self)
	}
}
