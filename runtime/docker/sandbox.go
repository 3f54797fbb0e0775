package docker

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/errdefs"
	"golang.org/x/sys/unix"

	"leci/internal/helper"
	"leci/pod"
)

// sandboxRepo is the repository of the sandbox images; the tag is the hash
// of the program in it (Options.LeciBinary).
const sandboxRepo = "leci.local/sandbox"

// errNotAdoptable is returned by StartSandbox when it is asked for the
// sandbox in a given network namespace and none runs there: Docker cannot
// start a container in a namespace leci names, so the engine then makes a
// new sandbox and network (runtime.NetNSOwner).
var errNotAdoptable = fmt.Errorf("no running sandbox in that network namespace: %w", pod.ErrSandboxLost)

// fileStamp identifies a file's version without reading it.
type fileStamp struct {
	dev, ino uint64
	size     int64
	mtime    int64
}

func stampOf(fi fs.FileInfo) fileStamp {
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.dev, s.ino = uint64(st.Dev), st.Ino
	}
	return s
}

// ensureSandboxImage returns the sandbox image of the current sandbox
// program (Options.LeciBinary), importing it when the Engine does not have
// it: a root filesystem holding only that program as /leci and empty mount
// points, made here as a tar, so nothing is pulled. The program is hashed
// again only when its file changed.
func (b *Backend) ensureSandboxImage(ctx context.Context) (string, error) {
	b.sandboxMu.Lock()
	defer b.sandboxMu.Unlock()
	fi, err := os.Stat(b.opts.LeciBinary)
	if err != nil {
		return "", fmt.Errorf("sandbox image: %w", err)
	}
	stamp := stampOf(fi)
	if b.sandboxImage != "" && stamp == b.sandboxStamp {
		if ok, err := b.imageExists(ctx, b.sandboxImage); err == nil && ok {
			return b.sandboxImage, nil
		}
	}
	sum, err := helper.HashFile(os.DirFS(filepath.Dir(b.opts.LeciBinary)), filepath.Base(b.opts.LeciBinary))
	if err != nil {
		return "", fmt.Errorf("sandbox image: %w", err)
	}
	ref := sandboxRepo + ":" + sum[:16]
	ok, err := b.imageExists(ctx, ref)
	if err != nil {
		return "", err
	}
	if !ok {
		if err := b.importSandboxImage(ctx, ref); err != nil {
			return "", err
		}
		b.log.Info("imported sandbox image", "ref", ref)
		b.removeOldSandboxImages(ctx, ref)
	}
	b.sandboxImage, b.sandboxStamp = ref, stamp
	return ref, nil
}

// removeOldSandboxImages removes the sandbox images of earlier sandbox
// programs. One that a sandbox still runs from is refused by the Engine and
// stays until a later import.
func (b *Backend) removeOldSandboxImages(ctx context.Context, current string) {
	list, err := b.cli.ImageList(ctx, image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", sandboxRepo))})
	if err != nil {
		b.log.Debug("list sandbox images", "err", err)
		return
	}
	for _, img := range list {
		for _, tag := range img.RepoTags {
			if tag == current {
				continue
			}
			if _, err := b.cli.ImageRemove(ctx, tag, image.RemoveOptions{}); err != nil {
				b.log.Debug("keep old sandbox image", "ref", tag, "err", err)
			} else {
				b.log.Info("removed old sandbox image", "ref", tag)
			}
		}
	}
}

func (b *Backend) importSandboxImage(ctx context.Context, ref string) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeSandboxRootfs(pw, b.opts.LeciBinary)) }()
	defer pr.Close()
	rc, err := b.cli.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, ref, image.ImportOptions{
		Changes: []string{`CMD ["/leci", "pause"]`, "WORKDIR /"},
	})
	if err != nil {
		return fmt.Errorf("import sandbox image %s: %w", ref, err)
	}
	if err := readProgress(rc, nil); err != nil {
		return fmt.Errorf("import sandbox image %s: %w", ref, err)
	}
	return nil
}

