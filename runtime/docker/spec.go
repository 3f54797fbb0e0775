package docker

import (
	"cmp"
	"fmt"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/pkg/cap"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/mount"

	"leci/internal/cgroup"
	"leci/pod"
)

// labelLogPath keeps a container's log file with it, for StartContainer and
// for a restarted leci (WaitContainer).
const labelLogPath = "leci.log-path"

// imageConfig is what of an image's configuration a container's options
// depend on.
type imageConfig struct {
	User       string
	Entrypoint []string
	Cmd        []string
}

// createOptions maps a container of the engine's onto Docker's create
// options. It reads nothing, so it is unit-tested as it is. host says what
// of this host the mapping depends on.
func createOptions(img imageConfig, sb pod.Sandbox, cfg pod.ContainerConfig, labels map[string]string, host hostLimits) (*container.Config, *container.HostConfig, error) {
	args := cfg.ProcessArgs(img.Entrypoint, img.Cmd)
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("%w: no command: the image has no entrypoint or cmd and none is given", pod.ErrCreateConfig)
	}
	user, err := userOf(img.User, cfg.User)
	if err != nil {
		return nil, nil, err
	}
	mounts, err := dockerMounts(cfg.Mounts)
	if err != nil {
		return nil, nil, err
	}
	if labels == nil {
		labels = map[string]string{}
	}
	if cfg.LogPath != "" {
		labels[labelLogPath] = cfg.LogPath
	}
	config := &container.Config{
		Image: cfg.Image,
		// The whole command as entrypoint, so that Docker merges nothing
		// of the image's in (ProcessArgs did, by the kubelet's rule).
		Entrypoint: args,
		Cmd:        nil,
		Env:        cfg.Env,
		WorkingDir: cfg.WorkingDir,
		User:       user,
		Tty:        cfg.TTY,
		Labels:     labels,
		// Docker holds a stdin open for attaches (stdin.go).
		OpenStdin: cfg.Stdin,
		StdinOnce: cfg.Stdin && cfg.StdinOnce,
	}
	sandbox := "container:" + sandboxName(cmp.Or(sb.GroupID, cfg.GroupID))
	hc := &container.HostConfig{
		NetworkMode:    container.NetworkMode(sandbox),
		IpcMode:        container.IpcMode(sandbox),
		RestartPolicy:  container.RestartPolicy{Name: container.RestartPolicyDisabled},
		ReadonlyRootfs: cfg.ReadOnlyRootfs,
		Mounts:         mounts,
		Privileged:     cfg.Privileged,
		// json-file, whatever dockerd's default: StartContainer copies the
		// output to leci's log, and a restarted leci follows it from here
		// (the logs API needs a driver that can be read back).
		LogConfig: container.LogConfig{Type: "json-file", Config: map[string]string{"max-size": "10m", "max-file": "1"}},
		Resources: container.Resources{CgroupParent: sb.CgroupParent},
	}
	if sb.PIDPath != "" {
		hc.PidMode = container.PidMode(sandbox)
	}
	if cfg.Privileged && host.privilegedCaps != nil {
		// Docker's privileged mode asks for every capability the kernel
		// knows, which runc cannot grant where the bounding set lacks some
		// (leci itself in a container, say): the same made by hand, but
		// with the capabilities there are, and the host's devices left out.
		hc.Privileged = false
		hc.CapAdd = host.privilegedCaps
		hc.SecurityOpt = []string{"seccomp=unconfined", "apparmor=unconfined", "label=disable"}
		// Empty, not nil: no masked or read-only /proc and /sys paths (the
		// CLI's systempaths=unconfined).
		hc.MaskedPaths, hc.ReadonlyPaths = []string{}, []string{}
	}
	if !cfg.Privileged {
		caps, err := capabilities(cfg.CapAdd)
		if err != nil {
			return nil, nil, err
		}
		hc.CapAdd = caps
		for _, c := range pod.DroppedByDefault {
			// Docker refuses a capability both added and dropped.
			if !slices.Contains(caps, c) {
				hc.CapDrop = append(hc.CapDrop, c)
			}
		}
		hc.SecurityOpt = []string{"no-new-privileges"}
	}
	if quota, shares := cgroup.CPUQuotaShares(cfg.Resources.CPU); quota > 0 {
		if host.cpuQuotaCap > 0 {
			quota = min(quota, host.cpuQuotaCap)
		}
		hc.CPUPeriod, hc.CPUQuota, hc.CPUShares = cgroup.CFSPeriod, quota, int64(shares)
	}
	if m := cfg.Resources.MemoryBytes; m > 0 {
		// Swap equal to the limit: no swap beyond it.
		hc.Memory, hc.MemorySwap = m, m
	}
	if len(cfg.GPUs) > 0 {
		if err := withCDIDevices(cfg, config, hc); err != nil {
			return nil, nil, err
		}
	}
	return config, hc, nil
}

