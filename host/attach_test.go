package host

import (
	"strings"
	"testing"

	"leci/logs"
)

// An attach's output keeps each line on its own stream, newline restored;
// a stream without a writer is dropped.
func TestLineWriterStreams(t *testing.T) {
	var out, errOut strings.Builder
	w := lineWriter(&out, &errOut)
	for _, l := range []logs.Line{{Stream: logs.Stdout, Text: "one"}, {Stream: logs.Stderr, Text: "oops"}, {Stream: logs.Stdout, Text: ""}} {
		if err := w(l); err != nil {
			t.Fatal(err)
		}
	}
	if out.String() != "one\n\n" || errOut.String() != "oops\n" {
		t.Errorf("stdout %q, stderr %q; want \"one\\n\\n\" and \"oops\\n\"", out.String(), errOut.String())
	}
	if err := lineWriter(&out, nil)(logs.Line{Stream: logs.Stderr, Text: "dropped"}); err != nil || strings.Contains(out.String(), "dropped") {
		t.Errorf("a line of a stream without a writer: %v, stdout %q", err, out.String())
	}
}
