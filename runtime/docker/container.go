package docker

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"math"
	"path"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/errdefs"
	"github.com/docker/docker/pkg/stdcopy"

	"leci/internal/seethrough"
	"leci/logs"
	"leci/pod"
)

// CreateContainer creates a container of the sandbox's group, named by its
// leci ID, from its image, which must be present (EnsureImage); one that a
// create cut short left under the name is removed first. A request the
// backend cannot honour wraps pod.ErrCreateConfig.
func (b *Backend) CreateContainer(ctx context.Context, sb pod.Sandbox, cfg pod.ContainerConfig) error {
	if err := checkID("container", cfg.ID); err != nil {
		return err
	}
	if cfg.GroupID == "" {
		cfg.GroupID = sb.GroupID
	}
	began := time.Now()
	ii, err := b.cli.ImageInspect(ctx, cfg.Image)
	if err != nil {
		return fmt.Errorf("container %s: image %s: %w", cfg.ID, cfg.Image, err)
	}
	var img imageConfig
	if ii.Config != nil {
		img = imageConfig{User: ii.Config.User, Entrypoint: ii.Config.Entrypoint, Cmd: ii.Config.Cmd}
	}
	var quotaCap int64
	if q, ok := b.cg.V1CPUQuota(sb.CgroupParent); ok {
		quotaCap = q
	}
	labels := b.containerLabels(cfg.Labels, map[string]string{
		pod.LabelGroupID:   cfg.GroupID,
		pod.LabelContainer: cfg.Name,
		pod.LabelKind:      cfg.Kind,
		pod.LabelAttempt:   strconv.Itoa(cfg.Attempt),
	})
	cleared := false
	for {
		limits := hostLimits{cpuQuotaCap: quotaCap, privilegedCaps: b.privileged()}
		config, hc, err := createOptions(img, sb, cfg, labels, limits)
		if err != nil {
			return fmt.Errorf("container %s: %w", cfg.ID, err)
		}
		err = b.createSeenThrough(ctx, cfg.ID, config, hc)
		if err == nil {
			break
		}
		if cfg.Privileged && limits.privilegedCaps != nil && b.forgetUnknownCap(err) {
			continue
		}
		if errdefs.IsConflict(err) && !cleared {
			// What a crash of leci part way through this create left.
			if err := b.removeLeftover(ctx, cfg); err != nil {
				return err
			}
			cleared = true
			continue
		}
		if errdefs.IsInvalidParameter(err) {
			return fmt.Errorf("%w: create container %s: %w", pod.ErrCreateConfig, cfg.ID, err)
		}
		return fmt.Errorf("create container %s: %w", cfg.ID, err)
	}
	if cfg.User.NonRoot && cfg.User.UID == nil {
		if err := b.checkNonRootByName(ctx, cfg.ID, img.User); err != nil {
			if rerr := b.cli.ContainerRemove(context.WithoutCancel(ctx), cfg.ID, container.RemoveOptions{Force: true}); rerr != nil {
				b.log.Warn("remove refused container", "container", cfg.ID, "err", rerr)
			}
			return fmt.Errorf("container %s: %w", cfg.ID, err)
		}
	}
	b.log.Debug("created container", "container", cfg.ID, "image", cfg.Image, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// containerCreateTimeout bounds a container's create, which ctx's end
// does not cut short (createSeenThrough).
const containerCreateTimeout = 2 * time.Minute

// createSeenThrough creates container name, and sees the create through
// even when ctx ends meanwhile (seethrough): dockerd goes on with a create
// whose client went away, and the container it made would be left behind,
// made after whatever removal leci tried (a group deleted during its
// container's restart).
func (b *Backend) createSeenThrough(ctx context.Context, name string, config *container.Config, hc *container.HostConfig) error {
	_, err := seethrough.Create(ctx, containerCreateTimeout, func(ctx context.Context) (string, error) {
		_, err := b.cli.ContainerCreate(ctx, config, hc, nil, nil, name)
		return name, err
	}, func(ctx context.Context, name string) error {
		if err := b.cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
			return fmt.Errorf("remove container %s: %w", name, err)
		}
		return nil
	})
	return err
}

// checkNonRootByName enforces RunAsNonRoot for an image USER given by name,
// as the containerd backend does: the name is looked up in the container's
// /etc/passwd (Docker would resolve it only at start, as root or not); a
// name that maps to uid 0, or that cannot be resolved, is refused.
func (b *Backend) checkNonRootByName(ctx context.Context, id, imageUser string) error {
	name, ok := userName(imageUser)
	if !ok {
		return nil // numeric: userOf checked it
	}
	rc, _, err := b.cli.CopyFromContainer(ctx, id, "/etc/passwd")
	if err != nil {
		return fmt.Errorf("%w: RunAsNonRoot is set and the image's user %q cannot be resolved (no /etc/passwd: %w)", pod.ErrCreateConfig, name, err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var passwd []byte
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		if h.Typeflag == tar.TypeReg && path.Base(h.Name) == "passwd" {
			passwd, _ = io.ReadAll(io.LimitReader(tr, 1<<20))
			break
		}
	}
	uid, ok := uidInPasswd(passwd, name)
	switch {
	case !ok:
		return fmt.Errorf("%w: RunAsNonRoot is set and the image's user %q is not in its /etc/passwd, so it cannot be checked", pod.ErrCreateConfig, name)
	case uid == 0:
		return fmt.Errorf("%w: RunAsNonRoot is set and the image's user %q is uid 0", pod.ErrCreateConfig, name)
	}
	return nil
}

// privileged is the capabilities a privileged container gets by hand (nil:
// Docker's privileged mode); see hostLimits.
func (b *Backend) privileged() []string {
	b.capsMu.Lock()
	defer b.capsMu.Unlock()
	return b.privilegedCaps
}

// unknownCap finds the capability an Engine refused as unknown.
var unknownCap = regexp.MustCompile(`unknown capability: "(CAP_[A-Z_]+)"`)

// forgetUnknownCap drops from the privileged set a capability the Engine
// does not know (Docker 20.10 knows none after CAP_AUDIT_READ), so that
// the create can be made again; false when err is no such refusal.
func (b *Backend) forgetUnknownCap(err error) bool {
	m := unknownCap.FindStringSubmatch(err.Error())
	if m == nil {
		return false
	}
	b.capsMu.Lock()
	defer b.capsMu.Unlock()
	i := slices.Index(b.privilegedCaps, m[1])
	if i < 0 {
		return false
	}
	b.privilegedCaps = slices.Delete(slices.Clone(b.privilegedCaps), i, i+1)
	b.log.Info("the engine does not know a capability; privileged containers go without it", "capability", m[1])
	return true
}

// StartContainer attaches the container's output to its log, arms the wait
// for its next exit, and starts it. The channel yields the exit once and is
// closed; it is closed without an exit only if the Engine could not be
// waited on, and the engine then learns the state from ListContainers.
func (b *Backend) StartContainer(ctx context.Context, id string) (_ <-chan pod.Exit, retErr error) {
	if err := checkID("container", id); err != nil {
		return nil, err
	}
	began := time.Now()
	st, err := b.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", id, err)
	}
	tty := st.Config != nil && st.Config.Tty
	var logPath string
	if st.Config != nil {
		logPath = st.Config.Labels[labelLogPath]
	}
	if logPath != "" {
		// Attached before the start, so that the first line is not missed.
		resp, err := b.cli.ContainerAttach(ctx, id, container.AttachOptions{Stream: true, Stdout: true, Stderr: true})
		if err != nil {
			return nil, fmt.Errorf("attach to container %s: %w", id, err)
		}
		b.startLogWriter(id, logPath, resp.Reader, resp.Close, tty)
		defer func() {
			if retErr != nil {
				resp.Close()
			}
		}()
	}
	// The wait outlives this call; ContainerWait returns once the Engine
	// has the request, so an exit right after the start is not missed.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	waitC, errC := b.cli.ContainerWait(wctx, id, container.WaitConditionNextExit)
	select {
	case err := <-errC:
		cancel()
		return nil, fmt.Errorf("wait for container %s: %w", id, err)
	default:
	}
	started := time.Now()
	if err := b.cli.ContainerStart(ctx, id, container.StartOptions{}); err != nil {
		cancel()
		return nil, fmt.Errorf("start container %s: %w", id, err)
	}
	b.log.Debug("started container", "container", id, "took", time.Since(began).Round(time.Millisecond))
	return b.watch(wctx, cancel, id, waitC, errC, started), nil
}

// WaitContainer returns the exit of a container started by another leci
// process (leci restarted and adopted it), like StartContainer's channel;
// a container that has already exited yields its exit at once. Its output
// is followed into its log again, from the log file's last write.
func (b *Backend) WaitContainer(ctx context.Context, id string) (<-chan pod.Exit, error) {
	if err := checkID("container", id); err != nil {
		return nil, err
	}
	st, err := b.cli.ContainerInspect(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("inspect container %s: %w", id, err)
	}
	if st.State == nil || !st.State.Running {
		out := make(chan pod.Exit, 1)
		out <- exitOf(st)
		close(out)
		return out, nil
	}
	if st.Config != nil && st.Config.Labels[labelLogPath] != "" {
		b.followLogs(id, st.Config.Labels[labelLogPath], st.Config.Tty)
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	waitC, errC := b.cli.ContainerWait(wctx, id, container.WaitConditionNotRunning)
	return b.watch(wctx, cancel, id, waitC, errC, time.Time{}), nil
}

// watch turns the Engine's wait into a pod.Exit on the returned channel,
// read from the container's state once it has stopped.
func (b *Backend) watch(ctx context.Context, cancel context.CancelFunc, id string, waitC <-chan container.WaitResponse, errC <-chan error, started time.Time) <-chan pod.Exit {
	out := make(chan pod.Exit, 1)
	go func() {
		defer cancel()
		defer close(out)
		log := b.log.With("container", id)
		select {
		case <-waitC:
		case err := <-errC:
			// The Engine went away or the container was removed; what is
			// left to know comes from its state, if it still has one.
			log.Warn("waiting for exit failed", "err", err)
		}
		st, err := b.cli.ContainerInspect(ctx, id)
		if err != nil || st.State == nil || st.State.Running {
			log.Warn("exit not known", "err", err)
			return
		}
		exit := exitOf(st)
		if exit.StartedAt.IsZero() {
			exit.StartedAt = started
		}
		log.Debug("container exited", "code", exit.Code, "oom", exit.OOMKilled)
		out <- exit
	}()
	return out
}

// exitOf is how a stopped container ended, from its state.
func exitOf(st container.InspectResponse) pod.Exit {
	var ex pod.Exit
	if st.ContainerJSONBase == nil || st.State == nil {
		return pod.Exit{Code: 255, FinishedAt: time.Now()}
	}
	s := st.State
	ex.Code = s.ExitCode
	// Death by signal n is reported as 128+n.
	if ex.Code > 128 && ex.Code <= 128+64 {
		ex.Signal = ex.Code - 128
	}
	ex.OOMKilled = s.OOMKilled
	ex.StartedAt, _ = time.Parse(time.RFC3339Nano, s.StartedAt)
	ex.FinishedAt, _ = time.Parse(time.RFC3339Nano, s.FinishedAt)
	if ex.FinishedAt.IsZero() || ex.FinishedAt.Year() < 2000 {
		ex.FinishedAt = time.Now()
	}
	if ex.StartedAt.Year() < 2000 {
		ex.StartedAt = time.Time{}
	}
	// dockerd stamps the start once containerd's start has returned, and
	// the finish with the exit containerd saw: a process that exits at
	// once may have finished "before" it started. It started no later
	// than it finished.
	if ex.FinishedAt.Before(ex.StartedAt) {
		ex.StartedAt = ex.FinishedAt
	}
	return ex
}

// StopContainer sends the stop signal (the image's, else SIGTERM), waits up
// to grace, then kills the container, and returns once it has exited. A
// container that is not running is already stopped.
func (b *Backend) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	if err := checkID("container", id); err != nil {
		return err
	}
	st, err := b.cli.ContainerInspect(ctx, id)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", id, err)
	}
	if st.State == nil || !st.State.Running {
		return nil
	}
	secs := int(math.Ceil(grace.Seconds()))
	if err := b.cli.ContainerStop(ctx, id, container.StopOptions{Timeout: &secs}); err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("stop container %s: %w", id, err)
	}
	return nil
}

