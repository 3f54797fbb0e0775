package volumes

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"leci/api"
)

// CodeForbiddenHostPath is the error code of a HostPath that leci's
// configuration does not allow. ECI has no such code (it has no host
// paths); the Forbidden family and HTTP 403 say it is a matter of policy,
// not of a malformed request.
const CodeForbiddenHostPath = "Forbidden.HostPath"

// ErrForbiddenHostPath is the errors.Is target for CodeForbiddenHostPath.
var ErrForbiddenHostPath = &api.Error{Code: CodeForbiddenHostPath, Status: http.StatusForbidden}

// DefaultHostPathDeny are the host paths no HostPath volume may reach
// besides leci's own root: the state and sockets of containerd, runc and
// the other container runtimes that may share the host. A path inside one
// of them is refused, and so is a path that contains one (/, /var, /run),
// since mounting it would expose it too.
var DefaultHostPathDeny = []string{
	"/var/lib/containerd", "/run/containerd", "/var/run/containerd",
	"/run/runc", "/var/run/runc",
	"/var/lib/docker", "/run/docker", "/var/run/docker", "/run/docker.sock", "/var/run/docker.sock",
	"/run/crio", "/var/run/crio", "/var/lib/containers",
	"/run/podman", "/var/run/podman", "/run/buildkit", "/var/lib/buildkit",
	"/var/lib/kubelet",
}

type denyRule struct{ path, what string }

// hostPathRules are the allow and deny lists, each entry also in its form
// with symbolic links resolved (/var/run is often a link to /run).
type hostPathRules struct {
	allow []string
	deny  []denyRule
}

func newHostPathRules(cfg Config) hostPathRules {
	var r hostPathRules
	add := func(p, what string) {
		if p == "" || !filepath.IsAbs(p) {
			return
		}
		p = filepath.Clean(p)
		r.deny = append(r.deny, denyRule{p, what})
		if real := resolveExisting(p); real != p {
			r.deny = append(r.deny, denyRule{real, what})
		}
	}
	add(cfg.Root, "leci's root")
	for _, p := range DefaultHostPathDeny {
		add(p, "a container runtime's state or socket")
	}
	for _, p := range cfg.HostPathDeny {
		add(p, "denied by leci's configuration")
	}
	for _, p := range cfg.HostPathAllow {
		if p == "" || !filepath.IsAbs(p) {
			continue
		}
		p = filepath.Clean(p)
		r.allow = append(r.allow, p)
		if real := resolveExisting(p); real != p {
			r.allow = append(r.allow, real)
		}
	}
	return r
}

// rulesFor returns the Manager's rules; a zero-value Manager uses the
// defaults, with leci's root taken from a group volumes directory laid out
// as <root>/groups/<id>/volumes when dir is one.
func (m Manager) rulesFor(dir string) hostPathRules {
	if m.rules != nil {
		return *m.rules
	}
	var cfg Config
	if dir != "" && filepath.Base(dir) == "volumes" && filepath.Base(filepath.Dir(filepath.Dir(dir))) == "groups" {
		cfg.Root = filepath.Dir(filepath.Dir(filepath.Dir(dir)))
	}
	return newHostPathRules(cfg)
}

// check says why path may not be used, or "" when it may.
func (r hostPathRules) check(path string) string {
	for _, d := range r.deny {
		switch {
		case within(path, d.path):
			return fmt.Sprintf("it is inside %s (%s)", d.path, d.what)
		case within(d.path, path):
			return fmt.Sprintf("it contains %s (%s)", d.path, d.what)
		}
	}
	if len(r.allow) == 0 {
		return ""
	}
	for _, a := range r.allow {
		if within(path, a) {
			return ""
		}
	}
	return fmt.Sprintf("it is outside the allowed host paths (%s)", strings.Join(r.allow, ", "))
}

// allowed checks a host path as given and with its symbolic links resolved
// as far as it exists; it returns the reason for a refusal.
func (r hostPathRules) allowed(path string) error {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return fmt.Errorf("host path %q must be an absolute, clean path", path)
	}
	if why := r.check(path); why != "" {
		return fmt.Errorf("host path %s is not allowed: %s", path, why)
	}
	if real := resolveExisting(path); real != path {
		if why := r.check(real); why != "" {
			return fmt.Errorf("host path %s (%s once its symbolic links are resolved) is not allowed: %s", path, real, why)
		}
	}
	return nil
}

// within reports whether p is base or below it.
func within(p, base string) bool {
	return p == base || base == "/" || strings.HasPrefix(p, base+"/")
}

// resolveExisting resolves the symbolic links of the longest part of path
// that exists and appends the rest.
func resolveExisting(path string) string {
	rest := ""
	for p := path; ; p = filepath.Dir(p) {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(real, rest)
		}
		if p == "/" || p == "." {
			return path
		}
		rest = filepath.Join(filepath.Base(p), rest)
	}
}

