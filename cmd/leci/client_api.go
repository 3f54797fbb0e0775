package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"leci/api"
)

// The client commands of the actions beyond the group's lifecycle:
// update, commit, tag and image cache.

// newAPICommands returns update, commit and tag.
func newAPICommands(o *clientOptions) []*cobra.Command {
	return []*cobra.Command{newUpdateCommand(o), newCommitCommand(o), newTagCommand(o)}
}

// reportAPIError prints the daemon's refusal of a request (4xx) as
// createAction does and exits 2; other errors are returned.
func reportAPIError(cmd *cobra.Command, err error) error {
	var ae *apiError
	if errors.As(err, &ae) && ae.status < 500 {
		for _, m := range strings.Split(ae.resp.Message, "; ") {
			fmt.Fprintf(cmd.ErrOrStderr(), "ERROR %s: %s\n", ae.resp.Code, m)
		}
		return silentExit(exitUsage)
	}
	return err
}

// ---------------------------------------------------------------------------
// update

type updateOptions struct {
	file, format, clientToken string
	incremental               bool
}

func newUpdateCommand(o *clientOptions) *cobra.Command {
	var opts updateOptions
	cmd := &cobra.Command{
		Use:   "update -f FILE ID|NAME",
		Short: "Update a container group in place (UpdateContainerGroup)",
		Long: `Send the group's new spec in FILE (a request file as for "leci create": its
containers, init containers, volumes, restart policy, DNS, registry credentials
and tags are sent; its name and the rest are not) as an UpdateContainerGroup.
The group's containers are recreated with the new spec in the same group, with
the same IP; an update of tags only restarts nothing. Without --incremental the
lists given replace the group's (RenewUpdate); with it they are merged by name.`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := readCreateRequest(cmd.InOrStdin(), opts.file, opts.format)
			if err != nil {
				var ee *exitError
				if errors.As(err, &ee) {
					return err
				}
				printAPIErrors(cmd.ErrOrStderr(), err)
				return silentExit(exitUsage)
			}
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			up := updateFromFile(req)
			up.ContainerGroupID, up.ClientToken = g.ContainerGroupID, opts.clientToken
			if opts.incremental {
				up.UpdateType = api.IncrementalUpdate
			}
			var resp api.UpdateContainerGroupResponse
			if err := c.call(cmd.Context(), "UpdateContainerGroup", api.EncodeValues(up), &resp); err != nil {
				return reportAPIError(cmd, err)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), g.ContainerGroupID)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.file, "file", "f", "", "request file (.json, .yaml, .yml, .rpc), - for standard input")
	f.StringVar(&opts.format, "format", "", "form of the request: json, yaml or rpc (default: from the file name)")
	f.StringVar(&opts.clientToken, "client-token", "", "idempotency token: the same token and update are done once")
	f.BoolVar(&opts.incremental, "incremental", false, "merge the lists by name (IncrementalUpdate) instead of replacing them")
	return cmd
}

// updateFromFile is the part of a create request an update carries.
func updateFromFile(r *api.CreateContainerGroupRequest) *api.UpdateContainerGroupRequest {
	up := &api.UpdateContainerGroupRequest{
		RestartPolicy: r.RestartPolicy, Volume: r.Volume, DNSConfig: r.DNSConfig,
		ImageRegistryCredential: r.ImageRegistryCredential, AcrRegistryInfo: r.AcrRegistryInfo, Tag: r.Tag,
		Cpu: r.Cpu, Memory: r.Memory,
	}
	for _, c := range r.Container {
		up.Container = append(up.Container, api.UpdateContainer{Container: c})
	}
	for _, c := range r.InitContainer {
		up.InitContainer = append(up.InitContainer, api.UpdateInitContainer{ContainerCommon: c.ContainerCommon})
	}
	return up
}

// ---------------------------------------------------------------------------
// commit

type commitOptions struct {
	container, author, message string
	wait                       bool
	timeout                    time.Duration
}

