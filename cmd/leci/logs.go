package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"leci/server"
)

type logsOptions struct {
	container            string
	allContainers        bool
	prefix               bool
	tail                 int
	previous, timestamps bool
	since, until         string
	follow               bool
}

func newLogsCommand(o *clientOptions) *cobra.Command {
	var opts logsOptions
	cmd := &cobra.Command{
		Use:   "logs ID|NAME",
		Short: "Print a container's log",
		Long: `Print the log of a container of a group (-c; default the first app container;
--all-containers for each, init containers first), streamed from the daemon:
all of it, or its last --tail lines, with no limit on the lines or their size.
-p prints the log of the instance that ran before the last restart. -f keeps
printing new lines as they come, across restarts of the container, until the
container has ended for good, the group is deleted, or leci is interrupted.
--since and --until take a duration back from now (10m) or an RFC 3339 time.
--prefix starts each line with [group/NAME/CONTAINER], as kubectl does.`,
		Args:              exactArgs(1),
		ValidArgsFunction: o.completeGroups,
		RunE: func(cmd *cobra.Command, args []string) error {
			return logsAction(cmd, o, args[0], opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.container, "container", "c", "", "container name (default: the first app container)")
	f.BoolVar(&opts.allContainers, "all-containers", false, "the logs of every container of the group")
	f.BoolVar(&opts.prefix, "prefix", false, "start each line with [group/NAME/CONTAINER]")
	f.IntVar(&opts.tail, "tail", -1, "only the last N lines (-1: all)")
	f.BoolVarP(&opts.previous, "previous", "p", false, "the log of the previous instance of the container")
	f.BoolVar(&opts.timestamps, "timestamps", false, "start each line with its time")
	f.StringVar(&opts.since, "since", "", "only lines since a duration ago (10m) or an RFC 3339 time")
	f.StringVar(&opts.until, "until", "", "only lines until a duration ago (10m) or an RFC 3339 time")
	f.BoolVarP(&opts.follow, "follow", "f", false, "keep printing new lines as they come")
	o.completeContainerFlag(cmd, "container")
	return cmd
}

func logsAction(cmd *cobra.Command, o *clientOptions, arg string, opts logsOptions) error {
	if opts.allContainers && opts.container != "" {
		return usageErrorf("give -c or --all-containers, not both")
	}
	now := time.Now()
	p := url.Values{}
	for _, t := range []struct{ flag, value, param string }{{"since", opts.since, "SinceTime"}, {"until", opts.until, "UntilTime"}} {
		if t.value == "" {
			continue
		}
		at, err := parseLogTime(t.value, now)
		if err != nil {
			return usageErrorf("--%s: %v", t.flag, err)
		}
		p.Set(t.param, at.Format(time.RFC3339Nano))
	}
	if opts.tail >= 0 {
		p.Set("Tail", strconv.Itoa(opts.tail))
	}
	p.Set("Timestamps", strconv.FormatBool(opts.timestamps))
	p.Set("LastTime", strconv.FormatBool(opts.previous))
	p.Set("Follow", strconv.FormatBool(opts.follow))

	c, g, err := o.clientFor(cmd.Context(), arg)
	if err != nil {
		return err
	}
	p.Set("ContainerGroupId", g.ContainerGroupID)
	containers := []string{opts.container}
	if opts.allContainers {
		containers = nil
		for _, ic := range g.InitContainers {
			containers = append(containers, ic.Name)
		}
		for _, ac := range g.Containers {
			containers = append(containers, ac.Name)
		}
	}
	out := &lockedWriter{w: cmd.OutOrStdout()}
	name := g.ContainerGroupName
	if name == "" {
		name = g.ContainerGroupID
	}
	concurrent := opts.follow && len(containers) > 1
	stream := func(container string) error {
		q := url.Values{}
		for k, v := range p {
			q[k] = v
		}
		if container != "" {
			q.Set("ContainerName", container)
		}
		prefix := ""
		if opts.prefix {
			if container == "" && len(g.Containers) > 0 {
				container = g.Containers[0].Name
			}
			prefix = "[group/" + name + "/" + container + "] "
		}
		return c.streamLog(cmd.Context(), q, out, prefix, concurrent)
	}
	if !concurrent {
		for _, ctr := range containers {
			if err := stream(ctr); err != nil {
				return err
			}
		}
		return nil
	}
	// Followed, the containers' logs interleave as their lines come.
	var wg sync.WaitGroup
	errs := make([]error, len(containers))
	for i, ctr := range containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = stream(ctr)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// parseLogTime reads a --since or --until: a duration back from now, or
// an RFC 3339 time.
func parseLogTime(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration back from now is positive", v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither a duration (10m, 1h30m) nor an RFC 3339 time (2026-01-02T15:04:05Z)", v)
	}
	return t, nil
}

// streamLog copies the log stream params select to w until the daemon
// ends it or ctx is done: as it comes, or, with a prefix or when w is
// shared (whole), line by line.
func (c *apiClient) streamLog(ctx context.Context, params url.Values, w io.Writer, prefix string, whole bool) error {
	body, err := c.stream(ctx, server.LogStreamPath, params)
	if err != nil {
		return err
	}
	defer body.Close()
	if prefix == "" && !whole {
		_, err := io.Copy(w, body)
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("the log stream broke: %w", err)
		}
		return nil
	}
	r := bufio.NewReaderSize(body, 64<<10)
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			b.Reset()
			b.WriteString(prefix)
			b.WriteString(line)
			if _, werr := io.WriteString(w, b.String()); werr != nil {
				return werr
			}
		}
		switch {
		case err == io.EOF, ctx.Err() != nil:
			return nil
		case err != nil:
			return fmt.Errorf("the log stream broke: %w", err)
		}
	}
}

// stream GETs one of the daemon's streaming endpoints, signed as call
// signs, and returns the answer's body as it comes.
func (c *apiClient) stream(ctx context.Context, path string, params url.Values) (io.ReadCloser, error) {
	return c.streamWith(ctx, http.MethodGet, path, params)
}

// streamWith is stream with the HTTP method given.
func (c *apiClient) streamWith(ctx context.Context, method, path string, params url.Values) (io.ReadCloser, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	if c.akID != "" {
		server.SignV1(method, q, c.akID, c.secret, time.Now(), "")
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path+"?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	hc := *c.http
	hc.Timeout = 0 // a stream lasts as long as it lasts
	res, err := hc.Do(req)
	if err != nil {
		return nil, noDaemon(err)
	}
	if res.StatusCode == http.StatusOK {
		return res.Body, nil
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	ae := &apiError{status: res.StatusCode}
	if json.Unmarshal(data, &ae.resp) != nil || ae.resp.Code == "" {
		return nil, fmt.Errorf("%s: HTTP %d: %s", path, res.StatusCode, strings.TrimSpace(string(data)))
	}
	return nil, ae
}
