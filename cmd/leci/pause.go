package main

import (
	"github.com/spf13/cobra"

	"leci/internal/pause"
)

// newPauseCommand is the sandbox process of a group: leci runs its own
// binary as "/leci pause" from a rootfs that holds only that binary, so no
// pause image is pulled.
func newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:    "pause",
		Short:  "Hold a container group's namespaces (the sandbox process)",
		Hidden: true,
		Args:   noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return pause.Run(cmd.Context())
		},
	}
}