// hostLimits are what of the host createOptions depends on.
type hostLimits struct {
	// cpuQuotaCap (> 0) caps the CFS quota, see cgroup.FS.V1CPUQuota.
	cpuQuotaCap int64
	// privilegedCaps, when not nil, are the capabilities a privileged
	// container gets instead of Docker's privileged mode (see
	// boundedCapabilities).
	privilegedCaps []string
}

// boundedCapabilities returns nil when this process's capability bounding
// set holds every capability the kernel knows, so that Docker's privileged
// mode works; otherwise the capabilities it does hold. dockerd on this
// host is taken to have the same bounding set.
func boundedCapabilities() []string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return nil
	}
	defer f.Close()
	sets, err := cap.ParseProcPIDStatus(f)
	if err != nil {
		return nil
	}
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		return nil
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || last < 0 || last > 62 {
		return nil
	}
	all := uint64(1)<<(last+1) - 1
	bnd := sets[cap.Bounding]
	if bnd&all == all {
		return nil
	}
	names, _ := cap.FromBitmap(bnd & all)
	return names
}

// userOf is Docker's user string for the rules of the containerd backend:
// RunAsUser (with RunAsGroup), else the image's USER, else root; RunAsGroup
// alone replaces the primary group of that user. Docker resolves names and
// supplementary groups in the image's /etc/passwd and /etc/group itself.
// RunAsNonRoot is checked here where the uid is known: a numeric uid (00
// is 0 too), or the user root; an image user given by another name is
// resolved in the image's /etc/passwd by CreateContainer (nonRootByName).
func userOf(imageUser string, u pod.User) (string, error) {
	check := func(id int64) error {
		if id < 0 || id > 1<<31-1 {
			return fmt.Errorf("%w: user: id %d out of range", pod.ErrCreateConfig, id)
		}
		return nil
	}
	for _, id := range []*int64{u.UID, u.GID} {
		if id != nil {
			if err := check(*id); err != nil {
				return "", err
			}
		}
	}
	var user string
	switch {
	case u.UID != nil && u.GID != nil:
		user = fmt.Sprintf("%d:%d", *u.UID, *u.GID)
	case u.UID != nil:
		user = strconv.FormatInt(*u.UID, 10)
	case u.GID != nil:
		name, _, _ := strings.Cut(imageUser, ":")
		user = cmp.Or(name, "0") + ":" + strconv.FormatInt(*u.GID, 10)
	default:
		user = imageUser
	}
	if u.NonRoot {
		name, _, _ := strings.Cut(user, ":")
		if id, err := strconv.ParseUint(name, 10, 32); name == "" || name == "root" || err == nil && id == 0 {
			return "", fmt.Errorf("%w: RunAsNonRoot is set and the container would run as uid 0", pod.ErrCreateConfig)
		}
	}
	return user, nil
}

// userName is the user part of a Docker user string when it is a name,
// not a uid.
func userName(user string) (string, bool) {
	name, _, _ := strings.Cut(user, ":")
	if _, err := strconv.ParseUint(name, 10, 32); err == nil || name == "" {
		return "", false
	}
	return name, true
}

// uidInPasswd looks a user name up in an /etc/passwd.
func uidInPasswd(passwd []byte, name string) (uint64, bool) {
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 3 && f[0] == name {
			uid, err := strconv.ParseUint(f[2], 10, 32)
			return uid, err == nil
		}
	}
	return 0, false
}