// sandboxDirs are the sandbox rootfs' mount points: Docker's default mounts
// and its /etc files land there.
var sandboxDirs = []string{"dev/", "etc/", "proc/", "run/", "sys/", "tmp/"}

// sandboxEtcFiles are the files Docker bind-mounts into every container.
var sandboxEtcFiles = []string{"etc/hostname", "etc/hosts", "etc/resolv.conf"}

// writeSandboxRootfs writes the sandbox's root filesystem as a tar.
func writeSandboxRootfs(w io.Writer, leciBinary string) error {
	f, err := os.Open(leciBinary)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	epoch := time.Unix(0, 0)
	tw := tar.NewWriter(w)
	for _, d := range sandboxDirs {
		mode := int64(0o755)
		if d == "tmp/" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: mode, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, name := range sandboxEtcFiles {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: epoch}); err != nil {
			return err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "leci", Mode: 0o755, Size: fi.Size(), ModTime: epoch}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, f); err != nil {
		return err
	}
	return tw.Close()
}

// StartSandbox creates the group's cgroup with the group's limits and
// starts the group's sandbox in a network namespace of Docker's (network
// mode none); the returned NetNSPath is that namespace, for the engine to
// attach leci's network to.
//
// With cfg.NetNSPath set (leci restarted and asks for the sandbox it had),
// a sandbox running in that namespace is adopted; otherwise the stale one is
// removed and an error wrapping errNotAdoptable returned, since Docker
// cannot start a container in a namespace leci names.
func (b *Backend) StartSandbox(ctx context.Context, cfg pod.SandboxConfig) (_ pod.Sandbox, retErr error) {
	if err := checkID("group", cfg.GroupID); err != nil {
		return pod.Sandbox{}, err
	}
	log := b.log.With("group", cfg.GroupID)
	name := sandboxName(cfg.GroupID)
	began := time.Now()

	if sb, ok, err := b.adoptSandbox(ctx, cfg); err != nil || ok {
		return sb, err
	}
	if cfg.NetNSPath != "" {
		return pod.Sandbox{}, fmt.Errorf("sandbox %s in %s: %w", name, cfg.NetNSPath, errNotAdoptable)
	}
	img, err := b.ensureSandboxImage(ctx)
	if err != nil {
		return pod.Sandbox{}, err
	}

	groupCg := b.groupCgroup(cfg.GroupID)
	rollbackCg, err := b.cg.CreateGroupRollback(groupCg, cfg.Resources, log)
	defer rollbackCg(&retErr)
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("group %s: %w", cfg.GroupID, err)
	}

	config, hostConfig := sandboxCreateOptions(img, cfg, groupCg, b.containerLabels(cfg.Labels, map[string]string{
		pod.LabelGroupID: cfg.GroupID,
		pod.LabelKind:    pod.KindSandbox,
	}))
	err = b.createSeenThrough(ctx, name, config, hostConfig)
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("create sandbox %s: %w", name, err)
	}
	defer func() {
		if retErr != nil {
			cctx, cancel := cleanupContext(ctx)
			defer cancel()
			if err := b.cli.ContainerRemove(cctx, name, container.RemoveOptions{Force: true}); err != nil && !errdefs.IsNotFound(err) {
				log.Warn("roll back sandbox container", "err", err)
			}
		}
	}()
	if err := b.cli.ContainerStart(ctx, name, container.StartOptions{}); err != nil {
		return pod.Sandbox{}, fmt.Errorf("start sandbox %s: %w", name, err)
	}
	st, err := b.cli.ContainerInspect(ctx, name)
	if err != nil {
		return pod.Sandbox{}, fmt.Errorf("inspect sandbox %s: %w", name, err)
	}
	if st.State == nil || !st.State.Running || st.State.Pid <= 0 {
		return pod.Sandbox{}, fmt.Errorf("sandbox %s is not running after its start", name)
	}
	sb := b.sandboxOf(cfg, st.State.Pid, "")
	log.Info("started sandbox", "pid", sb.PID, "took", time.Since(began).Round(time.Millisecond))
	return sb, nil
}

