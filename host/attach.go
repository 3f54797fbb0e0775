package host

import (
	"context"
	"io"

	"leci/logs"
)

// followLog is the engine's FollowLog: what a container's log gets from
// now on, until its writer is done (the container's run has ended), each
// line to the writer of its stream.
func followLog(ctx context.Context, path string, stdout, stderr io.Writer, opened func()) error {
	opts := logs.FollowOptions{ReadOptions: logs.ReadOptions{Tail: -1}, UntilWriterDone: true, Opened: opened}
	return logs.Follow(ctx, path, opts, lineWriter(stdout, stderr))
}

// lineWriter writes each log line, with its newline, to the writer of its
// stream; a nil writer drops its stream.
func lineWriter(stdout, stderr io.Writer) func(logs.Line) error {
	return func(l logs.Line) error {
		w := stdout
		if l.Stream == logs.Stderr {
			w = stderr
		}
		if w == nil {
			return nil
		}
		_, err := io.WriteString(w, l.Text+"\n")
		return err
	}
}
