package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"leci/api"
)

// describeEvents is how many of the last events leci describe shows.
const describeEvents = 10

// groupConditions returns the group's Kubernetes-style conditions, nil
// when the daemon does not answer them.
func (c *apiClient) groupConditions(ctx context.Context, id string) []api.PodCondition {
	ids, _ := json.Marshal([]string{id})
	var resp api.DescribeContainerGroupStatusResponse
	if err := c.call(ctx, "DescribeContainerGroupStatus", url.Values{"ContainerGroupIds": {string(ids)}}, &resp); err != nil || len(resp.Data) == 0 {
		return nil
	}
	return resp.Data[0].PodStatus.Conditions
}

// describeWriter prints "Key:  value" lines, indented and aligned as
// kubectl describe prints them.
type describeWriter struct {
	w io.Writer
}

func (d describeWriter) kv(indent int, key string, value any) {
	pad := strings.Repeat("  ", indent)
	fmt.Fprintf(d.w, "%s%-*s%v\n", pad, max(20-len(pad), len(key)+2), key+":", value)
}

func (d describeWriter) line(indent int, text string) {
	fmt.Fprintf(d.w, "%s%s\n", strings.Repeat("  ", indent), text)
}

// printDescribe writes a group as a person reads it: what it is, each
// container's state, its conditions, volumes and last events.
func printDescribe(w io.Writer, g api.ContainerGroupDetail, conds []api.PodCondition, now time.Time) error {
	d := describeWriter{w}
	d.kv(0, "Name", dash(g.ContainerGroupName))
	d.kv(0, "ID", g.ContainerGroupID)
	d.kv(0, "Status", g.Status)
	d.kv(0, "Created", sinceWhen(g.CreationTime, now))
	for _, t := range []struct{ key, at string }{{"Succeeded", g.SucceededTime}, {"Failed", g.FailedTime}, {"Expired", g.ExpiredTime}} {
		if t.at != "" {
			d.kv(0, t.key, sinceWhen(t.at, now))
		}
	}
	d.kv(0, "IP", dash(g.IntranetIP))
	if g.Ipv6Address != "" {
		d.kv(0, "IPv6", g.Ipv6Address)
	}
	d.kv(0, "Restart Policy", dash(g.RestartPolicy))
	d.kv(0, "Resources", fmt.Sprintf("%g CPU, %g GiB", g.Cpu, g.Memory))
	var tags []string
	for _, t := range g.Tags {
		tags = append(tags, t.Key+"="+t.Value)
	}
	d.kv(0, "Tags", dash(strings.Join(tags, ", ")))

	if len(g.InitContainers) > 0 {
		d.line(0, "Init Containers:")
		for _, c := range g.InitContainers {
			var mounts []string
			for _, m := range c.VolumeMounts {
				mounts = append(mounts, mountText(m.MountPath, m.Name, "", m.ReadOnly))
			}
			describeContainer(d, c.Name, c.Image, slices.Concat(c.Command, c.Args), c.Ports, mounts,
				c.CurrentState, c.PreviousState, c.Ready, c.RestartCount, now)
		}
	}
	d.line(0, "Containers:")
	for _, c := range g.Containers {
		var mounts []string
		for _, m := range c.VolumeMounts {
			mounts = append(mounts, mountText(m.MountPath, m.Name, m.SubPath, m.ReadOnly))
		}
		describeContainer(d, c.Name, c.Image, slices.Concat(c.Commands, c.Args), c.Ports, mounts,
			c.CurrentState, c.PreviousState, c.Ready, c.RestartCount, now)
	}

	if len(conds) > 0 {
		d.line(0, "Conditions:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  Type\tStatus\tReason")
		for _, c := range conds {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.Type, c.Status, dash(c.Reason))
		}
		tw.Flush()
	}
	if len(g.Volumes) > 0 {
		d.line(0, "Volumes:")
		for _, v := range g.Volumes {
			d.line(1, v.Name+":")
			d.kv(2, "Type", v.Type)
			switch {
			case v.EmptyDirVolumeMedium != "":
				d.kv(2, "Medium", v.EmptyDirVolumeMedium)
			case v.NFSVolumeServer != "":
				d.kv(2, "Server", v.NFSVolumeServer+":"+v.NFSVolumePath)
			case len(v.ConfigFileVolumeConfigFileToPaths) > 0:
				var paths []string
				for _, p := range v.ConfigFileVolumeConfigFileToPaths {
					paths = append(paths, p.Path)
				}
				d.kv(2, "Files", strings.Join(paths, ", "))
			}
		}
	}
	events := g.Events
	if len(events) > describeEvents {
		events = events[len(events)-describeEvents:]
	}
	if len(events) == 0 {
		d.kv(0, "Events", "<none>")
		return nil
	}
	d.line(0, "Events:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  Type\tReason\tAge\tCount\tMessage")
	for _, e := range events {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\n", dash(e.Type), dash(e.Reason), age(e.LastTimestamp, now), e.Count,
			strings.ReplaceAll(e.Message, "\n", " "))
	}
	return tw.Flush()
}

func describeContainer(d describeWriter, name, image string, command []string, ports []api.PortDetail, mounts []string,
	cur, prev api.ContainerState, ready bool, restarts int, now time.Time) {
	d.line(1, name+":")
	d.kv(2, "Image", image)
	if len(command) > 0 {
		d.kv(2, "Command", strings.Join(command, " "))
	}
	if len(ports) > 0 {
		var ps []string
		for _, p := range ports {
			ps = append(ps, fmt.Sprintf("%d/%s", p.Port, dash(p.Protocol)))
		}
		d.kv(2, "Ports", strings.Join(ps, ", "))
	}
	describeState(d, "State", cur, now)
	if prev.State != "" {
		describeState(d, "Last State", prev, now)
	}
	d.kv(2, "Ready", ready)
	d.kv(2, "Restart Count", restarts)
	if len(mounts) == 0 {
		d.kv(2, "Mounts", "<none>")
		return
	}
	d.line(2, "Mounts:")
	for _, m := range mounts {
		d.line(3, m)
	}
}

func describeState(d describeWriter, key string, s api.ContainerState, now time.Time) {
	d.kv(2, key, dash(string(s.State)))
	if s.Reason != "" {
		d.kv(3, "Reason", s.Reason)
	}
	if s.Message != "" {
		d.kv(3, "Message", strings.ReplaceAll(s.Message, "\n", " "))
	}
	if s.State == api.StateTerminated {
		d.kv(3, "Exit Code", s.ExitCode)
		if s.Signal != 0 {
			d.kv(3, "Signal", s.Signal)
		}
	}
	if s.StartTime != "" {
		d.kv(3, "Started", sinceWhen(s.StartTime, now))
	}
	if s.FinishTime != "" {
		d.kv(3, "Finished", sinceWhen(s.FinishTime, now))
	}
}

func mountText(path, volume, subPath string, readOnly bool) string {
	mode := "rw"
	if readOnly {
		mode = "ro"
	}
	from := volume
	if subPath != "" {
		from += ", path " + subPath
	}
	return fmt.Sprintf("%s from %s (%s)", path, from, mode)
}

// sinceWhen is an RFC 3339 time with how long ago it was.
func sinceWhen(t string, now time.Time) string {
	if t == "" {
		return "-"
	}
	return t + " (" + age(t, now) + " ago)"
}
