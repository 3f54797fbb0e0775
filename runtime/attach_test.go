package runtime

import "testing"

// A StdinOnce run's stdin is given to one attach only.
func TestSpentStdinsTakeOnce(t *testing.T) {
	var s spentStdins
	if !s.take("a") {
		t.Fatal("the first attach to a was refused")
	}
	if s.take("a") {
		t.Error("a second attach to a got its stdin")
	}
	if !s.take("b") {
		t.Error("the first attach to b was refused after a's")
	}
}