// Check refuses, before anything is made, the volumes this host will not
// provide: a HostPath outside the allow list or reaching a denied path
// (Forbidden.HostPath, HTTP 403, naming Volume.N.HostPathVolume.Path), an
// NFS volume on a kernel without an NFS client, and DiskVolume and
// FlexVolume (<Type>.NotSupport, HTTP 400, naming Volume.N.Type).
func (m Manager) Check(vols []api.Volume) api.Errors {
	var errs api.Errors
	rules := m.rulesFor("")
	notSupported := func(i int, typ, msg string) {
		errs = append(errs, &api.Error{
			Code: strings.TrimSuffix(typ, "Volume") + "Volume.NotSupport", Status: http.StatusBadRequest,
			Field: fmt.Sprintf("Volume.%d.Type", i+1), Message: msg,
		})
	}
	for i, v := range vols {
		switch v.Type {
		case api.VolumeHostPath:
			if v.HostPathVolume == nil {
				continue
			}
			if err := rules.allowed(v.HostPathVolume.Path); err != nil {
				errs = append(errs, &api.Error{
					Code: CodeForbiddenHostPath, Status: http.StatusForbidden,
					Field: fmt.Sprintf("Volume.%d.HostPathVolume.Path", i+1), Message: err.Error(),
				})
			}
		case api.VolumeNFS:
			if err := nfsSupported(); err != nil {
				notSupported(i, v.Type, err.Error())
			}
		case api.VolumeDisk, api.VolumeFlex:
			notSupported(i, v.Type, fmt.Sprintf("%s volumes are not available on a local host", v.Type))
		}
	}
	return errs
}

// mountHostPath checks and opens a HostPath volume's path (and SubPath
// inside it) and stages it.
func (m Manager) mountHostPath(dir string, vol api.Volume, sub, prop string) (string, error) {
	hp := vol.HostPathVolume
	if hp == nil {
		return "", fmt.Errorf("volume %s: HostPathVolume is missing", vol.Name)
	}
	fd, err := openHostPath(m.rulesFor(dir), hp)
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	if sub != "" {
		sfd, err := openBeneath(fd, sub, unix.O_PATH, resolveInVolume)
		if err != nil {
			return "", fmt.Errorf("sub path %q of host path %s: %s", sub, hp.Path, resolveReason(err))
		}
		defer unix.Close(sfd)
		fd = sfd
	}
	if err := checkSourcePropagation(fd, prop); err != nil {
		return "", fmt.Errorf("host path %s: %w", hp.Path, err)
	}
	return m.stage(dir, "hostpath\x00"+vol.Name+"\x00"+sub, fd)
}

// openHostPath makes the host path when its Type says so (and when it has
// no Type, as containerd's CRI does, as a directory), opens it with O_PATH,
// checks the allow and deny lists on the path it really opened, and checks
// its Type. The errors say what is wrong for the container's message.
func openHostPath(rules hostPathRules, hp *api.HostPathVolume) (int, error) {
	p := hp.Path
	if err := rules.allowed(p); err != nil {
		return -1, err
	}
	typ := hp.Type
	if typ == "" {
		typ = "unset"
	}
	fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) {
		switch hp.Type {
		case "", "DirectoryOrCreate":
			err = makeHostDir(p)
		case "FileOrCreate":
			err = makeHostFile(p)
		default:
			return -1, fmt.Errorf("host path %s does not exist (HostPathVolume.Type %s needs it to)", p, typ)
		}
		if err != nil {
			return -1, fmt.Errorf("host path %s (HostPathVolume.Type %s): make it: %w", p, typ, err)
		}
		fd, err = unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return -1, fmt.Errorf("host path %s: %w", p, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	real, err := os.Readlink(fdPath(fd))
	if err != nil {
		return -1, fmt.Errorf("host path %s: %w", p, err)
	}
	if real != p {
		if why := rules.check(real); why != "" {
			return -1, fmt.Errorf("host path %s (opened as %s) is not allowed: %s", p, real, why)
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return -1, fmt.Errorf("host path %s: %w", p, err)
	}
	if err := checkHostPathType(p, hp.Type, st.Mode); err != nil {
		return -1, err
	}
	ok = true
	return fd, nil
}

// checkHostPathType checks a host path's file type against its
// HostPathVolume.Type.
func checkHostPathType(path, typ string, mode uint32) error {
	var want uint32
	switch typ {
	case "":
		return nil
	case "Directory", "DirectoryOrCreate":
		want = unix.S_IFDIR
	case "File", "FileOrCreate":
		want = unix.S_IFREG
	case "Socket":
		want = unix.S_IFSOCK
	case "CharDevice":
		want = unix.S_IFCHR
	case "BlockDevice":
		want = unix.S_IFBLK
	default:
		return fmt.Errorf("host path %s: HostPathVolume.Type %q is not a known type", path, typ)
	}
	if mode&unix.S_IFMT != want {
		return fmt.Errorf("host path %s is %s, not %s as HostPathVolume.Type %s needs", path, fileKind(mode), fileKind(want), typ)
	}
	return nil
}

func fileKind(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFREG:
		return "a regular file"
	case unix.S_IFSOCK:
		return "a socket"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFIFO:
		return "a named pipe"
	case unix.S_IFLNK:
		return "a symbolic link"
	}
	return "of an unknown type"
}

// makeHostDir makes a missing host directory and its parents, 0755.
func makeHostDir(p string) error {
	if err := os.MkdirAll(p, 0o755); err != nil {
		return err
	}
	return os.Chmod(p, 0o755)
}

// makeHostFile makes a missing host file, empty and 0644, with its parent
// directories; an existing path (even a dangling symbolic link) is left as
// it is.
func makeHostFile(p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
