package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"leci/api"
	"leci/server"
)

// ---------------------------------------------------------------------------
// events

func newEventsCommand(o *clientOptions) *cobra.Command {
	var (
		out   *outputOptions
		watch bool
	)
	cmd := &cobra.Command{
		Use:   "events ID|NAME",
		Short: "Print a container group's events",
		Long: `Print the events of a group as DescribeContainerGroupEvents returns them
(Kubernetes-style: Scheduled, Pulling, Pulled, Created, Started, Killing,
BackOff, probe failures, ...), oldest first. With -w, keep printing events as
they come (new ones, and those seen again with a higher count), one per line,
until the group is deleted or leci is interrupted.`,
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
			events, _, err := c.groupEvents(cmd.Context(), g.ContainerGroupID)
			if err != nil {
				return err
			}
			if !watch {
				if out.format != "" {
					return writeTemplate(w, out.format, events)
				}
				return out.writeOutput(w, api.JSONList[api.ContainerGroupEvent](events), func(string) error {
					return printEventTable(w, events)
				})
			}
			return watchEvents(cmd.Context(), c, g.ContainerGroupID, events, func(batch []api.ContainerGroupEvent, first bool) error {
				switch {
				case out.format != "":
					return writeTemplate(w, out.format, batch)
				case out.output == "json":
					// One object a line, as a stream of JSON is read.
					for _, e := range batch {
						if err := json.NewEncoder(w).Encode(e); err != nil {
							return err
						}
					}
					return nil
				case out.output == "yaml":
					return writeYAMLOut(w, batch)
				}
				return printEventRows(w, batch, first)
			})
		},
	}
	out = addOutputFlags(cmd, true, "table", "json", "yaml")
	cmd.Flags().BoolVarP(&watch, "watch", "w", false, "keep printing events as they come")
	return cmd
}

// groupEvents returns a group's events, oldest first, and whether the
// daemon still has the group.
func (c *apiClient) groupEvents(ctx context.Context, id string) ([]api.ContainerGroupEvent, bool, error) {
	ids, _ := json.Marshal([]string{id})
	var resp api.DescribeContainerGroupEventsResponse
	err := c.call(ctx, "DescribeContainerGroupEvents", url.Values{"ContainerGroupIds": {string(ids)}}, &resp)
	var ae *apiError
	switch {
	case errors.As(err, &ae) && ae.resp.Code == server.CodeGroupNotFound:
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	var events []api.ContainerGroupEvent
	for _, d := range resp.Data {
		events = append(events, d.Events...)
	}
	return events, len(resp.Data) > 0, nil
}

// eventsPoll is how often leci events -w asks for new events.
var eventsPoll = time.Second

// watchEvents prints the events there are, then each new or recounted
// one, until the group is gone or ctx is done.
func watchEvents(ctx context.Context, c *apiClient, id string, events []api.ContainerGroupEvent, print func([]api.ContainerGroupEvent, bool) error) error {
	seen := map[string]int{}
	fresh := func(events []api.ContainerGroupEvent) []api.ContainerGroupEvent {
		var out []api.ContainerGroupEvent
		for _, e := range events {
			key := e.Type + "|" + e.Reason + "|" + e.InvolvedObject.Name + "|" + e.Message + "|" + e.FirstTimestamp
			if seen[key] != e.Count {
				seen[key] = e.Count
				out = append(out, e)
			}
		}
		return out
	}
	if err := print(fresh(events), true); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(eventsPoll):
		}
		events, found, err := c.groupEvents(ctx, id)
		switch {
		case ctx.Err() != nil, err == nil && !found:
			return nil
		case err != nil:
			return err
		}
		if batch := fresh(events); len(batch) > 0 {
			if err := print(batch, false); err != nil {
				return err
			}
		}
	}
}

func printEventTable(w io.Writer, events []api.ContainerGroupEvent) error {
	return printEventRows(w, events, true)
}