// RemoveContainer kills and removes the container, and waits for its log
// to be written out. A container already gone is no error.
func (b *Backend) RemoveContainer(ctx context.Context, id string) error {
	if err := checkID("container", id); err != nil {
		return err
	}
	return b.removeContainer(ctx, id)
}

func (b *Backend) removeContainer(ctx context.Context, name string) error {
	err := b.cli.ContainerRemove(ctx, name, container.RemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !errdefs.IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	b.waitLogWriter(ctx, name)
	if err == nil {
		b.log.Debug("removed container", "container", name)
	}
	return nil
}

// ListContainers lists the containers this leci root made for groupID (""
// for all groups), sandboxes included.
func (b *Backend) ListContainers(ctx context.Context, groupID string) ([]pod.ContainerInfo, error) {
	list, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: b.ownFilter(groupID)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := make([]pod.ContainerInfo, 0, len(list))
	for _, c := range list {
		info := pod.InfoFromLabels(nameOf(c.Names), c.Labels)
		if c.State == container.StateRunning {
			// The list does not carry the pid.
			if st, err := b.cli.ContainerInspect(ctx, c.ID); err == nil && st.State != nil && st.State.Running {
				info.Running, info.PID = true, st.State.Pid
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// startLogWriter copies a container's output stream (multiplexed, or raw
// with a terminal) into its CRI-format log file until the stream ends.
func (b *Backend) startLogWriter(name, path string, stream io.Reader, closeStream func(), tty bool) {
	done := make(chan struct{})
	b.logMu.Lock()
	b.logWriters[name] = done
	b.logMu.Unlock()
	go func() {
		defer close(done)
		defer closeStream()
		var stdout, stderr io.Reader = stream, nil
		if !tty {
			outR, outW := io.Pipe()
			errR, errW := io.Pipe()
			go func() {
				_, err := stdcopy.StdCopy(outW, errW, stream)
				outW.CloseWithError(err)
				errW.CloseWithError(err)
			}()
			stdout, stderr = outR, errR
		}
		if err := logs.RunWriter(context.Background(), path, stdout, stderr, nil, logs.WriterOptions{}); err != nil {
			b.log.Warn("write container log", "container", name, "err", err)
		}
	}()
}

// followLogs follows the output of a container this process did not start
// into its log, from the log file's last line on (what came while no leci
// ran is in Docker's own log, from which it is read back).
func (b *Backend) followLogs(name, path string, tty bool) {
	b.logMu.Lock()
	_, running := b.logWriters[name]
	b.logMu.Unlock()
	if running {
		return
	}
	// The last record's time, not the file's mtime: the kernel stamps
	// files with a coarse clock, which may be before the Engine's time of
	// the line last written, and that line would come twice.
	since := "0"
	if last, err := logs.Read(path, logs.ReadOptions{Tail: 1}); err == nil && len(last) == 1 {
		t := last[0].Time
		since = fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond())
	}
	rc, err := b.cli.ContainerLogs(context.Background(), name, container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: true, Since: since})
	if err != nil {
		b.log.Warn("follow container log", "container", name, "err", err)
		return
	}
	b.startLogWriter(name, path, rc, func() { rc.Close() }, tty)
}

// waitLogWriter waits, for logGrace at most, for the container's log writer
// in this process to finish; the container is gone, so its stream ends.
func (b *Backend) waitLogWriter(ctx context.Context, name string) {
	b.logMu.Lock()
	done := b.logWriters[name]
	delete(b.logWriters, name)
	b.logMu.Unlock()
	if done == nil {
		return
	}
	t := time.NewTimer(logGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		b.log.Warn("log writer did not finish", "container", name)
	case <-ctx.Done():
	}
}
