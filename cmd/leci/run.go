package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"leci/api"
	"leci/host"
	"leci/internal/pullprogress"
	"leci/internal/trace"
	"leci/logs"
	"leci/runtime"
)

type runOptions struct {
	file        string
	format      string
	timeout     time.Duration
	finalStatus string
	backoffBase time.Duration
	backoffMax  time.Duration
	kube        kubeInput
	detach      bool
	host        string
	registry    registryOptions
	// stdin forwards standard input to the group's Stdin container (-i).
	stdin bool
}

func newRunCommand(g *globalOptions) *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run -f FILE",
		Short: "Run a container group in the foreground, with no daemon",
		Long: `Run the CreateContainerGroup request in FILE in this process: pull its images,
build its sandbox and network, run its init containers in order and then its app
containers, and stream their output to standard output, each line prefixed with
"<container>| ". Status changes go to standard error, and so does the
progress of each image layer pulled (bars on a terminal, a line per change
otherwise). Pulls use the registry settings the daemon uses: --config's
registries:, --registry-config-dir and docker's config.json.

The group is deleted (gracefully: SIGTERM, the grace period, SIGKILL) when it
ends, on Ctrl-C or SIGTERM, or when --timeout passes; its last status lines
(and --final-status) say how each container ended. Exit status: 0 when the
group ends Succeeded, 1 when it ends Failed or Expired or is stopped, 2 for an
invalid request. While it runs, leci ps, describe, logs, exec, events and
delete on the same --root find the group, with no daemon.

With -d the group is handed to the leci daemon (--host, else $LECI_HOST, else
its default socket) and its id printed, as leci create does; with no daemon
to take it, leci run -d says so and exits 1.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.detach && opts.stdin {
				return usageErrorf("-i forwards standard input to a group run in the foreground: not with -d (then attach with leci attach -i)")
			}
			if opts.detach {
				return runDetached(cmd, g, opts)
			}
			return runAction(cmd.Context(), g, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.file, "file", "f", "", "request file (.json, .yaml, .yml, .rpc), - for standard input")
	addInputFormatFlag(cmd, &opts.format)
	f.DurationVar(&opts.timeout, "timeout", 0, "delete the group and exit 1 when it has not ended after this long (0: no limit)")
	f.StringVar(&opts.finalStatus, "final-status", "", "write the group's last status here, as DescribeContainerGroups shows a group (JSON)")
	f.DurationVar(&opts.backoffBase, "restart-backoff", runtime.DefaultBackoff.Base, "first delay before a container restarts")
	f.DurationVar(&opts.backoffMax, "restart-backoff-max", runtime.DefaultBackoff.Max, "longest delay before a container restarts")
	f.BoolVarP(&opts.detach, "detach", "d", false, "hand the group to the leci daemon and print its id")
	f.BoolVarP(&opts.stdin, "stdin", "i", false, "forward standard input to the group's one container with Stdin: true (see leci attach)")
	f.StringVar(&opts.host, "host", "", "with -d, the daemon: unix:///PATH or tcp://HOST:PORT (default $"+envHost+", else "+defaultListen+")")
	g.registerRunnerFlags(cmd)
	opts.registry.register(cmd, true)
	addKubeInputFlags(f, &opts.kube)
	return cmd
}

// runDetached hands the group to the daemon, or says that there is none.
func runDetached(cmd *cobra.Command, g *globalOptions, opts runOptions) error {
	o := &clientOptions{host: opts.host, g: g}
	c, err := o.client()
	if err != nil {
		return err
	}
	var resp api.DescribeContainerGroupsResponse
	err = c.call(cmd.Context(), "DescribeContainerGroups", url.Values{"Limit": {"1"}, "WithEvent": {"false"}}, &resp)
	var nd *noDaemonError
	switch {
	case errors.As(err, &nd):
		return fmt.Errorf("leci run -d hands the group to the leci daemon, and none answers (%v): start `leci daemon`, or run the group in the foreground, without -d", nd.err)
	case err != nil:
		return err
	}
	return createAction(cmd, o, createOptions{file: opts.file, format: opts.format, kube: opts.kube})
}

func runAction(ctx context.Context, g *globalOptions, stdin io.Reader, stdout, stderr io.Writer, opts runOptions) error {
	req, err := readCreateRequest(stdin, opts.file, opts.format, opts.kube.to(stderr))
	if err == nil {
		err = req.Normalize()
	}
	if err == nil {
		err = g.checkLocal(req)
	}
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return err
		}
		printAPIErrors(stderr, err)
		return silentExit(exitUsage)
	}
	var stdinTo string
	if opts.stdin {
		if stdinTo, err = stdinContainer(req); err == nil && opts.file == "-" {
			err = usageErrorf("leci run -i forwards standard input to a container: the request cannot come from it too (-f -)")
		}
		if err != nil {
			return err
		}
	}
	if req.DryRun {
		fmt.Fprintf(stderr, "%s: %s\n", api.ErrDryRunOperation.Code, api.ErrDryRunOperation.Message)
		return nil
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	setupGC := pauseGC(gcPauseMax)
	defer setupGC.resume()
	log := g.logger(stderr)
	backoff := runtime.Backoff{Base: opts.backoffBase, Max: opts.backoffMax, ResetAfter: runtime.DefaultBackoff.ResetAfter}
	cfg := g.hostConfig(backoff)
	cfg.MetricsInterval = -1 // nothing asks a foreground run for metrics
	if cfg.Registries, err = opts.registry.load(opts.registry.config, log); err != nil {
		return err
	}
	// The layers of the pulls show on standard error, beside the status.
	progress := pullprogress.NewDisplay(stderr)
	defer progress.Close()
	cfg.PullProgress = progress
	if cfg.Trace, err = g.openTrace(); err != nil {
		return err
	}
	defer cfg.Trace.Close()
	// The group is recorded, and locked, as this process's: should it be
	// killed, the next leci on the root deletes the group.
	own, err := newForegroundRecorder(g.root)
	if err != nil {
		return err
	}
	cfg.Recorder = own
	tctx := trace.WithRecorder(ctx, cfg.Trace)
	sp := trace.Begin(tctx, "run.open")
	env, err := host.Open(ctx, cfg, log)
	sp.End(err)
	if err != nil {
		return err
	}
	defer env.Close()
	// The groups of runs killed before are deleted beside this one's.
	defer collectOrphansInBackground(context.WithoutCancel(ctx), g.root, env.Engine, own, log)()

	id, err := env.Engine.Create(context.WithoutCancel(ctx), req)
	if err != nil {
		return err
	}
	out := &lockedWriter{w: stdout}
	fmt.Fprintf(stderr, "leci: group %s (%s) created\n", req.ContainerGroupName, id)
	// ps, describe, logs, exec and delete on this root find the group.
	if stopServing, err := serveRun(g.root, id, env.Engine, log); err != nil {
		fmt.Fprintf(stderr, "leci: the group is not visible to the other leci commands: %v\n", err)
	} else {
		defer stopServing()
	}
	if stdinTo != "" {
		forwardStdin(ctx, env.Engine, id, stdinTo, stdin, stderr, log)
	}
	sp = trace.Begin(tctx, "run.follow")
	seen := map[string]string{}
	final, why, drained := follow(ctx, env.Engine, id, g.root, opts.timeout, out, stderr, seen)
	sp.End(nil)

	delCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Duration(*req.TerminationGracePeriodSeconds)*time.Second+time.Minute)
	defer cancel()
	// The delete is the last burst; the process ends after it.
	setupGC.resume()
	pauseGC(0)
	// The delete runs while the last output is shown: a container's log
	// writer finishes as its task is deleted, and the files, held open,
	// are read to their end even once they are removed.
	sp = trace.Begin(tctx, "run.delete")
	stopped, err := deleteWatching(delCtx, env.Engine, id)
	sp.End(err)
	drained()
	if errors.Is(err, runtime.ErrNotFound) {
		err = nil // deleted already, by leci delete
	}
	if err != nil {
		fmt.Fprintf(stderr, "leci: delete group %s: %v\n", id, err)
	}
	if !final.Terminal() {
		// The group was stopped: the delete saw how its containers ended.
		if stopped.Request != nil {
			final = stopped
		}
		final.Phase = api.GroupFailed
		if final.FailedAt.IsZero() {
			final.FailedAt = time.Now()
		}
		printChanges(stderr, final, seen)
	}
	if opts.finalStatus != "" {
		if err := writeFinalStatus(opts.finalStatus, final); err != nil {
			fmt.Fprintf(stderr, "leci: %v\n", err)
		}
	}
	fmt.Fprintf(stderr, "leci: group %s %s%s\n", id, final.Phase, why)
	if final.Phase == api.GroupSucceeded && why == "" {
		return nil
	}
	return silentExit(exitFailed)
}

// deleteWatching deletes a group and returns its last status before it
// was gone: with the containers the delete stopped Terminated, their exit
// codes and reasons.
func deleteWatching(ctx context.Context, eng *runtime.Engine, id string) (runtime.GroupStatus, error) {
	watchCtx, cancelWatch := context.WithCancel(context.Background())
	updates, err := eng.Watch(watchCtx, id)
	if err != nil {
		cancelWatch()
		return runtime.GroupStatus{}, err
	}
	last := make(chan runtime.GroupStatus, 1)
	go func() {
		var st runtime.GroupStatus
		for st = range updates {
		}
		last <- st
	}()
	err = eng.Delete(ctx, id)
	// The watch ends once the delete has sent the group's last status;
	// cancelling it only matters when the delete never began.
	cancelWatch()
	return <-last, err
}

// follow prints the group's status changes and its containers' output
// until the group ends, ctx is done or the timeout passes. It returns the
// last status, when the group did not end by itself why it stopped, and
// drained, which waits until the output of the containers that ended (or
// end by the group's delete) is all shown. follow returns once every log
// being followed is open. seen holds what was printed of the group's
// status (see printChanges).
func follow(ctx context.Context, eng *runtime.Engine, id, root string, timeout time.Duration, out, errOut io.Writer, seen map[string]string) (_ runtime.GroupStatus, why string, drained func()) {
	watchCtx, cancelWatch := context.WithCancel(context.Background())
	defer cancelWatch()
	updates, err := eng.Watch(watchCtx, id)
	if err != nil {
		return runtime.GroupStatus{}, ": " + err.Error(), func() {}
	}
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var (
		last      runtime.GroupStatus
		followers sync.WaitGroup
		opened    sync.WaitGroup
		started   = map[string]bool{} // container/attempt followed
	)
	logCtx, cancelLogs := context.WithCancel(context.Background())
loop:
	for {
		select {
		case st, ok := <-updates:
			if !ok {
				why = " (deleted)"
				break loop
			}
			last = st
			printChanges(errOut, st, seen)
			for _, c := range append(st.InitContainers, st.Containers...) {
				key := fmt.Sprintf("%s/%d", c.Name, c.Attempt)
				if c.Attempt == 0 || started[key] {
					continue
				}
				started[key] = true
				followers.Add(1)
				opened.Add(1)
				go func(name string, attempt int) {
					defer followers.Done()
					path := runtime.LogPath(root, id, name, attempt)
					logs.Follow(logCtx, path, logs.FollowOptions{UntilWriterDone: true, Poll: runFollowPoll, Opened: opened.Done}, func(l logs.Line) error {
						fmt.Fprintf(out, "%s| %s\n", name, l.Text)
						return nil
					})
				}(c.Name, c.Attempt)
			}
			if st.Terminal() {
				break loop
			}
		case <-ctx.Done():
			why = " (interrupted)"
			break loop
		case <-deadline:
			why = fmt.Sprintf(" (timed out after %s)", timeout)
			break loop
		}
	}
	opened.Wait()
	if st, err := eng.Get(id); err == nil {
		last = st
	}
	// The output of the containers drains as their log writers finish: at
	// once for those that ended, at the delete for those still running.
	done := make(chan struct{})
	go func() { followers.Wait(); close(done) }()
	return last, why, func() {
		defer cancelLogs()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
	}
}

func printChanges(w io.Writer, st runtime.GroupStatus, seen map[string]string) {
	if p := "group:" + string(st.Phase); seen[""] != p {
		seen[""] = p
		msg := ""
		if st.Message != "" {
			msg = ": " + st.Message
		}
		fmt.Fprintf(w, "leci: group %s%s\n", st.Phase, msg)
	}
	for _, e := range st.Events {
		key := "event:" + e.Type + e.Reason + e.Object + e.Message
		count := strconv.Itoa(e.Count)
		if seen[key] == count {
			continue
		}
		seen[key] = count
		object := ""
		if e.Object != "" {
			object = " " + e.Object
		}
		times := ""
		if e.Count > 1 {
			times = fmt.Sprintf(" (x%d)", e.Count)
		}
		fmt.Fprintf(w, "leci: event %s %s%s: %s%s\n", e.Type, e.Reason, object, e.Message, times)
	}
	for _, c := range append(st.InitContainers, st.Containers...) {
		s := describeContainerState(c)
		if seen[c.Name] != s {
			seen[c.Name] = s
			kind := "container"
			if c.Init {
				kind = "init container"
			}
			fmt.Fprintf(w, "leci: %s %s: %s\n", kind, c.Name, s)
		}
	}
}

func describeContainerState(c runtime.ContainerStatus) string {
	s := string(c.Current.State)
	switch c.Current.State {
	case api.StateTerminated:
		s += fmt.Sprintf(" (%s, exit code %d)", c.Current.Reason, c.Current.ExitCode)
	case api.StateWaiting:
		if c.Current.Reason != "" {
			s += " (" + c.Current.Reason + ")"
		}
		if c.Current.Message != "" && c.Current.Reason != runtime.ReasonCrashLoopBackOff {
			s += ": " + c.Current.Message
		}
	}
	if c.RestartCount > 0 {
		s += fmt.Sprintf(", %d restarts", c.RestartCount)
	}
	return s
}

func writeFinalStatus(path string, st runtime.GroupStatus) error {
	if st.Request == nil {
		return fmt.Errorf("no status to write to %s", path)
	}
	data, err := json.MarshalIndent(runtime.Describe(st), "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}

// lockedWriter keeps the lines of concurrent containers whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runFollowPoll is how often `leci run` looks for new output: often, since
// the run ends only once the last lines are shown, and a foreground run
// follows a few files at most.
const runFollowPoll = 10 * time.Millisecond