// sandboxCreateOptions is the sandbox container: "/leci pause" as nobody
// with no capabilities on a read-only root, network none (a namespace of
// its own, which leci's network then attaches to), a shareable IPC
// namespace and its own PID namespace, in the group's cgroup, with Docker's
// restart policy off and no log (it writes nothing).
func sandboxCreateOptions(img string, cfg pod.SandboxConfig, groupCg string, labels map[string]string) (*container.Config, *container.HostConfig) {
	config := &container.Config{
		Image:      img,
		Cmd:        []string{"/leci", "pause"},
		User:       sandboxUID,
		WorkingDir: "/",
		Hostname:   cfg.Hostname,
		Labels:     labels,
	}
	hostConfig := &container.HostConfig{
		NetworkMode:    "none",
		IpcMode:        "shareable",
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		ReadonlyRootfs: true,
		CapDrop:        []string{"ALL"},
		SecurityOpt:    []string{"no-new-privileges"},
		Sysctls:        cfg.Sysctls,
		LogConfig:      container.LogConfig{Type: "none"},
		Resources:      container.Resources{CgroupParent: groupCg},
	}
	return config, hostConfig
}

// sandboxOf describes the running sandbox of cfg whose process is pid.
// netnsPath is the namespace to report ("" is the process's own).
func (b *Backend) sandboxOf(cfg pod.SandboxConfig, pid int, netnsPath string) pod.Sandbox {
	return pod.SandboxAt(cfg.GroupID, pid, netnsPath, b.groupCgroup(cfg.GroupID), cfg.SharePID)
}

// adoptSandbox returns the group's sandbox if it runs in cfg's network
// namespace. Any other sandbox of the group (stopped, or elsewhere) is
// removed.
func (b *Backend) adoptSandbox(ctx context.Context, cfg pod.SandboxConfig) (pod.Sandbox, bool, error) {
	name := sandboxName(cfg.GroupID)
	st, err := b.cli.ContainerInspect(ctx, name)
	if errdefs.IsNotFound(err) {
		return pod.Sandbox{}, false, nil
	}
	if err != nil {
		return pod.Sandbox{}, false, fmt.Errorf("inspect sandbox %s: %w", name, err)
	}
	if cfg.NetNSPath != "" && st.State != nil && st.State.Running && st.State.Pid > 0 &&
		sameNetNS(fmt.Sprintf("/proc/%d/ns/net", st.State.Pid), cfg.NetNSPath) {
		b.log.Info("adopted running sandbox", "group", cfg.GroupID, "pid", st.State.Pid)
		return b.sandboxOf(cfg, st.State.Pid, cfg.NetNSPath), true, nil
	}
	b.log.Info("removing stale sandbox", "group", cfg.GroupID)
	if err := b.removeContainer(ctx, name); err != nil {
		return pod.Sandbox{}, false, err
	}
	return pod.Sandbox{}, false, nil
}

// sameNetNS tells whether two namespace files are the same namespace.
func sameNetNS(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// RemoveSandbox removes the group: containers of the group still there
// (the engine removes them first; this catches what a crash left), the
// sandbox, and the group's cgroup with everything below it. What is
// already gone is skipped, so a second call succeeds.
func (b *Backend) RemoveSandbox(ctx context.Context, groupID string) error {
	if err := checkID("group", groupID); err != nil {
		return err
	}
	log := b.log.With("group", groupID)
	list, err := b.cli.ContainerList(ctx, container.ListOptions{All: true, Filters: b.ownFilter(groupID)})
	if err != nil {
		return fmt.Errorf("list containers of group %s: %w", groupID, err)
	}
	var errs []error
	for _, c := range list {
		if n := nameOf(c.Names); n != sandboxName(groupID) {
			log.Warn("removing a container left in the group", "container", n)
			errs = append(errs, b.removeContainer(ctx, n))
		}
	}
	errs = append(errs, b.removeContainer(ctx, sandboxName(groupID)))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := b.cg.RemoveTree(b.groupCgroup(groupID)); err != nil {
		return fmt.Errorf("group %s: %w", groupID, err)
	}
	log.Info("removed sandbox")
	return nil
}
