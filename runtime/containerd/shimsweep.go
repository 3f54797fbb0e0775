package containerd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	taskv2 "github.com/containerd/containerd/api/runtime/task/v2"
	tasksapi "github.com/containerd/containerd/api/services/tasks/v1"
	"github.com/containerd/errdefs"
	"github.com/containerd/errdefs/pkg/errgrpc"
	"github.com/containerd/ttrpc"
	"golang.org/x/sys/unix"
)

// Orphaned shims.
//
// containerd 1.6 leaves a runc shim running that it no longer knows when
// the client creating a task goes away (leci killed, or its context
// cancelled) while the shim creates it: containerd's clean-up asks the
// shim to delete the task, which the shim does not hold yet and answers
// NotFound for, then to shut down, which the shim refuses once it holds
// the task it has meanwhile made; containerd then forgets the shim, kills
// the task's process and removes its bundle. The shim keeps that task in
// its table and its log writer as a child, for ever: its Shutdown answers
// that it still serves a task, and no later task of leci is ever sent to
// it, since shim keys are never handed out again.
//
// The create may also be cut short while containerd starts the task's
// shim: containerd then closes the shim's log FIFO and removes the bundle,
// and the shim, which opens that FIFO before it serves its API, waits for
// a reader for ever.
//
// RemoveOrphanShims finds such shims of its containerd and namespace and
// stops them. A shim is orphaned when the bundle it was started in (its
// working directory) is gone and it serves no task containerd lists;
// anything else is left alone.

const (
	// shimCallTimeout bounds one call to a shim; a shim that is busy
	// creating a task answers when that is done.
	shimCallTimeout = 5 * time.Second
	// shimExitTimeout is how long a shim asked to stop is waited for.
	shimExitTimeout = 5 * time.Second
	// shimSettleTime and shimSettlePoll: see SettleOrphanShims.
	shimSettleTime = time.Minute
	shimSettlePoll = 2 * time.Second
	// shimListRounds bounds how often the task list is read again while
	// tasks appear during the check of one shim.
	shimListRounds = 5
)

// shimProc is a runc shim process as /proc shows it.
type shimProc struct {
	pid     int
	cmdline []byte
	id      string // the task it was started for
	socket  string // the path it serves its API on
	// bundleRemoved: the bundle of its first task, its working
	// directory, is gone.
	bundleRemoved bool
}

// RemoveOrphanShims stops the runc shims of the Conn's containerd and
// namespace that containerd no longer knows (see above), and removes
// their sockets. A shim it cannot query is left alone.
func (c *Conn) RemoveOrphanShims(ctx context.Context) error {
	_, err := c.sweepShims(ctx)
	return err
}

// SettleOrphanShims is RemoveOrphanShims for a leci starting after one
// that was killed: containerd may still be cleaning up after a create
// that the kill cut short, and the shim it is about to forget still works
// in its task's bundle then. So while a shim serves a task that
// containerd does not list (being cleaned up after, or being created), it
// sweeps again every shimSettlePoll, for at most shimSettleTime:
// containerd's clean-up of a create is bounded by its shim timeouts, a
// dozen seconds.
func (c *Conn) SettleOrphanShims(ctx context.Context) error {
	deadline := time.Now().Add(shimSettleTime)
	for {
		unsettled, err := c.sweepShims(ctx)
		if err != nil || unsettled == 0 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(shimSettlePoll):
		}
	}
}

