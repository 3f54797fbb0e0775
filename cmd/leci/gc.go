package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"leci/host"
	"leci/runtime"
)

func newGCCommand(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Delete the groups of leci runs that were killed",
		Long: `Delete every group a leci run left on this root when it was killed (SIGKILL, as a
CI job's timeout does): its containers, sandbox, network, volumes and files. The
group of a leci run that is still running is never touched, nor any group of the
daemon. Each group deleted is printed. A leci run or daemon starting on the root
does the same.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return gcAction(cmd.Context(), g, cmd)
		},
	}
}

func gcAction(ctx context.Context, g *globalOptions, cmd *cobra.Command) error {
	log := g.logger(cmd.ErrOrStderr())
	own, err := newForegroundRecorder(g.root)
	if err != nil {
		return err
	}
	cfg := g.hostConfig(runtime.DefaultBackoff)
	cfg.MetricsInterval = -1
	cfg.Recorder = own
	env, err := host.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer env.Close()
	deleted, err := collectForegroundOrphans(ctx, g.root, env.Engine, own, log)
	removeOrphanShims(ctx, env, log)
	for _, id := range deleted {
		fmt.Fprintln(cmd.OutOrStdout(), id)
	}
	return err
}