// capabilities normalises added capabilities; names may come with or
// without CAP_, in any case. An unknown one is a configuration error here
// rather than a failure at create.
func capabilities(names []string) ([]string, error) {
	known := cap.Known()
	var out []string
	for _, n := range names {
		name := strings.ToUpper(strings.TrimSpace(n))
		if !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("%w: unknown capability %q", pod.ErrCreateConfig, n)
		}
		out = append(out, name)
	}
	return out, nil
}

// propagations maps pod.Mount.Propagation onto Docker's ("" is rprivate).
var propagations = map[string]mount.Propagation{
	"":         mount.PropagationRPrivate,
	"private":  mount.PropagationPrivate,
	"rprivate": mount.PropagationRPrivate,
	"slave":    mount.PropagationSlave,
	"rslave":   mount.PropagationRSlave,
	"shared":   mount.PropagationShared,
	"rshared":  mount.PropagationRShared,
}

// dockerMounts converts mounts. Bind mounts are recursive, as the
// containerd backend's rbind; the options a bind mount may carry are ro and
// rw (nosuid and nodev are taken from the source mount), and a tmpfs size=
// and mode=, since Docker's mount API takes no others.
func dockerMounts(ms []pod.Mount) ([]mount.Mount, error) {
	var out []mount.Mount
	for _, m := range ms {
		if !path.IsAbs(m.Destination) {
			return nil, fmt.Errorf("%w: mount destination %q is not absolute", pod.ErrCreateConfig, m.Destination)
		}
		prop, ok := propagations[m.Propagation]
		if !ok {
			return nil, fmt.Errorf("%w: mount %s: propagation %q", pod.ErrCreateConfig, m.Destination, m.Propagation)
		}
		dm := mount.Mount{Target: path.Clean(m.Destination), ReadOnly: m.ReadOnly}
		switch m.Type {
		case "", "bind":
			if !path.IsAbs(m.Source) {
				return nil, fmt.Errorf("%w: mount %s: source %q is not absolute", pod.ErrCreateConfig, m.Destination, m.Source)
			}
			dm.Type, dm.Source = mount.TypeBind, m.Source
			dm.BindOptions = &mount.BindOptions{Propagation: prop}
			for _, o := range m.Options {
				switch o {
				case "ro":
					dm.ReadOnly = true
				case "rw", "rbind", "bind":
				case "nosuid", "nodev":
					// Docker's mount API takes neither: leci's sources
					// (volumes, staging points) are nosuid,nodev mounts,
					// flags a bind mount keeps.
				default:
					return nil, fmt.Errorf("%w: mount %s: option %q is not supported with Docker", pod.ErrCreateConfig, m.Destination, o)
				}
			}
		case "tmpfs":
			dm.Type = mount.TypeTmpfs
			dm.TmpfsOptions = &mount.TmpfsOptions{}
			for _, o := range m.Options {
				k, v, _ := strings.Cut(o, "=")
				switch k {
				case "size":
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						return nil, fmt.Errorf("%w: mount %s: tmpfs size %q", pod.ErrCreateConfig, m.Destination, v)
					}
					dm.TmpfsOptions.SizeBytes = n
				case "mode":
					n, err := strconv.ParseUint(v, 8, 32)
					if err != nil {
						return nil, fmt.Errorf("%w: mount %s: tmpfs mode %q", pod.ErrCreateConfig, m.Destination, v)
					}
					dm.TmpfsOptions.Mode = fileMode(n)
				case "ro":
					dm.ReadOnly = true
				case "rw", "nosuid", "nodev", "noexec":
				default:
					return nil, fmt.Errorf("%w: mount %s: tmpfs option %q is not supported with Docker", pod.ErrCreateConfig, m.Destination, o)
				}
			}
		default:
			return nil, fmt.Errorf("%w: mount %s: type %q", pod.ErrCreateConfig, m.Destination, m.Type)
		}
		out = append(out, dm)
	}
	// Shallow first, so that /a does not hide /a/b (Docker sorts too; this
	// keeps the order plain to read in inspect).
	slices.SortStableFunc(out, func(a, b mount.Mount) int {
		return strings.Count(a.Target, "/") - strings.Count(b.Target, "/")
	})
	return out, nil
}

func fileMode(n uint64) os.FileMode { return os.FileMode(n) }