// sweepShims stops the orphaned shims; unsettled counts the shims that
// still work in their first task's bundle although containerd lists no
// such task, and those it could not tell about.
func (c *Conn) sweepShims(ctx context.Context) (unsettled int, _ error) {
	c.shimSweep.Lock()
	defer c.shimSweep.Unlock()
	shims, err := shimsOf(c.address, c.namespace)
	if err != nil || len(shims) == 0 {
		return 0, err
	}
	ctx = c.WithNamespace(ctx)
	list, err := c.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
	if err != nil {
		return 0, fmt.Errorf("list tasks: %w", err)
	}
	listed := map[string]bool{}
	for _, t := range list.Tasks {
		listed[t.ID] = true
	}
	var candidates []shimProc
	for _, s := range shims {
		switch {
		case s.bundleRemoved:
			candidates = append(candidates, s)
		case !listed[s.id]:
			// The bundle of a task is the shim's of that task: this one
			// was either just started, or is being forgotten.
			unsettled++
		}
	}
	if len(candidates) == 0 {
		return unsettled, nil
	}
	listening, err := listeningSockets()
	if err != nil {
		return unsettled, err
	}
	var errs []error
	for _, s := range candidates {
		if s.socket = socketOf(s.pid, listening); s.socket == "" {
			continue
		}
		log := c.log.With("shim", s.pid, "first_task", s.id, "socket", s.socket)
		serves, err := c.servesKnownTask(ctx, s)
		if err != nil && !(errors.Is(err, errShimSilent) && childless(s.pid)) {
			log.Debug("shim left alone for now: cannot tell what it serves", "err", err)
			unsettled++
			continue
		}
		if serves {
			continue
		}
		if err := stopShim(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("stop orphaned shim %d (first task %s): %w", s.pid, s.id, err))
			continue
		}
		log.Info("stopped a shim containerd no longer knew")
	}
	return unsettled, errors.Join(errs...)
}

// shimsOf lists the runc shims of the containerd at address and of
// namespace.
func shimsOf(address, namespace string) ([]shimProc, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var shims []shimProc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		ns, id, addr, ok := shimArgs(cmdline)
		if !ok || ns != namespace || !sameAddress(addr, address) {
			continue
		}
		shims = append(shims, shimProc{pid: pid, cmdline: cmdline, id: id, bundleRemoved: cwdRemoved(pid)})
	}
	return shims, nil
}

// shimArgs reads a containerd shim's command line ("containerd-shim-runc-v2
// -namespace NS -id ID -address ADDR ..."); ok is false for any other
// process, and for a shim's short-lived start and delete commands.
func shimArgs(cmdline []byte) (namespace, id, address string, ok bool) {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	if !strings.HasPrefix(filepath.Base(args[0]), "containerd-shim-runc-") {
		return "", "", "", false
	}
	for i := 1; i < len(args); i++ {
		switch a := args[i]; {
		case a == "start" || a == "delete":
			return "", "", "", false
		case (a == "-namespace" || a == "-id" || a == "-address") && i+1 < len(args):
			i++
			switch a {
			case "-namespace":
				namespace = args[i]
			case "-id":
				id = args[i]
			case "-address":
				address = args[i]
			}
		}
	}
	if namespace == "" || id == "" || address == "" {
		return "", "", "", false
	}
	return namespace, id, address, true
}

// sameAddress tells whether two containerd addresses name one socket.
func sameAddress(a, b string) bool {
	clean := func(s string) string { return filepath.Clean(strings.TrimPrefix(s, "unix://")) }
	return clean(a) == clean(b)
}

// cwdRemoved tells whether process pid works in a directory that has been
// removed: a shim's is the bundle of the task it was started for.
func cwdRemoved(pid int) bool {
	var st unix.Stat_t
	if err := unix.Stat(fmt.Sprintf("/proc/%d/cwd", pid), &st); err != nil {
		return false
	}
	return st.Nlink == 0
}

// listeningSockets maps the inodes of the listening unix sockets bound to
// a path to that path.
func listeningSockets() (map[uint64]string, error) {
	b, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, err
	}
	return parseNetUnix(b), nil
}

