package main

import (
	"github.com/spf13/cobra"
)

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "leci",
		Short: "Run Alibaba Cloud ECI container groups on this host",
		Long: `leci takes the CreateContainerGroup request of Alibaba Cloud's Elastic Container
Instance and runs the group on this Linux host with containerd: images, a shared
pod sandbox with CNI networking, volumes, init and app containers, probes, hooks
and the restart policy.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetVersionTemplate(versionLine() + "\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &exitError{code: exitUsage, err: err}
	})
	var g globalOptions
	g.register(root)
	root.AddCommand(newVersionCommand(), newValidateCommand(), newRunCommand(&g), newImageCommand(&g), newInfoCommand(&g),
		newLogWriterCommand(), newPauseCommand(), newDaemonCommand(&g), newGCCommand(&g))
	root.AddCommand(newClientCommands(&g)...)
	root.AddCommand(newKubeCommand())
	return root
}

// noArgs refuses positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args)
	}
	return nil
}
