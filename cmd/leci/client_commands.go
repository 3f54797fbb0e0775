package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"leci/api"
)

// newClientCommands returns the commands that talk to a leci daemon.
func newClientCommands(g *globalOptions) []*cobra.Command {
	o := clientOptions{g: g}
	cmds := []*cobra.Command{
		newCreateCommand(&o), newPsCommand(&o), newDescribeCommand(&o),
		newLogsCommand(&o), newExecCommand(&o), newDeleteCommand(&o),
		newEventsCommand(&o), newRestartCommand(&o), newTopCommand(&o), newWaitCommand(&o),
		newAttachCommand(&o),
	}
	cmds = append(cmds, newAPICommands(&o)...)
	for _, cmd := range cmds {
		// The runtime's flags (--root, --runtime, ...) mean nothing to a
		// client of the daemon: its help lists its own only.
		cmd.SetUsageTemplate(clientUsageTemplate(cmd))
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
	addInputFormatFlag(cmd, &opts.format)
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
	printID := func(r api.CreateContainerGroupResponse) error {
		resp = r
		_, err := fmt.Fprintln(cmd.OutOrStdout(), r.ContainerGroupID)
		return err
	}
	if opts.wait == "" || opts.dryRun {
		err = c.call(cmd.Context(), "CreateContainerGroup", api.EncodeValues(req), &resp)
		if err == nil {
			return printID(resp)
		}
	} else {
		// The pulls show as they go, then the group's way to --wait.
		err = c.createShowingPulls(cmd.Context(), api.EncodeValues(req), cmd.ErrOrStderr(), printID)
	}
	if err == nil {
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
	var (
		quiet, all bool
		filters    []string
		out        *outputOptions
	)
	cmd := &cobra.Command{
		Use:     "ps",
		Aliases: []string{"ls"},
		Short:   "List the container groups",
		Long: `List the container groups that have not ended (with -a, every group), as
DescribeContainerGroups returns them. --filter narrows the list: status=STATUS,
name=NAME, id=ID and tag:KEY=VALUE (repeatable: the same key several times
means any of them, different keys all of them). A status filter shows ended
groups too. -q prints only the ids; -o json or yaml prints the ECI group
objects, and --format prints each with a Go template over them, as docker's:
--format '{{.ContainerGroupId}} {{.Status}}'.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(cmd); err != nil {
				return err
			}
			return psAction(cmd, o, out, psQuery{quiet: quiet, all: all, filters: filters})
		},
	}
	out = addOutputFlags(cmd, true, "table", "wide", "json", "yaml")
	f := cmd.Flags()
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the group ids")
	f.BoolVarP(&all, "all", "a", false, "list the groups that ended too (Succeeded, Failed, Expired)")
	f.StringArrayVar(&filters, "filter", nil, "status=STATUS, name=NAME, id=ID or tag:KEY=VALUE (repeatable)")
	_ = cmd.RegisterFlagCompletionFunc("filter", cobra.FixedCompletions(
		[]string{"status=Pending", "status=Running", "status=Succeeded", "status=Failed", "status=Expired", "name=", "id=", "tag:"},
		cobra.ShellCompDirectiveNoFileComp|cobra.ShellCompDirectiveNoSpace))
	return cmd
}

// psQuery is what leci ps asks for.
type psQuery struct {
	quiet, all bool
	filters    []string
}

// groupFilter is the --filter of leci ps: values by key, where several
// values of one key mean any of them; tags must all match.
type groupFilter struct {
	status, name, id []string
	tags             []api.TagFilter
}

func parseGroupFilters(filters []string) (groupFilter, error) {
	var gf groupFilter
	for _, f := range filters {
		if tag, ok := strings.CutPrefix(f, "tag:"); ok {
			k, v, _ := strings.Cut(tag, "=")
			if k == "" {
				return gf, usageErrorf("--filter %q: want tag:KEY=VALUE", f)
			}
			gf.tags = append(gf.tags, api.TagFilter{Key: k, Value: v})
			continue
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || v == "" {
			return gf, usageErrorf("--filter %q: want status=STATUS, name=NAME, id=ID or tag:KEY=VALUE", f)
		}
		switch strings.ToLower(k) {
		case "status":
			st := api.GroupStatus(v)
			if !st.Known() {
				return gf, usageErrorf("--filter %q: %q is not a container group status", f, v)
			}
			gf.status = append(gf.status, v)
		case "name":
			gf.name = append(gf.name, v)
		case "id":
			gf.id = append(gf.id, v)
		default:
			return gf, usageErrorf("--filter %q: unknown key %q: want status, name, id or tag:KEY", f, k)
		}
	}
	return gf, nil
}

// params are the DescribeContainerGroups parameters that let the daemon
// do the filtering: each key given once, and every tag.
func (gf groupFilter) params() url.Values {
	p := url.Values{}
	if len(gf.status) == 1 {
		p.Set("Status", gf.status[0])
	}
	if len(gf.name) == 1 {
		p.Set("ContainerGroupName", gf.name[0])
	}
	if len(gf.id) > 0 {
		ids, _ := json.Marshal(gf.id)
		p.Set("ContainerGroupIds", string(ids))
	}
	for i, t := range gf.tags {
		p.Set(fmt.Sprintf("Tag.%d.Key", i+1), t.Key)
		p.Set(fmt.Sprintf("Tag.%d.Value", i+1), t.Value)
	}
	return p
}

// match applies the filters the daemon could not (a key given several
// times), and hides ended groups unless all is set or a status is asked.
func (gf groupFilter) match(g api.ContainerGroupDetail, all bool) bool {
	if !all && len(gf.status) == 0 && groupEnded(g.Status) {
		return false
	}
	return (len(gf.status) < 2 || slices.Contains(gf.status, string(g.Status))) &&
		(len(gf.name) < 2 || slices.Contains(gf.name, g.ContainerGroupName))
}

// groupEnded tells whether a group is in a status it does not leave.
func groupEnded(s api.GroupStatus) bool {
	return s == api.GroupSucceeded || s == api.GroupFailed || s == api.GroupExpired
}

func psAction(cmd *cobra.Command, o *clientOptions, out *outputOptions, q psQuery) error {
	gf, err := parseGroupFilters(q.filters)
	if err != nil {
		return err
	}
	p := gf.params()
	p.Set("WithEvent", "false")
	all, err := o.listGroups(cmd.Context(), p)
	if err != nil {
		return err
	}
	var groups []api.ContainerGroupDetail
	for _, g := range all {
		if gf.match(g, q.all) {
			groups = append(groups, g)
		}
	}
	w := cmd.OutOrStdout()
	switch {
	case q.quiet:
		for _, g := range groups {
			fmt.Fprintln(w, g.ContainerGroupID)
		}
		return nil
	case out.format != "":
		return writeTemplate(w, out.format, groups)
	}
	return out.writeOutput(w, api.JSONList[api.ContainerGroupDetail](groups), func(form string) error {
		return printGroupTable(w, groups, time.Now(), form == "wide")
	})
}

func printGroupTable(w io.Writer, groups []api.ContainerGroupDetail, now time.Time, wide bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	header := "CONTAINER GROUP ID\tNAME\tSTATUS\tREADY\tRESTARTS\tIP\tAGE"
	if wide {
		header += "\tCPU\tMEMORY\tIPV6\tIMAGES"
	}
	fmt.Fprintln(tw, header)
	for _, g := range groups {
		ready, restarts := 0, 0
		var images []string
		for _, c := range g.Containers {
			if c.Ready {
				ready++
			}
			restarts += c.RestartCount
			images = append(images, c.Image)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%d\t%s\t%s", g.ContainerGroupID, g.ContainerGroupName, g.Status,
			ready, len(g.Containers), restarts, dash(g.IntranetIP), age(g.CreationTime, now))
		if wide {
			fmt.Fprintf(tw, "\t%g\t%gGi\t%s\t%s", g.Cpu, g.Memory, dash(g.Ipv6Address), strings.Join(images, ","))
		}
		fmt.Fprintln(tw)
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
	var out *outputOptions
	cmd := &cobra.Command{
		Use:     "describe ID|NAME",
		Aliases: []string{"inspect"},
		Short:   "Show a container group: a summary, or the ECI object",
		Long: `Show a group as a person reads it, as kubectl describe pod does: its status,
each container's state, reason, exit code, restarts, readiness, image, ports
and mounts, its conditions, volumes and last events. -o json or yaml prints
the ECI object DescribeContainerGroups returns instead.`,
		Args:              exactArgs(1),
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(cmd); err != nil {
				return err
			}
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			return out.writeOutput(w, g, func(string) error {
				return printDescribe(w, g, c.groupConditions(cmd.Context(), g.ContainerGroupID), time.Now())
			})
		},
	}
	out = addOutputFlags(cmd, false, "text", "json", "yaml")
	return cmd
}

// minArgs wants at least n positional arguments, as a usage error.
func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("%s takes at least %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
}

// maxArgs wants at most n positional arguments, as a usage error.
func maxArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("%s takes at most %d argument(s), got %d", cmd.CommandPath(), n, len(args))
		}
		return nil
	}
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
// exec

func newExecCommand(o *clientOptions) *cobra.Command {
	var container, workdir, user string
	var stdin, tty bool
	var env []string
	cmd := &cobra.Command{
		Use:   "exec ID|NAME [-c CONTAINER] [-i] [-t] [--] COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Long: `Run a command in a running container of a group (-c; default the first app
container), in a session of the daemon (a WebSocket, as kubectl exec uses):
its standard output and standard error stream as they come, each to leci's
own, and leci exits with the command's exit code.

With -i leci's standard input goes to the command (its end closes the
command's); with -t the command gets a terminal, with the local one in raw
mode and its size followed (a terminal merges standard error into standard
output). -e adds to the container's environment, -w and -u replace its
working directory and user (UID[:GID]; Docker takes a name too). "--"
before the command is needed only when the command has flags.`,
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			command, err := execCommandArgs(cmd, args)
			if err != nil {
				return err
			}
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			for _, kv := range env {
				if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
					return usageErrorf("-e %q: want KEY=VALUE", kv)
				}
			}
			return execSession(cmd, c, execSessionOptions{groupID: g.ContainerGroupID, container: container,
				command: command, stdin: stdin, tty: tty, env: env, workdir: workdir, user: user})
		},
	}
	cmd.Flags().StringVarP(&container, "container", "c", "", "container name (default: the first app container)")
	cmd.Flags().BoolVarP(&stdin, "stdin", "i", false, "send standard input to the command")
	cmd.Flags().BoolVarP(&tty, "tty", "t", false, "give the command a terminal")
	cmd.Flags().StringArrayVarP(&env, "env", "e", nil, "KEY=VALUE added to the command's environment (repeatable)")
	cmd.Flags().StringVarP(&workdir, "workdir", "w", "", "the command's working directory")
	cmd.Flags().StringVarP(&user, "user", "u", "", "the command's user: UID[:GID] (a name with Docker)")
	o.completeContainerFlag(cmd, "container")
	return cmd
}

// execCommandArgs is the command of an exec command line: what follows
// "--", or, without it, what follows the group, as kubectl takes it.
func execCommandArgs(cmd *cobra.Command, args []string) ([]string, error) {
	const usage = "usage: leci exec ID|NAME [-c CONTAINER] [-i] [-t] [--] COMMAND [ARG...]"
	if dash := cmd.ArgsLenAtDash(); (dash == -1 || dash == 1) && len(args) >= 2 {
		return args[1:], nil
	}
	return nil, usageErrorf(usage)
}

// ---------------------------------------------------------------------------
// delete

func newDeleteCommand(o *clientOptions) *cobra.Command {
	var wait bool
	var waitTimeout time.Duration
	cmd := &cobra.Command{
		Use:     "delete ID|NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete container groups",
		Long: `Delete each group: the daemon answers at once and stops the group in the
background (preStop, SIGTERM, the grace period, SIGKILL), then removes
everything it made. Each deleted group's id is printed. With --wait the
command returns once each group is gone (or --wait-timeout passes: exit 1).`,
		Args:              needGroups,
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			var after func(*apiClient, string) error
			if wait {
				after = func(c *apiClient, id string) error { return waitGone(cmd.Context(), c, id, waitTimeout) }
			}
			return forEachGroup(cmd, o, args, "delete", "DeleteContainerGroup", after)
		},
	}
	cmd.Flags().BoolVar(&wait, "wait", false, "wait until each group is gone")
	cmd.Flags().DurationVar(&waitTimeout, "wait-timeout", 10*time.Minute, "how long --wait waits for each group")
	return cmd
}

// needGroups refuses a command line that names no group.
func needGroups(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return usageErrorf("%s needs at least one group id or name", cmd.CommandPath())
	}
	return nil
}

// forEachGroup calls an action that takes a ContainerGroupId on each group
// named by id or name, then after (when not nil), printing the id of each
// done, and tells whether any failed.
func forEachGroup(cmd *cobra.Command, o *clientOptions, args []string, verb, action string, after func(*apiClient, string) error) error {
	failed := false
	for _, arg := range args {
		err := func() error {
			c, g, err := o.clientFor(cmd.Context(), arg)
			if err != nil {
				return err
			}
			var resp api.ResponseMeta
			if err := c.call(cmd.Context(), action, url.Values{"ContainerGroupId": {g.ContainerGroupID}}, &resp); err != nil {
				return err
			}
			if after != nil {
				if err := after(c, g.ContainerGroupID); err != nil {
					return err
				}
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
