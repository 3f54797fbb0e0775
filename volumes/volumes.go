// Package volumes prepares a group's volumes on the host, under the group's
// directory, and turns a container's VolumeMounts into mounts:
//
//   - EmptyDir: a directory (mode 0777), or with Medium memory a tmpfs of
//     SizeLimit bytes; a disk EmptyDir over its SizeLimit is found by Usage;
//   - ConfigFile: files written from the request without following any
//     symbolic link and with their modes exactly, read-only in containers;
//   - HostPath: a file or directory of the host, checked against the
//     allow and deny lists (Check, and again at each mount) and against its
//     Type when a container starts, so a missing path or one of the wrong
//     type leaves that container waiting and not the group failed;
//   - NFS: mounted with the kernel's NFS client when the group is set up.
//
// Every path inside a volume is resolved by file handle (openat2 with
// RESOLVE_BENEATH), never by joining strings. What a container gets from a
// SubPath or a HostPath is pinned: leci resolves it, then bind-mounts the
// resolved handle (/proc/self/fd/N) at a staging point under the group's
// directory, and the container mounts that staging point. A symbolic link
// swapped in after the check cannot redirect the mount.
//
// The group's volumes directory is a private mount of its own, so nothing
// mounted under it propagates to the host's other mount namespaces, and each
// volume leci makes is a shared mount with a peer group of its own, so that
// HostToContainer (rslave) and Bidirectional (rshared) propagation work.
// Cleanup unmounts everything under the directory and removes it without
// following symbolic links or crossing into another mount.
package volumes

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/pod"
)

// ErrNotSupported is wrapped by the errors for volumes that cannot exist on
// a local host (DiskVolume, FlexVolume).
var ErrNotSupported = errors.New("volume type not supported locally")

// stagingDir is the directory, beside the volumes in a group's volumes
// directory, that holds the pinned sources of SubPath and HostPath mounts.
// Volume names are DNS labels and never start with a dot.
const stagingDir = ".staging"

// Config configures a Manager.
type Config struct {
	// Root is leci's root directory. A HostPath at, inside or above it is
	// never allowed.
	Root string
	// HostPathAllow lists the host path prefixes HostPath volumes may use
	// (--host-path-allow), each PATH (read-only), PATH:ro or PATH:rw.
	// Empty: every path that is not denied, read-write. A rule that covers
	// a path in SystemHostPathDeny lifts that denial.
	HostPathAllow []string
	// HostPathDeny adds prefixes to DefaultHostPathDeny, which always
	// applies.
	HostPathDeny []string
}

// Manager prepares volumes. New makes one from a Config; the zero value
// works too, with the default deny list and leci's root inferred from the
// group directories it is given.
type Manager struct {
	rules *hostPathRules
	st    *state
}

// state is what a Manager remembers between calls: the staged sources of
// each group's volumes directory.
type state struct {
	mu     sync.Mutex
	staged map[string][]stagedSource
}

// stagedSource is one pinned source: a bind mount of a resolved file or
// directory at path, reused while the same key resolves to the same file.
type stagedSource struct {
	key  string
	id   fileID
	path string
}

// zeroState serves every zero-value Manager.
var zeroState = &state{staged: map[string][]stagedSource{}}

// New returns a Manager for cfg.
func New(cfg Config) *Manager {
	r := newHostPathRules(cfg)
	return &Manager{rules: &r, st: &state{staged: map[string][]stagedSource{}}}
}

func (m Manager) state() *state {
	if m.st != nil {
		return m.st
	}
	return zeroState
}

