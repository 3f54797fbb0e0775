package main

import (
	"runtime/debug"

	"github.com/spf13/cobra"

	"leci/internal/pause"
)

// newPauseCommand is the sandbox process of a group when leci was built
// without leci-helper (a plain go build): leci runs its own binary as
// "/leci pause" from a rootfs that holds only that binary, so no pause
// image is pulled.
func newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Hold a container group's namespaces (the sandbox process)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Give back what start-up took (the cobra command tree,
			// flags): this process lives as long as the group.
			debug.FreeOSMemory()
			return pause.Run(cmd.Context())
		},
	}
}
