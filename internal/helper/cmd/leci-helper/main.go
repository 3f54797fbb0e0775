// Command leci-helper is the small program leci runs for each container, as
// its log writer ("leci-helper log-writer PATH", run by containerd's runc
// shim), and for each group, as its sandbox process ("/leci pause" in the
// sandbox's root filesystem). It takes the same argv as the leci commands
// it stands for and runs the same code (logs.RunShimWriter, pause.Run), but
// it links only the standard library, golang.org/x/sys/unix and those two
// packages: it starts in a few milliseconds and, since such a process lives
// as long as its container or group, it stays small while it waits.
//
// The leci binary carries it (package leci/internal/helper) and writes it
// out to its state directory on first use.
package main

import (
	"context"
	"fmt"
	"os"

	"leci/internal/pause"
	"leci/logs"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

// run executes the command line and returns the process's exit code: 0, 1
// when the command failed, 2 for a command line it does not know.
func run(args []string) int {
	var cmd func(context.Context) error
	switch {
	case len(args) == 2 && args[0] == logs.WriterCommand:
		cmd = func(ctx context.Context) error { return logs.RunShimWriter(ctx, args[1], logs.WriterOptions{}) }
	case len(args) == 1 && args[0] == "pause":
		cmd = pause.Run
	default:
		fmt.Fprintf(os.Stderr, "usage: leci-helper %s PATH | pause (got %q)\n", logs.WriterCommand, args)
		return 2
	}
	if err := cmd(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "leci:", err)
		return 1
	}
	return 0
}
