package volumes

import (
	"errors"
	"fmt"
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
// the other container runtimes that may share the host, and the default
// directory of leci's own socket. A path inside one of them is refused,
// and so is a path that contains one (/, /var, /run), since mounting it
// would expose it too. No allow rule lifts them.
var DefaultHostPathDeny = []string{
	"/var/lib/containerd", "/run/containerd", "/var/run/containerd",
	"/run/runc", "/var/run/runc",
	"/var/lib/docker", "/run/docker", "/var/run/docker", "/run/docker.sock", "/var/run/docker.sock",
	"/run/crio", "/var/run/crio", "/var/lib/containers",
	"/run/podman", "/var/run/podman", "/run/buildkit", "/var/lib/buildkit",
	"/var/lib/kubelet",
	"/run/leci", "/var/run/leci",
}

// SystemHostPathDeny are the host's own directories that hand a container
// the host: its configuration (/etc, /root, /boot) and the kernel's
// interfaces (/proc, /sys, /dev). They are refused, and so is a path that
// contains one (/), unless an allow rule (--host-path-allow) covers the
// path: the operator may lift them, path by path.
var SystemHostPathDeny = []string{"/etc", "/proc", "/sys", "/dev", "/root", "/boot"}

type denyRule struct {
	path, what string
	// liftable rules give way to an allow rule that covers the path.
	liftable bool
}

// allowRule is one --host-path-allow prefix: read-only unless it says rw.
type allowRule struct {
	path string
	rw   bool
}

// hostPathRules are the allow and deny lists, each entry also in its form
// with symbolic links resolved (/var/run is often a link to /run).
type hostPathRules struct {
	allow []allowRule
	deny  []denyRule
}

// ParseHostPathAllow reads one allow rule, PATH or PATH:ro or PATH:rw;
// a PATH alone is read-only.
func ParseHostPathAllow(rule string) (path string, rw bool, err error) {
	path = rule
	if p, mode, ok := strings.Cut(rule, ":"); ok {
		switch mode {
		case "ro":
		case "rw":
			rw = true
		default:
			return "", false, fmt.Errorf("host path rule %q: the mode after the colon must be ro or rw", rule)
		}
		path = p
	}
	if !filepath.IsAbs(path) {
		return "", false, fmt.Errorf("host path rule %q: the path must be absolute", rule)
	}
	return filepath.Clean(path), rw, nil
}

func newHostPathRules(cfg Config) hostPathRules {
	var r hostPathRules
	add := func(p, what string, liftable bool) {
		if p == "" || !filepath.IsAbs(p) {
			return
		}
		p = filepath.Clean(p)
		r.deny = append(r.deny, denyRule{p, what, liftable})
		if real := resolveExisting(p); real != p {
			r.deny = append(r.deny, denyRule{real, what, liftable})
		}
	}
	add(cfg.Root, "leci's root", false)
	for _, p := range DefaultHostPathDeny {
		add(p, "a container runtime's or leci's state or socket", false)
	}
	for _, p := range cfg.HostPathDeny {
		add(p, "denied by leci's configuration", false)
	}
	for _, p := range SystemHostPathDeny {
		add(p, "the host's system files; an allow rule may lift this", true)
	}
	for _, rule := range cfg.HostPathAllow {
		p, rw, err := ParseHostPathAllow(rule)
		if err != nil {
			continue // refused where the configuration is read
		}
		r.allow = append(r.allow, allowRule{p, rw})
		if real := resolveExisting(p); real != p {
			r.allow = append(r.allow, allowRule{real, rw})
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

// allowedBy is the most specific allow rule that covers path.
func (r hostPathRules) allowedBy(path string) (allowRule, bool) {
	var best allowRule
	found := false
	for _, a := range r.allow {
		if within(path, a.path) && (!found || len(a.path) > len(best.path)) {
			best, found = a, true
		}
	}
	return best, found
}

// check says why path may not be used, or "" when it may.
func (r hostPathRules) check(path string) string {
	_, allowed := r.allowedBy(path)
	for _, d := range r.deny {
		if d.liftable && allowed {
			continue
		}
		switch {
		case within(path, d.path):
			return fmt.Sprintf("it is inside %s (%s)", d.path, d.what)
		case within(d.path, path):
			return fmt.Sprintf("it contains %s (%s)", d.path, d.what)
		}
	}
	if len(r.allow) == 0 || allowed {
		return ""
	}
	paths := make([]string, 0, len(r.allow))
	for _, a := range r.allow {
		paths = append(paths, a.path)
	}
	return fmt.Sprintf("it is outside the allowed host paths (%s)", strings.Join(paths, ", "))
}

// readOnly reports whether a host path (as opened, symbolic links
// resolved) is to be mounted read-only: with no allow rule every allowed
// path is writable, as in Kubernetes; once there are rules, a path is
// writable only under a rule that says rw.
func (r hostPathRules) readOnly(path string) bool {
	if len(r.allow) == 0 {
		return false
	}
	a, ok := r.allowedBy(path)
	return !ok || !a.rw
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
// inside it) and stages it. It also says whether the allow rule that
// covers the path makes it read-only.
func (m Manager) mountHostPath(dir string, vol api.Volume, sub, prop string) (source string, readOnly bool, err error) {
	hp := vol.HostPathVolume
	if hp == nil {
		return "", false, fmt.Errorf("volume %s: HostPathVolume is missing", vol.Name)
	}
	rules := m.rulesFor(dir)
	fd, err := openHostPath(rules, hp)
	if err != nil {
		return "", false, err
	}
	defer unix.Close(fd)
	real, err := os.Readlink(fdPath(fd))
	if err != nil {
		return "", false, fmt.Errorf("host path %s: %w", hp.Path, err)
	}
	if sub != "" {
		sfd, err := openBeneath(fd, sub, unix.O_PATH, resolveInVolume)
		if err != nil {
			return "", false, fmt.Errorf("sub path %q of host path %s: %s", sub, hp.Path, resolveReason(err))
		}
		defer unix.Close(sfd)
		fd = sfd
	}
	if err := checkSourcePropagation(fd, prop); err != nil {
		return "", false, fmt.Errorf("host path %s: %w", hp.Path, err)
	}
	source, err = m.stage(dir, "hostpath\x00"+vol.Name+"\x00"+sub, fd)
	return source, rules.readOnly(real), err
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
		case "", "DirectoryOrCreate", "FileOrCreate":
			err = createHostPath(rules, p, hp.Type == "FileOrCreate")
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

// createHostPath makes a missing host path for DirectoryOrCreate (and no
// Type) or FileOrCreate: directories 0755, a file empty and 0644; an
// existing path (even a dangling symbolic link) is left as it is. It works
// by handle, never by path string: from a base that is opened and checked
// first (the allow rule that covers the path, or with no allow rule the
// deepest part of the path that exists), each component below it is made
// with mkdirat/openat2 and resolved with RESOLVE_BENEATH and
// RESOLVE_NO_SYMLINKS, so a symbolic link planted on the way can lead the
// creation neither out of the base nor into a denied place.
func createHostPath(rules hostPathRules, p string, file bool) error {
	target, base := p, existingAncestor(p)
	if len(rules.allow) > 0 {
		a, ok := rules.allowedBy(target)
		if !ok {
			target = resolveExisting(p)
			a, ok = rules.allowedBy(target)
		}
		if !ok {
			return fmt.Errorf("no allow rule covers %s", p)
		}
		base = a.path
	}
	rel, err := filepath.Rel(base, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return fmt.Errorf("%s is not below %s", target, base)
	}
	baseFd, err := unix.Open(base, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: base, Err: err}
	}
	defer unix.Close(baseFd)
	real, err := os.Readlink(fdPath(baseFd))
	if err != nil {
		return err
	}
	if why := rules.check(real); why != "" {
		return fmt.Errorf("%s (opened as %s) is not allowed: %s", base, real, why)
	}
	if !file {
		return mkdirAllBeneath(baseFd, rel, 0o755, resolveNoSymlinks)
	}
	dir, name := filepath.Split(rel)
	if err := mkdirAllBeneath(baseFd, dir, 0o755, resolveNoSymlinks); err != nil {
		return err
	}
	parent, err := openBeneath(baseFd, dir, unix.O_PATH|unix.O_DIRECTORY, resolveNoSymlinks)
	if err != nil {
		return err
	}
	defer unix.Close(parent)
	how := &unix.OpenHow{Flags: unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC, Mode: 0o644, Resolve: resolveNoSymlinks}
	fd, err := unix.Openat2(parent, name, how)
	if errors.Is(err, unix.EEXIST) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, 0o644)
}

// existingAncestor is the deepest part of path that exists (as a name:
// the last component may be a symbolic link).
func existingAncestor(path string) string {
	for p := filepath.Dir(path); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || p == "/" {
			return p
		}
	}
}