// Prepare makes every volume under dir and returns the source of each by
// name, to be handed back to Mount: the volume's directory under dir. For a
// HostPath volume nothing is made and the source only names the group;
// Mount resolves the host path itself each time a container starts.
func (m Manager) Prepare(ctx context.Context, dir string, vols []api.Volume) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("volumes directory: %w", err)
	}
	if err := privateMount(dir); err != nil {
		return nil, fmt.Errorf("volumes directory: %w", err)
	}
	out := make(map[string]string, len(vols))
	for _, v := range vols {
		if v.Name == "" || strings.ContainsAny(v.Name, "/\x00") || strings.HasPrefix(v.Name, ".") {
			return nil, fmt.Errorf("volume name %q is not a valid name", v.Name)
		}
		src := filepath.Join(dir, v.Name)
		if err := prepare(ctx, src, v); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		out[v.Name] = src
	}
	return out, nil
}

func prepare(ctx context.Context, path string, v api.Volume) error {
	switch v.Type {
	case api.VolumeEmptyDir:
		if err := mkdirMode(path, 0o777); err != nil {
			return err
		}
		if e := v.EmptyDirVolume; e != nil && strings.EqualFold(e.Medium, api.MediumMemory) {
			opts := "mode=0777"
			if e.SizeLimit != "" {
				size, err := api.ParseSizeLimit(e.SizeLimit)
				if err != nil {
					return err
				}
				opts += ",size=" + strconv.FormatInt(size, 10)
			}
			if err := unix.Mount("tmpfs", path, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
				return fmt.Errorf("mount tmpfs: %w", err)
			}
		}
		return sharedMount(path)
	case api.VolumeConfigFile:
		if err := mkdirMode(path, 0o755); err != nil {
			return err
		}
		if err := writeConfigFiles(path, v.ConfigFileVolume); err != nil {
			return err
		}
		return sharedMount(path)
	case api.VolumeHostPath:
		if v.HostPathVolume == nil {
			return errors.New("HostPathVolume is missing")
		}
		return nil
	case api.VolumeNFS:
		if v.NFSVolume == nil {
			return errors.New("NFSVolume is missing")
		}
		if err := mkdirMode(path, 0o755); err != nil {
			return err
		}
		if err := mountNFS(ctx, path, v.NFSVolume); err != nil {
			return err
		}
		return sharedMount(path)
	}
	return fmt.Errorf("%s: %w", v.Type, ErrNotSupported)
}

// mkdirMode makes a new directory with exactly mode, whatever the umask.
func mkdirMode(path string, mode os.FileMode) error {
	if err := os.Mkdir(path, mode); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}

var propagation = map[string]string{
	"": "rprivate", api.PropagationNone: "rprivate",
	api.PropagationHostToContainer: "rslave", api.PropagationBidirectional: "rshared",
}

// Mount returns the container's mount for one VolumeMount of a volume whose
// source Prepare returned. A SubPath is resolved inside the volume (and made
// in an EmptyDir when missing); one that leads outside is refused. A
// HostPath is checked (allowed, present, of its Type) now, so that a failure
// keeps this container waiting. SubPath and HostPath sources are pinned at a
// staging point under the group's directory.
func (m Manager) Mount(source string, vol api.Volume, vm api.VolumeMount) (pod.Mount, error) {
	if source == "" {
		return pod.Mount{}, fmt.Errorf("volume %s was not prepared", vm.Name)
	}
	prop, ok := propagation[vm.MountPropagation]
	if !ok {
		return pod.Mount{}, fmt.Errorf("mount propagation %q is not one of None, HostToContainer, Bidirectional", vm.MountPropagation)
	}
	dir := filepath.Dir(source)
	sub := strings.Trim(vm.SubPath, "/")
	out := pod.Mount{
		Destination: vm.MountPath, Type: "bind", Propagation: prop, Options: []string{"nosuid", "nodev"},
		ReadOnly: vm.ReadOnly || vol.Type == api.VolumeConfigFile || (vol.Type == api.VolumeNFS && vol.NFSVolume != nil && vol.NFSVolume.ReadOnly),
	}
	var err error
	switch vol.Type {
	case api.VolumeHostPath:
		var ro bool
		out.Source, ro, err = m.mountHostPath(dir, vol, sub, prop)
		out.ReadOnly = out.ReadOnly || ro
		if hp := vol.HostPathVolume; hp != nil && (hp.Type == "CharDevice" || hp.Type == "BlockDevice") {
			out.Options = []string{"nosuid"} // a device must stay usable
		}
	case api.VolumeEmptyDir, api.VolumeConfigFile, api.VolumeNFS:
		if sub == "" {
			if _, err := os.Lstat(source); err != nil {
				return pod.Mount{}, fmt.Errorf("volume %s: %w", vol.Name, err)
			}
			out.Source = source
			break
		}
		out.Source, err = m.mountSubPath(dir, source, vol, sub)
	default:
		err = fmt.Errorf("volume %s: type %q: %w", vol.Name, vol.Type, ErrNotSupported)
	}
	if err != nil {
		return pod.Mount{}, err
	}
	return out, nil
}

