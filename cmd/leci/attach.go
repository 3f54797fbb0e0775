package main

import (
	"net/url"

	"github.com/spf13/cobra"

	"leci/api"
	"leci/server"
)

func newAttachCommand(o *clientOptions) *cobra.Command {
	var container string
	var stdin bool
	cmd := &cobra.Command{
		Use:   "attach ID|NAME [-c CONTAINER] [-i]",
		Short: "Attach to the process of a running container",
		Long: `Attach to the process of a running container of a group (-c; default the
first app container), as kubectl attach does, in a session of the daemon
(the WebSocket exec uses): the container's standard output and standard
error from now on stream to leci's own, line by line.

With -i leci's standard input goes to the container's, which the
container keeps open when it sets Stdin; with StdinOnce the container's
standard input is closed when this first attach ends. Leaving (^C) ends
the attach, not the container; when the container ends, leci exits with
its exit code.`,
		Args:              exactArgs(1),
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := url.Values{"ContainerGroupId": {g.ContainerGroupID}}
			if container != "" {
				p.Set("ContainerName", container)
			}
			if stdin {
				p.Set("Stdin", "true")
			}
			var resp api.ExecContainerCommandResponse
			if err := c.call(cmd.Context(), server.ActionAttachContainer, p, &resp); err != nil {
				return err
			}
			return streamSession(cmd.Context(), c, resp.WebSocketURI, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), stdin, -1)
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the first app container)")
	cmd.Flags().BoolVarP(&stdin, "stdin", "i", false, "send standard input to the container's")
	o.completeContainerFlag(cmd, "container")
	return cmd
}