// printEventRows prints events as table rows, with the header when asked.
func printEventRows(w io.Writer, events []api.ContainerGroupEvent, header bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	if header {
		fmt.Fprintln(tw, "LAST SEEN\tTYPE\tREASON\tOBJECT\tCOUNT\tMESSAGE")
	}
	for _, e := range events {
		obj := e.InvolvedObject.Kind
		if e.InvolvedObject.Name != "" {
			obj += "/" + e.InvolvedObject.Name
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\n", dash(e.LastTimestamp), dash(e.Type), dash(e.Reason), dash(obj), e.Count,
			strings.ReplaceAll(e.Message, "\n", " "))
	}
	return tw.Flush()
}

// ---------------------------------------------------------------------------
// restart

func newRestartCommand(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "restart ID|NAME...",
		Short: "Restart every container of container groups",
		Long: `Restart each group with RestartContainerGroup: every container is stopped
(preStop, SIGTERM, the grace period) and started again in place; the sandbox,
address and volumes stay. Each restarted group's id is printed.`,
		Args:              needGroups,
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return forEachGroup(cmd, o, args, "restart", "RestartContainerGroup", nil)
		},
	}
}

// ---------------------------------------------------------------------------
// create --wait

// waitGroup polls a new group until it reaches want ("running": Status
// Running; "ready": Running with every container Ready), printing its
// status changes and events to w. A group that ends (Succeeded, Failed,
// Expired) first is an error, except Succeeded when waiting for running.
func waitGroup(ctx context.Context, c *apiClient, w io.Writer, id, want string, timeout time.Duration) error {
	_, err := waitFor(ctx, c, w, id, want, timeout)
	return err
}

// waitFor is waitGroup, for want "exit" too (the group ended: an error
// unless it Succeeded), with the group as last seen; timeout 0 waits as
// long as ctx lasts.
func waitFor(ctx context.Context, c *apiClient, w io.Writer, id, want string, timeout time.Duration) (api.ContainerGroupDetail, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ids, _ := json.Marshal([]string{id})
	var g api.ContainerGroupDetail
	seen := map[string]bool{}
	for {
		var resp api.DescribeContainerGroupsResponse
		err := c.call(ctx, "DescribeContainerGroups", url.Values{"ContainerGroupIds": {string(ids)}}, &resp)
		if err != nil {
			if ctx.Err() != nil {
				return g, fmt.Errorf("%s did not become %s within %s (last status %s)", id, want, timeout, dash(string(g.Status)))
			}
			return g, err
		}
		if len(resp.ContainerGroups) == 0 {
			return g, fmt.Errorf("%s is gone", id)
		}
		lastStatus := g.Status
		g = resp.ContainerGroups[0]
		for _, e := range g.Events {
			key := e.FirstTimestamp + "|" + e.Reason + "|" + e.Message
			if !seen[key] {
				seen[key] = true
				fmt.Fprintf(w, "  %s %s: %s\n", dash(e.Type), e.Reason, e.Message)
			}
		}
		if g.Status != lastStatus {
			fmt.Fprintf(w, "%s: %s\n", id, g.Status)
		}
		if done, err := waitReached(g, want); done || err != nil {
			return g, err
		}
		select {
		case <-ctx.Done():
			return g, fmt.Errorf("%s did not become %s within %s (last status %s)", id, want, timeout, dash(string(g.Status)))
		case <-time.After(waitPoll):
		}
	}
}

// waitReached tells whether a group is where --wait wants it, or can no
// longer get there.
func waitReached(g api.ContainerGroupDetail, want string) (bool, error) {
	status := api.GroupStatus(g.Status)
	if want == "exit" {
		switch status {
		case api.GroupSucceeded:
			return true, nil
		case api.GroupFailed, api.GroupExpired:
			return true, fmt.Errorf("%s ended %s", g.ContainerGroupID, status)
		}
		return false, nil
	}
	switch status {
	case api.GroupRunning:
		if want == "running" {
			return true, nil
		}
		for _, c := range g.Containers {
			if !c.Ready {
				return false, nil
			}
		}
		return true, nil
	case api.GroupSucceeded:
		if want == "running" {
			return true, nil
		}
		return false, fmt.Errorf("%s ended (%s) before it was ready", g.ContainerGroupID, status)
	case api.GroupFailed, api.GroupExpired:
		return false, fmt.Errorf("%s ended (%s) before it was %s", g.ContainerGroupID, status, want)
	}
	return false, nil
}