// mountSubPath resolves sub inside a volume leci made and stages it.
func (m Manager) mountSubPath(dir, source string, vol api.Volume, sub string) (string, error) {
	root, err := unix.Open(source, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("volume %s: %w", vol.Name, &os.PathError{Op: "open", Path: source, Err: err})
	}
	defer unix.Close(root)
	if vol.Type == api.VolumeEmptyDir {
		if err := mkdirAllBeneath(root, sub, 0o777, resolveInVolume); err != nil {
			return "", subPathError(vol.Name, sub, err)
		}
	}
	fd, err := openBeneath(root, sub, unix.O_PATH, resolveInVolume)
	if err != nil {
		return "", subPathError(vol.Name, sub, err)
	}
	defer unix.Close(fd)
	return m.stage(dir, "subpath\x00"+vol.Name+"\x00"+sub, fd)
}

func subPathError(vol, sub string, err error) error {
	return fmt.Errorf("sub path %q of volume %s: %s", sub, vol, resolveReason(err))
}

// Cleanup unmounts whatever is mounted under dir (tmpfs, NFS, staging
// points, mounts propagated from containers), deepest first, and removes
// dir without following symbolic links or entering a mount. Calling it
// again, or for a dir that does not exist, is no error.
func (m Manager) Cleanup(ctx context.Context, dir string) error {
	st := m.state()
	st.mu.Lock()
	delete(st.staged, filepath.Clean(dir))
	st.mu.Unlock()
	return cleanupDir(dir)
}

// privateMount makes dir a mount of its own (a bind mount on itself) with
// private propagation, so that what is mounted under it stays in leci's
// mount namespace; nosuid and nodev, so that nothing a container leaves
// in a volume is a setuid program or a device on the host.
func privateMount(dir string) error {
	if err := selfBind(dir); err != nil {
		return err
	}
	if err := restrictMount(dir, true); err != nil {
		return err
	}
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make %s private: %w", dir, err)
	}
	return nil
}

// sharedMount makes path a mount of its own in a new peer group: private
// first (leaving any group it was in), then shared; nosuid and nodev,
// flags the runtimes' bind mounts of it keep.
func sharedMount(path string) error {
	if err := selfBind(path); err != nil {
		return err
	}
	if err := restrictMount(path, true); err != nil {
		return err
	}
	for _, flag := range []uintptr{unix.MS_PRIVATE, unix.MS_SHARED} {
		if err := unix.Mount("", path, "", flag, ""); err != nil {
			return fmt.Errorf("set propagation of %s: %w", path, err)
		}
	}
	return nil
}

// keptMountFlags are the per-mount flags a remount must repeat to keep
// them (statfs's ST_* values are the MS_* ones).
const keptMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME

// restrictMount adds nosuid (and nodev when asked) to the mount at path,
// keeping its other flags (a read-only source stays read-only).
func restrictMount(path string, nodev bool) error {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return &os.PathError{Op: "statfs", Path: path, Err: err}
	}
	flags := uintptr(st.Flags)&keptMountFlags | unix.MS_NOSUID
	if nodev {
		flags |= unix.MS_NODEV
	}
	if err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|flags, ""); err != nil {
		return fmt.Errorf("remount %s nosuid,nodev: %w", path, err)
	}
	return nil
}

