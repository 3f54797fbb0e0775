package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"leci/api"
)

// newClientCommands returns the commands that talk to a leci daemon.
func newClientCommands(g *globalOptions) []*cobra.Command {
	_ = g // the daemon's address is the client's only setting
	var o clientOptions
	cmds := []*cobra.Command{
		newCreateCommand(&o), newPsCommand(&o), newDescribeCommand(&o),
		newLogsCommand(&o), newExecCommand(&o), newDeleteCommand(&o),
		newEventsCommand(&o), newRestartCommand(&o), newTopCommand(&o),
	}
	cmds = append(cmds, newAPICommands(&o)...)
	for _, cmd := range cmds {
		cmd.Flags().StringVar(&o.host, "host", "", "the daemon: unix:///PATH or tcp://HOST:PORT (default $"+envHost+", else "+defaultListen+"); "+
			"a tcp:// daemon needs $"+envAccessKey+"=ID:SECRET")
	}
	return cmds
}

// ---------------------------------------------------------------------------
// create

type createOptions struct {
	file, format, clientToken string
	dryRun                    bool
	wait                      string
	waitTimeout               time.Duration
	kube                      kubeInput
}

func newCreateCommand(o *clientOptions) *cobra.Command {
	var opts createOptions
	cmd := &cobra.Command{
		Use:   "create -f FILE",
		Short: "Create a container group through the daemon and print its id",
		Long: `Send the CreateContainerGroup request in FILE (JSON, YAML or the RPC query form)
to the leci daemon, in the form the SDKs send it, and print the new group's id.
The group comes up in the background: "leci ps" and "leci describe" show how it
goes. With --client-token, sending the same request again gives the same group.
With --dry-run the request is only validated. An invalid request exits 2.
With --wait running (or ready: running with every container ready) the command
prints the group's status changes and events on standard error until it gets
there; a group that fails first, or --wait-timeout, exits 1.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return createAction(cmd, o, opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.file, "file", "f", "", "request file (.json, .yaml, .yml, .rpc), - for standard input")
	f.StringVar(&opts.format, "format", "", "form of the request: json, yaml or rpc (default: from the file name)")
	f.StringVar(&opts.clientToken, "client-token", "", "idempotency token: the same token and request give the same group")
	f.BoolVar(&opts.dryRun, "dry-run", false, "validate the request only; create nothing")
	f.StringVar(&opts.wait, "wait", "", "wait until the group is running or ready")
	f.DurationVar(&opts.waitTimeout, "wait-timeout", 10*time.Minute, "how long --wait waits")
	addKubeInputFlags(f, &opts.kube)
	return cmd
}

func createAction(cmd *cobra.Command, o *clientOptions, opts createOptions) error {
	if opts.wait != "" && opts.wait != "running" && opts.wait != "ready" {
		return usageErrorf("unknown --wait %q: want running or ready", opts.wait)
	}
	req, err := readCreateRequest(cmd.InOrStdin(), opts.file, opts.format, opts.kube.to(cmd.ErrOrStderr()))
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		printAPIErrors(cmd.ErrOrStderr(), err)
		return silentExit(exitUsage)
	}
	if opts.clientToken != "" {
		req.ClientToken = opts.clientToken
	}
	if opts.dryRun {
		req.DryRun = true
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	var resp api.CreateContainerGroupResponse
	err = c.call(cmd.Context(), "CreateContainerGroup", api.EncodeValues(req), &resp)
	if err == nil {
		if _, err := fmt.Fprintln(cmd.OutOrStdout(), resp.ContainerGroupID); err != nil {
			return err
		}
		if opts.wait == "" || opts.dryRun {
			return nil
		}
		if err := waitGroup(cmd.Context(), c, cmd.ErrOrStderr(), resp.ContainerGroupID, opts.wait, opts.waitTimeout); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "leci: %v\n", err)
			return silentExit(exitFailed)
		}
		return nil
	}
	var ae *apiError
	switch {
	case !errors.As(err, &ae):
		return err
	case ae.resp.Code == api.ErrDryRunOperation.Code:
		fmt.Fprintf(cmd.ErrOrStderr(), "%s: %s\n", ae.resp.Code, ae.resp.Message)
		return nil
	case ae.status < 500:
		// The daemon joins several problems with "; ".
		for _, m := range strings.Split(ae.resp.Message, "; ") {
			fmt.Fprintf(cmd.ErrOrStderr(), "ERROR %s: %s\n", ae.resp.Code, m)
		}
		return silentExit(exitUsage)
	}
	return err
}

// ---------------------------------------------------------------------------
// ps

func newPsCommand(o *clientOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the daemon's container groups",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "table", "json"); err != nil {
				return err
			}
			c, err := o.client()
			if err != nil {
				return err
			}
			groups, err := c.describeGroups(cmd.Context(), url.Values{"WithEvent": {"false"}})
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), api.JSONList[api.ContainerGroupDetail](groups))
			}
			return printGroupTable(cmd.OutOrStdout(), groups, time.Now())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "table", "table or json")
	return cmd
}

func printGroupTable(w io.Writer, groups []api.ContainerGroupDetail, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER GROUP ID\tNAME\tSTATUS\tREADY\tRESTARTS\tIP\tAGE")
	for _, g := range groups {
		ready, restarts := 0, 0
		for _, c := range g.Containers {
			if c.Ready {
				ready++
			}
			restarts += c.RestartCount
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\t%s\n", g.ContainerGroupID, g.ContainerGroupName, g.Status,
			ready, len(g.Containers), restarts, dash(g.IntranetIP), age(g.CreationTime, now))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// age renders how long ago an RFC 3339 time was, as kubectl does.
func age(t string, now time.Time) string {
	at, err := time.Parse(time.RFC3339, t)
	if err != nil {
		return "-"
	}
	d := now.Sub(at)
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 2*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func writeJSONOut(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ---------------------------------------------------------------------------
// describe

func newDescribeCommand(o *clientOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "describe ID|NAME",
		Short: "Show a container group as DescribeContainerGroups shows it",
		Args:  exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output, "json", "yaml"); err != nil {
				return err
			}
			_, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSONOut(cmd.OutOrStdout(), g)
			}
			// Through JSON, so that YAML keeps the wire names.
			data, err := json.Marshal(g)
			if err != nil {
				return err
			}
			var tree any
			if err := json.Unmarshal(data, &tree); err != nil {
				return err
			}
			enc := yaml.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent(2)
			defer enc.Close()
			return enc.Encode(tree)
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "json", "json or yaml")
	return cmd
}

// exactArgs wants n positional arguments, as a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// ---------------------------------------------------------------------------
// logs

func newLogsCommand(o *clientOptions) *cobra.Command {
	var (
		container  string
		tail       int
		previous   bool
		timestamps bool
		since      time.Duration
		follow     bool
	)
	cmd := &cobra.Command{
		Use:   "logs ID|NAME",
		Short: "Print a container's log",
		Long: `Print the log of a container of a group (-c; default the first app container),
as DescribeContainerLog returns it: by default its last 500 lines, at most 2000
with --tail, and at most 1 MiB. --previous prints the log of the instance that
ran before the last restart. -f keeps printing new lines (polling the daemon
each second, across restarts of the container) until the group ends or is
deleted, or the command is interrupted.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			p := url.Values{"ContainerGroupId": {g.ContainerGroupID}}
			if container != "" {
				p.Set("ContainerName", container)
			}
			if cmd.Flags().Changed("tail") {
				p.Set("Tail", strconv.Itoa(tail))
			}
			if since > 0 {
				p.Set("SinceSeconds", strconv.Itoa(int(since.Seconds())))
			}
			if previous {
				p.Set("LastTime", "true")
			}
			if timestamps {
				p.Set("Timestamps", "true")
			}
			if follow {
				return followLogs(cmd.Context(), c, cmd.OutOrStdout(), p, timestamps)
			}
			var resp api.DescribeContainerLogResponse
			if err := c.call(cmd.Context(), "DescribeContainerLog", p, &resp); err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), resp.Content)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&container, "container", "c", "", "container name (default: the first app container)")
	f.IntVar(&tail, "tail", api.LogTailDefault, "number of last lines")
	f.BoolVarP(&previous, "previous", "p", false, "the log of the previous instance of the container")
	f.BoolVar(&timestamps, "timestamps", false, "prefix each line with its time")
	f.DurationVar(&since, "since", 0, "only lines newer than this (e.g. 10m)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new lines until the group ends")
	return cmd
}

// ---------------------------------------------------------------------------
// exec

func newExecCommand(o *clientOptions) *cobra.Command {
	var container string
	var stdin, tty bool
	cmd := &cobra.Command{
		Use:   "exec ID|NAME [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container of a group (-c; default the first app
container).

Without -i and -t the command runs with ExecContainerCommand Sync=true, and
its output (stdout and stderr together, at most 1 MiB) is printed once it has
ended. With -i (send leci's standard input; its end closes the command's) or
-t (give the command a terminal, with the local one in raw mode and its size
followed), it runs in an interactive session of the daemon, a WebSocket, and
its output streams as it comes. leci then exits with the command's exit code.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 1 || len(args) < 2 {
				return usageErrorf("usage: leci exec ID|NAME [-c CONTAINER] [-i] [-t] -- COMMAND [ARG...]")
			}
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if stdin || tty {
				return execSession(cmd, c, execSessionOptions{groupID: g.ContainerGroupID, container: container,
					command: args[1:], stdin: stdin, tty: tty})
			}
			command, err := json.Marshal(args[1:])
			if err != nil {
				return err
			}
			p := url.Values{"ContainerGroupId": {g.ContainerGroupID}, "Command": {string(command)},
				"Sync": {"true"}, "TTY": {"false"}, "Stdin": {"false"}}
			if container != "" {
				p.Set("ContainerName", container)
			}
			var resp api.ExecContainerCommandResponse
			if err := c.call(cmd.Context(), "ExecContainerCommand", p, &resp); err != nil {
				return err
			}
			_, err = io.WriteString(cmd.OutOrStdout(), resp.SyncResponse)
			return err
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the first app container)")
	cmd.Flags().BoolVarP(&stdin, "stdin", "i", false, "send standard input to the command (an interactive session)")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "give the command a terminal (an interactive session)")
	return cmd
}