// parseNetUnix reads /proc/net/unix ("Num RefCount Protocol Flags Type St
// Inode Path"): the listening sockets (flag __SO_ACCEPTCON) with a path,
// by inode. Abstract sockets (@name) are left out.
func parseNetUnix(b []byte) map[uint64]string {
	const acceptCon = 0x10000
	out := map[uint64]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || strings.HasPrefix(f[7], "@") {
			continue
		}
		flags, err := strconv.ParseUint(f[3], 16, 32)
		if err != nil || flags&acceptCon == 0 {
			continue
		}
		inode, err := strconv.ParseUint(f[6], 10, 64)
		if err != nil {
			continue
		}
		out[inode] = strings.Join(f[7:], " ")
	}
	return out
}

// socketOf is the path of a listening socket process pid holds open, ""
// if none.
func socketOf(pid int, listening map[uint64]string) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(dir, fd.Name()))
		if err != nil {
			continue
		}
		if inode, ok := socketInode(link); ok && listening[inode] != "" {
			return listening[inode]
		}
	}
	return ""
}

// socketInode reads the inode of a socket from its /proc/PID/fd link,
// "socket:[INODE]".
func socketInode(link string) (uint64, bool) {
	s, ok := strings.CutPrefix(link, "socket:[")
	if !ok {
		return 0, false
	}
	s, ok = strings.CutSuffix(s, "]")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil
}

// shimClient is a connection to a shim's task API (version 2, which
// containerd 1.6's and 1.7's runc shims serve).
type shimClient struct {
	conn *ttrpc.Client
	task taskv2.TTRPCTaskService
}

func dialShim(ctx context.Context, socket string) (*shimClient, error) {
	d := net.Dialer{Timeout: shimCallTimeout}
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, err
	}
	cl := ttrpc.NewClient(conn)
	return &shimClient{conn: cl, task: taskv2.NewTTRPCTaskClient(cl)}, nil
}

func (s *shimClient) Close() { s.conn.Close() }

// servesKnownTask tells whether shim s holds a task that containerd lists:
// one of that ID whose process is the one containerd reports (a task left
// in an orphaned shim may have the ID of a task made again since). Tasks
// may come and go while the shim is asked, and a task created meanwhile on
// the shim is made before the task it would then outlive is deleted; so the
// list is read again until it shows no task that was not asked for, up to
// shimListRounds times.
func (c *Conn) servesKnownTask(ctx context.Context, s shimProc) (bool, error) {
	sc, err := dialShim(ctx, s.socket)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errShimSilent, err)
	}
	defer sc.Close()
	asked := map[string]uint32{}
	for range shimListRounds {
		list, err := c.client.TaskService().List(ctx, &tasksapi.ListTasksRequest{})
		if err != nil {
			return false, fmt.Errorf("list tasks: %w", err)
		}
		fresh := 0
		for _, t := range list.Tasks {
			if pid, ok := asked[t.ID]; ok && pid == t.Pid {
				continue
			}
			fresh++
			asked[t.ID] = t.Pid
			serves, err := sc.holds(ctx, t.ID, t.Pid)
			if err != nil || serves {
				return serves, err
			}
		}
		if fresh == 0 {
			return false, nil
		}
	}
	// Tasks keep coming (groups being created), none on this shim: a
	// shim whose tasks are all gone gets no new one, its key retired.
	return false, nil
}

// holds tells whether the shim holds task id with process pid.
func (s *shimClient) holds(ctx context.Context, id string, pid uint32) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, shimCallTimeout)
	defer cancel()
	st, err := s.task.State(ctx, &taskv2.StateRequest{ID: id})
	if err != nil {
		if errdefs.IsNotFound(errgrpc.ToNative(err)) {
			return false, nil
		}
		if ctx.Err() != nil {
			err = errShimSilent
		}
		return false, fmt.Errorf("state of task %s: %w", id, err)
	}
	return st.Pid == pid, nil
}

// errShimSilent: a shim did not answer in shimCallTimeout.
var errShimSilent = errors.New("the shim does not answer")