func newCommitCommand(o *clientOptions) *cobra.Command {
	var opts commitOptions
	cmd := &cobra.Command{
		Use:   "commit ID|NAME -c CONTAINER REPOSITORY[:TAG]",
		Short: "Commit a running container's changes to a new image (CommitContainer)",
		Long: `Commit the filesystem changes of a running container to a new image in leci's
image store (CommitContainer) and wait for the task (unless --wait=false): the
image can then run in groups (ImagePullPolicy Never or IfNotPresent). The task's
id is printed.`,
		Args: exactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.container == "" {
				return usageErrorf("name the container with -c")
			}
			repo, tag := splitRepoTag(args[1])
			c, g, err := o.clientFor(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			params := url.Values{"ContainerGroupId": {g.ContainerGroupID}, "ContainerName": {opts.container},
				"Image.Repository": {repo}, "Image.Tag": {tag}}
			if opts.author != "" {
				params.Set("Image.Author", opts.author)
			}
			if opts.message != "" {
				params.Set("Image.Message", opts.message)
			}
			var resp api.CommitContainerResponse
			if err := c.call(cmd.Context(), "CommitContainer", params, &resp); err != nil {
				return reportAPIError(cmd, err)
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), resp.TaskID); err != nil || !opts.wait {
				return err
			}
			task, err := waitCommit(cmd.Context(), c, g.ContainerGroupID, resp.TaskID, opts.timeout)
			if err != nil {
				return err
			}
			if task.TaskStatus != api.TaskSucceeded {
				fmt.Fprintf(cmd.ErrOrStderr(), "leci: commit %s: %s\n", task.TaskStatus, task.StatusMessage)
				return silentExit(exitFailed)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "leci: %s\n", task.StatusMessage)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.container, "container", "c", "", "the container to commit")
	f.StringVar(&opts.author, "author", "", "the image's author")
	f.StringVarP(&opts.message, "message", "m", "", "the commit message")
	f.BoolVar(&opts.wait, "wait", true, "wait for the commit to end")
	f.DurationVar(&opts.timeout, "wait-timeout", 10*time.Minute, "how long --wait waits")
	return cmd
}

// splitRepoTag splits REPOSITORY[:TAG] (a registry's port is not a tag).
func splitRepoTag(ref string) (repo, tag string) {
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return ref, "latest"
	}
	return ref[:i], ref[i+1:]
}

