package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/spf13/cobra"
)

// waitPoll is how often the waiting commands ask the daemon.
const waitPoll = 300 * time.Millisecond

func newWaitCommand(o *clientOptions) *cobra.Command {
	var (
		forWhat string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "wait ID|NAME... [--for exit|running|ready]",
		Short: "Wait until container groups end, run or are ready",
		Long: `Wait until each group has ended (--for exit, the default: Succeeded, Failed or
Expired), is running (--for running), or is running with every container ready
(--for ready), then print its id and status. Exit status: 0 when every group
got there (with --for exit: and Succeeded), 1 when one failed, ended first,
was deleted or --timeout passed.`,
		Args:              needGroups,
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch forWhat {
			case "exit", "running", "ready":
			default:
				return usageErrorf("unknown --for %q: want exit, running or ready", forWhat)
			}
			failed := false
			for _, arg := range args {
				c, g, err := o.clientFor(cmd.Context(), arg)
				if err == nil {
					g, err = waitFor(cmd.Context(), c, io.Discard, g.ContainerGroupID, forWhat, timeout)
				}
				if g.ContainerGroupID != "" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", g.ContainerGroupID, g.Status)
				}
				if err != nil {
					failed = true
					fmt.Fprintf(cmd.ErrOrStderr(), "leci: wait %s: %v\n", arg, err)
				}
			}
			if failed {
				return silentExit(exitFailed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&forWhat, "for", "exit", "exit, running or ready")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "give up after this long (0: no limit)")
	_ = cmd.RegisterFlagCompletionFunc("for", cobra.FixedCompletions([]string{"exit", "running", "ready"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// waitGone waits until the daemon no longer has the group.
func waitGone(ctx context.Context, c *apiClient, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ids, _ := json.Marshal([]string{id})
	for {
		groups, err := c.describeGroups(ctx, url.Values{"ContainerGroupIds": {string(ids)}, "WithEvent": {"false"}})
		if err == nil && len(groups) == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s was not gone within %s", id, timeout)
		}
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(waitPoll):
		}
	}
}
