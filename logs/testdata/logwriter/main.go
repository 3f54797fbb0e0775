// Command logwriter is the binary logger's argv contract without the rest of
// leci, for tests that need an executable for containerd's shim before
// "leci log-writer" is reachable: "logwriter log-writer PATH".
package main

import (
	"context"
	"fmt"
	"os"

	"leci/logs"
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != logs.WriterCommand {
		fmt.Fprintf(os.Stderr, "usage: %s %s PATH (got %q)\n", os.Args[0], logs.WriterCommand, os.Args[1:])
		os.Exit(2)
	}
	if err := logs.RunShimWriter(context.Background(), os.Args[2], logs.WriterOptions{}); err != nil {
		fmt.Fprintln(os.Stderr, "logwriter:", err)
		os.Exit(1)
	}
}