// waitCommit polls DescribeCommitContainerTask until the task ends.
func waitCommit(ctx context.Context, c *apiClient, groupID, taskID string, timeout time.Duration) (api.CommitTask, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		var resp api.DescribeCommitContainerTaskResponse
		err := c.call(ctx, "DescribeCommitContainerTask", url.Values{"ContainerGroupId": {groupID}, "TaskId.1": {taskID}}, &resp)
		if err != nil {
			return api.CommitTask{}, err
		}
		if len(resp.CommitTasks) == 1 && resp.CommitTasks[0].TaskStatus != api.TaskRunning {
			return resp.CommitTasks[0], nil
		}
		select {
		case <-ctx.Done():
			return api.CommitTask{}, fmt.Errorf("commit task %s: %w", taskID, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------------------
// tag

func newTagCommand(o *clientOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "tag ID|NAME [KEY=VALUE...] [KEY-...]",
		Short: "Show, set or remove the tags of a container group or an image cache",
		Long: `With only the resource, print its tags. KEY=VALUE sets a tag (TagResources),
KEY- removes one (UntagResources). An id starting with imc- is an image cache;
anything else names a container group.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			typ, id := api.ResourceImageCache, args[0]
			if !strings.HasPrefix(id, "imc-") {
				typ = api.ResourceContainerGroup
				g, err := c.resolve(cmd.Context(), id)
				if err != nil {
					return err
				}
				id = g.ContainerGroupID
			}
			set := url.Values{"ResourceType": {typ}, "ResourceId.1": {id}}
			unset := url.Values{"ResourceType": {typ}, "ResourceId.1": {id}}
			nset, nunset := 0, 0
			for _, a := range args[1:] {
				if k, ok := strings.CutSuffix(a, "-"); ok && !strings.Contains(a, "=") {
					nunset++
					unset.Set("TagKey."+strconv.Itoa(nunset), k)
					continue
				}
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					return usageErrorf("%q: want KEY=VALUE or KEY-", a)
				}
				nset++
				set.Set("Tag."+strconv.Itoa(nset)+".Key", k)
				set.Set("Tag."+strconv.Itoa(nset)+".Value", v)
			}
			var meta api.ResponseMeta
			if nset > 0 {
				if err := c.call(cmd.Context(), "TagResources", set, &meta); err != nil {
					return reportAPIError(cmd, err)
				}
			}
			if nunset > 0 {
				if err := c.call(cmd.Context(), "UntagResources", unset, &meta); err != nil {
					return reportAPIError(cmd, err)
				}
			}
			var list api.ListTagResourcesResponse
			if err := c.call(cmd.Context(), "ListTagResources", url.Values{"ResourceType": {typ}, "ResourceId.1": {id}}, &list); err != nil {
				return reportAPIError(cmd, err)
			}
			for _, t := range list.TagResources {
				if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s=%s\n", t.TagKey, t.TagValue); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// ---------------------------------------------------------------------------
// image cache

type cacheCreateOptions struct {
	retentionDays int
	tags          []string
	wait          bool
	timeout       time.Duration
}

// newImageCacheCommand is `leci image cache`, through the daemon.
func newImageCacheCommand() *cobra.Command {
	var o clientOptions
	cmd := &cobra.Command{Use: "cache", Short: "Manage the daemon's image caches (named sets of pulled images)"}
	var copts cacheCreateOptions
	create := &cobra.Command{
		Use:   "create NAME IMAGE...",
		Short: "Pull images into an image cache (CreateImageCache) and print its id",
		Long: `Make an image cache: the images are pulled into leci's image store, and groups
created with AutoMatchImageCache or ImageSnapshotId use them as they are. Waits
until the cache is ready unless --wait=false; a cache that fails exits 1.`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			params := url.Values{"ImageCacheName": {args[0]}}
			for i, img := range args[1:] {
				params.Set("Image."+strconv.Itoa(i+1), img)
			}
			if copts.retentionDays > 0 {
				params.Set("RetentionDays", strconv.Itoa(copts.retentionDays))
			}
			for i, t := range copts.tags {
				k, v, _ := strings.Cut(t, "=")
				params.Set("Tag."+strconv.Itoa(i+1)+".Key", k)
				params.Set("Tag."+strconv.Itoa(i+1)+".Value", v)
			}
			var resp api.CreateImageCacheResponse
			if err := c.call(cmd.Context(), "CreateImageCache", params, &resp); err != nil {
				return reportAPIError(cmd, err)
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), resp.ImageCacheID); err != nil || !copts.wait {
				return err
			}
			return waitCache(cmd, c, resp.ImageCacheID, copts.timeout)
		},
	}
	create.Flags().IntVar(&copts.retentionDays, "retention-days", 0, "days until the cache expires (0: never)")
	create.Flags().StringArrayVar(&copts.tags, "tag", nil, "a tag KEY=VALUE (repeatable)")
	create.Flags().BoolVar(&copts.wait, "wait", true, "wait until the cache is ready")
	create.Flags().DurationVar(&copts.timeout, "wait-timeout", 10*time.Minute, "how long --wait waits")
	ls := &cobra.Command{
		Use: "ls", Short: "List the image caches (DescribeImageCaches)", Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			caches, err := listCaches(cmd.Context(), c, url.Values{})
			if err != nil {
				return reportAPIError(cmd, err)
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tNAME\tSTATUS\tPROGRESS\tIMAGES\tEXPIRES")
			for _, ca := range caches {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", ca.ImageCacheID, ca.ImageCacheName, ca.Status, ca.Progress,
					strings.Join(ca.Images, ","), dash(ca.ExpireDateTime))
			}
			return w.Flush()
		},
	}
	rm := &cobra.Command{
		Use: "rm ID|NAME...", Short: "Delete image caches (DeleteImageCache); their images stay", Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.client()
			if err != nil {
				return err
			}
			for _, a := range args {
				id := a
				if !strings.HasPrefix(a, "imc-") {
					caches, err := listCaches(cmd.Context(), c, url.Values{"ImageCacheName": {a}})
					if err != nil {
						return reportAPIError(cmd, err)
					}
					if len(caches) != 1 {
						return fmt.Errorf("no image cache has the id or name %q", a)
					}
					id = caches[0].ImageCacheID
				}
				if err := c.call(cmd.Context(), "DeleteImageCache", url.Values{"ImageCacheId": {id}}, &api.ResponseMeta{}); err != nil {
					return reportAPIError(cmd, err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), id)
			}
			return nil
		},
	}
	cmd.AddCommand(create, ls, rm)
	for _, sub := range cmd.Commands() {
		sub.Flags().StringVar(&o.host, "host", "", "the daemon: unix:///PATH or tcp://HOST:PORT (default $"+envHost+", else "+defaultListen+")")
	}
	return cmd
}

// listCaches pages through DescribeImageCaches.
func listCaches(ctx context.Context, c *apiClient, params url.Values) ([]api.ImageCacheDetail, error) {
	var out []api.ImageCacheDetail
	for {
		var resp api.DescribeImageCachesResponse
		if err := c.call(ctx, "DescribeImageCaches", params, &resp); err != nil {
			return nil, err
		}
		out = append(out, resp.ImageCaches...)
		if resp.NextToken == "" {
			return out, nil
		}
		params.Set("NextToken", resp.NextToken)
	}
}

// waitCache polls a cache until it is ready (nil) or failed (exit 1).
func waitCache(cmd *cobra.Command, c *apiClient, id string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
	defer cancel()
	for {
		caches, err := listCaches(ctx, c, url.Values{"ImageCacheId": {id}})
		if err != nil {
			return err
		}
		if len(caches) == 1 {
			switch ca := caches[0]; ca.Status {
			case api.CacheReady:
				return nil
			case api.CacheFailed, api.CacheUpdateFailed:
				for _, e := range ca.Events {
					if e.Type == "Warning" {
						fmt.Fprintf(cmd.ErrOrStderr(), "leci: %s: %s\n", e.Reason, e.Message)
					}
				}
				return silentExit(exitFailed)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("image cache %s: %w", id, ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}
