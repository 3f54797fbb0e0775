// Command pause is "leci pause" without the rest of leci, for tests that
// need the sandbox process as a static binary before the command is
// reachable in leci's own: "pause pause".
package main

import (
	"context"
	"fmt"
	"os"

	"leci/internal/pause"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] != "pause" {
		fmt.Fprintf(os.Stderr, "usage: %s pause (got %q)\n", os.Args[0], os.Args[1:])
		os.Exit(2)
	}
	if err := pause.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "pause:", err)
		os.Exit(1)
	}
}
