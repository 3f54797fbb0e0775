package main

import (
	"github.com/spf13/cobra"

	"leci/logs"
)

// newLogWriterCommand is the binary logger containerd's runc shim runs for
// each container (cio.BinaryIO with logs.BinaryArgs): "leci log-writer
// PATH", with the container's stdout and stderr on fds 3 and 4 and a ready
// pipe on fd 5. It is the shim's child, so it outlives leci daemon restarts;
// it ends when both streams do.
func newLogWriterCommand() *cobra.Command {
	return &cobra.Command{
		Use:    logs.WriterCommand + " PATH",
		Short:  "Write a container's output to its log file (run by containerd's shim)",
		Hidden: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErrorf("%s takes the log file's path, got %q", cmd.CommandPath(), args)
			}
			return logs.RunShimWriter(cmd.Context(), args[0], logs.WriterOptions{})
		},
	}
}