// ---------------------------------------------------------------------------
// delete

func newDeleteCommand(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "delete ID|NAME...",
		Short: "Delete container groups",
		Long: `Delete each group: the daemon answers at once and stops the group in the
background (preStop, SIGTERM, the grace period, SIGKILL), then removes
everything it made. Each deleted group's id is printed.`,
		Args: needGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEachGroup(cmd, o, args, "delete", "DeleteContainerGroup")
		},
	}
}

// needGroups refuses a command line that names no group.
func needGroups(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageErrorf("%s needs at least one group id or name", cmd.CommandPath())
	}
	return nil
}

// forEachGroup calls an action that takes a ContainerGroupId on each group
// named by id or name, printing the id of each done, and tells whether any
// failed.
func forEachGroup(cmd *cobra.Command, o *clientOptions, args []string, verb, action string) error {
	c, err := o.client()
	if err != nil {
		return err
	}
	failed := false
	for _, arg := range args {
		err := func() error {
			g, err := c.resolve(cmd.Context(), arg)
			if err != nil {
				return err
			}
			var resp api.ResponseMeta
			if err := c.call(cmd.Context(), action, url.Values{"ContainerGroupId": {g.ContainerGroupID}}, &resp); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), g.ContainerGroupID)
			return nil
		}()
		if err != nil {
			failed = true
			fmt.Fprintf(cmd.ErrOrStderr(), "leci: %s %s: %v\n", verb, arg, err)
		}
	}
	if failed {
		return silentExit(exitFailed)
	}
	return nil
}