// childless tells whether process pid has no child process: a shim's
// children are its tasks' first processes and their log writers.
func childless(pid int) bool {
	threads, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	if err != nil || len(threads) == 0 {
		return false
	}
	for _, t := range threads {
		b, err := os.ReadFile(t)
		if err != nil || len(bytes.TrimSpace(b)) != 0 {
			return false
		}
	}
	return true
}

// stopShim stops shim s, which containerd forgot:
//
//   - one that holds nothing is asked to shut down through its API;
//   - one that still holds the task containerd forgot, whose Shutdown
//     would answer that it goes on, is sent SIGTERM, on which a shim
//     shuts down all the same;
//   - one that does not answer and has no child process is killed: that
//     is a shim whose start containerd gave up, which waits for ever for a
//     reader of its log FIFO in the removed bundle, before it serves its
//     API or handles a signal, and which holds nothing.
//
// Then its socket, which a shim whose bundle is gone cannot find to
// remove, is removed.
func stopShim(ctx context.Context, s shimProc) error {
	pidfd, err := unix.PidfdOpen(s.pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	// The pidfd holds the process, not its pid: if it is still the shim
	// found, the signals below reach that shim and nothing else.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.pid)); err != nil || !bytes.Equal(b, s.cmdline) {
		return nil
	}
	signal := func(sig unix.Signal) error {
		if err := unix.PidfdSendSignal(pidfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal: %w", err)
		}
		if !waitExit(pidfd, shimExitTimeout) {
			return fmt.Errorf("still running %s after %v", shimExitTimeout, sig)
		}
		return nil
	}
	holds, err := holdsFirstTask(ctx, s)
	switch {
	case errors.Is(err, errShimSilent) && childless(s.pid):
		err = signal(unix.SIGKILL)
	case err != nil:
	case holds:
		err = signal(unix.SIGTERM)
	case !shutDown(ctx, s) || !waitExit(pidfd, time.Second):
		err = signal(unix.SIGTERM)
	}
	if err != nil {
		return err
	}
	return removeShimSocket(s.socket)
}

// holdsFirstTask tells whether shim s holds the task it was started for.
func holdsFirstTask(ctx context.Context, s shimProc) (bool, error) {
	sc, err := dialShim(ctx, s.socket)
	if err != nil {
		return false, fmt.Errorf("%w: %w", errShimSilent, err)
	}
	defer sc.Close()
	ctx, cancel := context.WithTimeout(ctx, shimCallTimeout)
	defer cancel()
	_, err = sc.task.State(ctx, &taskv2.StateRequest{ID: s.id})
	switch {
	case err == nil:
		return true, nil
	case errdefs.IsNotFound(errgrpc.ToNative(err)):
		return false, nil
	case ctx.Err() != nil:
		return false, errShimSilent
	}
	return false, fmt.Errorf("state of task %s: %w", s.id, err)
}

// shutDown asks shim s to shut down; it tells whether it could ask.
func shutDown(ctx context.Context, s shimProc) bool {
	sc, err := dialShim(ctx, s.socket)
	if err != nil {
		return false
	}
	defer sc.Close()
	ctx, cancel := context.WithTimeout(ctx, shimCallTimeout)
	defer cancel()
	// It may close the connection as it exits.
	_, _ = sc.task.Shutdown(ctx, &taskv2.ShutdownRequest{ID: s.id})
	return true
}

// waitExit waits up to timeout for the process of pidfd to exit.
func waitExit(pidfd int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left < 0 {
			left = 0
		}
		fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds, int(left.Milliseconds()))
		if err == nil {
			return n > 0
		}
		if !errors.Is(err, unix.EINTR) || left == 0 {
			return false
		}
	}
}

// removeShimSocket removes a stopped shim's socket unless some process
// listens on that path again.
func removeShimSocket(path string) error {
	listening, err := listeningSockets()
	if err != nil {
		return err
	}
	for _, p := range listening {
		if p == path {
			return nil
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