// selfBind bind-mounts path on itself unless it is a mount point already.
func selfBind(path string) error {
	root, err := isMountRoot(path)
	if err != nil {
		return err
	}
	if root {
		return nil
	}
	if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s on itself: %w", path, err)
	}
	return nil
}

func isMountRoot(path string) (bool, error) {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &stx); err != nil {
		return false, &os.PathError{Op: "statx", Path: path, Err: err}
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return false, fmt.Errorf("statx of %s does not tell mount points (Linux 5.8 or later is needed)", path)
	}
	return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
}

// stage pins the file or directory open at fd: it bind-mounts it (with its
// submounts) at a new point under dir's staging directory and returns that
// point. A source staged before under the same key is reused while it is
// still mounted and is the same file, so a container restarting in a loop
// does not pile up mounts; a different file gets a new point (the old one
// may still be in use by a container being created).
func (m Manager) stage(dir, key string, fd int) (string, error) {
	id, isDir, err := identify(fd)
	if err != nil {
		return "", err
	}
	var fst unix.Stat_t
	if err := unix.Fstat(fd, &fst); err != nil {
		return "", err
	}
	isDevice := fst.Mode&unix.S_IFMT == unix.S_IFCHR || fst.Mode&unix.S_IFMT == unix.S_IFBLK
	st := m.state()
	st.mu.Lock()
	defer st.mu.Unlock()
	dir = filepath.Clean(dir)
	for _, s := range st.staged[dir] {
		if s.key == key && s.id == id && stillStaged(s) {
			return s.path, nil
		}
	}
	sdir := filepath.Join(dir, stagingDir)
	if err := os.Mkdir(sdir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("staging directory: %w", err)
	}
	var path string
	for n := len(st.staged[dir]); ; n++ {
		path = filepath.Join(sdir, strconv.Itoa(n))
		if isDir {
			err = unix.Mkdir(path, 0o700)
		} else {
			var f int
			f, err = unix.Open(path, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
			if err == nil {
				unix.Close(f)
			}
		}
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EEXIST) {
			return "", fmt.Errorf("staging point: %w", &os.PathError{Op: "create", Path: path, Err: err})
		}
	}
	if err := unix.Mount(fdPath(fd), path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("pin source at %s: %w", path, err)
	}
	// A device a HostPath names (Type CharDevice, BlockDevice) must stay
	// usable; anything else is staged nodev too.
	if err := restrictMount(path, !isDevice); err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
		return "", err
	}
	st.staged[dir] = append(st.staged[dir], stagedSource{key: key, id: id, path: path})
	return path, nil
}

// stillStaged reports whether a staging point still shows the file it was
// made for.
func stillStaged(s stagedSource) bool {
	var st unix.Stat_t
	if err := unix.Lstat(s.path, &st); err != nil {
		return false
	}
	return uint64(st.Dev) == s.id.dev && st.Ino == s.id.ino
}

// fileID tells files apart: device and inode, and the mount they were
// reached through (0 when the kernel does not say).
type fileID struct{ dev, ino, mnt uint64 }

func identify(fd int) (fileID, bool, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, false, fmt.Errorf("stat %s: %w", fdPath(fd), err)
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino, mnt: mountID(fd)}, st.Mode&unix.S_IFMT == unix.S_IFDIR, nil
}

// mountID is the id of the mount fd is on, as /proc/self/mountinfo numbers
// them; 0 when the kernel does not tell (before Linux 5.8).
func mountID(fd int) uint64 {
	var stx unix.Statx_t
	if err := unix.Statx(fd, "", unix.AT_EMPTY_PATH, unix.STATX_MNT_ID, &stx); err != nil || stx.Mask&unix.STATX_MNT_ID == 0 {
		return 0
	}
	return stx.Mnt_id
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }
