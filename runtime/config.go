package runtime

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"leci/api"
	"leci/pod"
)

const bytesPerGiB = 1 << 30

func gib(n float64) int64 { return int64(n * bytesPerGiB) }

// hostname is the group's host name: HostName, else the group name cut to
// what the kernel holds.
func hostname(req *api.CreateContainerGroupRequest) string {
	if req.HostName != "" {
		return req.HostName
	}
	return strings.TrimRight(req.ContainerGroupName[:min(len(req.ContainerGroupName), 63)], "-")
}

// groupResources are the limits of the group's cgroup: the request's Cpu
// and Memory, Options.PidsLimit, and when the request gives no Memory,
// Options.DefaultMemoryBytes, raised to what the containers' own memory
// limits add up to (the app containers together, or the largest init
// container) so that the ceiling never undercuts the request.
func groupResources(req *api.CreateContainerGroupRequest, opts Options) pod.Resources {
	r := pod.Resources{CPU: req.Cpu, MemoryBytes: gib(req.Memory), Pids: opts.PidsLimit}
	if r.MemoryBytes > 0 || opts.DefaultMemoryBytes <= 0 {
		return r
	}
	var apps, inits int64
	for _, c := range req.Container {
		apps += gib(c.Memory)
	}
	for _, c := range req.InitContainer {
		inits = max(inits, gib(c.Memory))
	}
	r.MemoryBytes = max(opts.DefaultMemoryBytes, apps, inits)
	return r
}

func sysctls(req *api.CreateContainerGroupRequest) map[string]string {
	out := map[string]string{}
	if sc := req.SecurityContext; sc != nil {
		for _, s := range sc.Sysctl {
			out[s.Name] = s.Value
		}
	}
	if sc := req.HostSecurityContext; sc != nil {
		for _, s := range sc.Sysctl {
			out[s.Name] = s.Value
		}
	}
	return out
}

// netSysctls tells whether the group sets a net.* sysctl. runc applies
// the group's sysctls when it creates a container, in the group's network
// namespace, and such a one may name an interface that CNI ADD makes
// (net.ipv4.conf.eth0.…): a group with one creates its containers' tasks
// once the network is set up.
func netSysctls(req *api.CreateContainerGroupRequest) bool {
	for name := range sysctls(req) {
		if strings.HasPrefix(name, "net.") || strings.HasPrefix(name, "net/") {
			return true
		}
	}
	return false
}

func imageAuth(req *api.CreateContainerGroupRequest) pod.ImageAuth {
	var a pod.ImageAuth
	for _, c := range req.ImageRegistryCredential {
		a.Credentials = append(a.Credentials, pod.Credential{Server: c.Server, UserName: c.UserName, Password: c.Password})
	}
	a.PlainHTTP = hostList(req.PlainHTTPRegistry)
	a.Insecure = hostList(req.InsecureRegistry)
	return a
}

func hostList(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

func networkOptions(req *api.CreateContainerGroupRequest) pod.NetworkOptions {
	// The request's rates are bytes per second (ECI's Bps); the network's
	// are bits per second.
	o := pod.NetworkOptions{IngressBandwidth: req.IngressBandwidth * 8, EgressBandwidth: req.EgressBandwidth * 8, IPv6: req.Ipv6AddressCount == 1,
		IPv4: req.PrivateIPAddress}
	for _, c := range req.Container {
		for _, p := range c.Port {
			o.Ports = append(o.Ports, pod.PortMapping{ContainerPort: p.Port, Protocol: strings.ToLower(p.Protocol)})
		}
	}
	return o
}

func etcFiles(req *api.CreateContainerGroupRequest, nw pod.Network) pod.EtcFiles {
	f := pod.EtcFiles{Hostname: hostname(req), IP: nw.IPv4, DNSPolicy: req.DNSPolicy}
	for _, a := range req.HostAliase {
		f.Aliases = append(f.Aliases, pod.HostAlias{IP: a.IP, Hostnames: a.Hostname})
	}
	if c := req.DNSConfig; c != nil {
		f.NameServers, f.Searches = c.NameServer, c.Search
		for _, o := range c.Option {
			f.Options = append(f.Options, pod.DNSOption{Name: o.Name, Value: o.Value})
		}
	}
	return f
}

// containerConfig turns a container of the request into what the backend
// creates: environment resolved (status.podIP), mounts prepared, limits in
// bytes and cores.
func (g *group) containerConfig(spec *api.ContainerCommon, app *api.Container, init bool, attempt int, id string) (pod.ContainerConfig, error) {
	kind := pod.KindApp
	if init {
		kind = pod.KindInit
	}
	cfg := pod.ContainerConfig{
		ID: id, GroupID: g.id, Name: spec.Name, Kind: kind, Attempt: attempt,
		Image: spec.Image, Command: spec.Command, Args: spec.Arg, WorkingDir: spec.WorkingDir,
		Resources: pod.Resources{CPU: spec.Cpu, MemoryBytes: gib(spec.Memory)},
		LogPath:   g.logPath(spec.Name, attempt),
		Labels: map[string]string{
			pod.LabelGroupID: g.id, pod.LabelContainer: spec.Name, pod.LabelKind: kind,
			pod.LabelAttempt: strconv.Itoa(attempt),
		},
	}
	for _, e := range spec.EnvironmentVar {
		v := e.Value
		if e.FieldRef != nil && e.FieldRef.FieldPath == api.FieldPathPodIP {
			v = g.network.IPv4
		}
		cfg.Env = append(cfg.Env, e.Key+"="+v)
	}
	if sc := spec.SecurityContext; sc != nil {
		cfg.User.UID = sc.RunAsUser
		cfg.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem
		if sc.Capability != nil {
			cfg.CapAdd = sc.Capability.Add
		}
	}
	if app != nil {
		cfg.User.GID = app.SecurityContextRunAsGroup
		cfg.User.NonRoot = app.SecurityContextRunAsNonRoot
		cfg.Privileged = app.SecurityContextPrivileged
		cfg.TTY, cfg.Stdin, cfg.StdinOnce = app.Tty, app.Stdin, app.StdinOnce
	}
	if gpus := g.gpusOf(spec.Name); len(gpus) > 0 {
		cfg.GPUs, cfg.CDI = gpus, g.e.opts.GPUs
	}
	termination, err := g.terminationFile(spec.Name, attempt, cfg.User)
	if err != nil {
		return pod.ContainerConfig{}, err
	}
	if err := removeLog(cfg.LogPath); err != nil {
		return pod.ContainerConfig{}, err
	}
	// Files of leci's: a container may write them, never make them a
	// setuid program or a device.
	safe := []string{"nosuid", "nodev"}
	cfg.Mounts = []pod.Mount{
		{Source: termination, Destination: spec.TerminationMessagePath, Type: "bind", Options: safe},
		{Source: g.etc.Hosts, Destination: "/etc/hosts", Type: "bind", Options: safe},
		{Source: g.etc.Hostname, Destination: "/etc/hostname", Type: "bind", Options: safe},
		{Source: g.etc.Resolv, Destination: "/etc/resolv.conf", Type: "bind", Options: safe},
	}
	for _, m := range spec.VolumeMount {
		vol := g.volume(m.Name)
		mount, err := g.e.vols.Mount(g.volumes[m.Name], vol, m)
		if err != nil {
			return pod.ContainerConfig{}, fmt.Errorf("volume mount %s at %s: %w", m.Name, m.MountPath, err)
		}
		cfg.Mounts = append(cfg.Mounts, mount)
	}
	return cfg, nil
}

// terminationFile makes the host file a container's run writes its
// termination message into, bind-mounted at TerminationMessagePath so that
// it can be read after the container is gone. With RunAsUser the file is
// that user's, mode 0600; when the user comes from the image (which leci
// does not read here) any user of the container must be able to write it,
// so it is 0666, as the kubelet's, in a directory of mode 0700 under the
// group's (0700 too) that no user of the host but root can enter.
func (g *group) terminationFile(container string, attempt int, user pod.User) (string, error) {
	dir := filepath.Join(g.dir, "termination")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, container+"-"+strconv.Itoa(attempt))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return "", fmt.Errorf("termination message file: %w", err)
	}
	defer f.Close()
	if user.UID == nil {
		return path, f.Chmod(0o666)
	}
	gid := int64(0)
	if user.GID != nil {
		gid = *user.GID
	}
	if err := f.Chown(int(*user.UID), int(gid)); err != nil {
		return "", fmt.Errorf("termination message file: %w", err)
	}
	return path, f.Chmod(0o600)
}

// Bounds of a termination message, as the kubelet's.
const (
	maxTerminationMessage = 4096
	fallbackLogLines      = 80
	fallbackLogBytes      = 2048
)

// terminationMessage is what a run left in its termination message file,
// or, with FallbackToLogsOnError and a failed exit, the tail of its log.
func (g *group) terminationMessage(spec *api.ContainerCommon, attempt, exitCode int) string {
	path := filepath.Join(g.dir, "termination", spec.Name+"-"+strconv.Itoa(attempt))
	msg := ""
	if f, err := os.Open(path); err == nil {
		buf := make([]byte, maxTerminationMessage)
		n, _ := io.ReadFull(f, buf)
		f.Close()
		msg = string(buf[:n])
	}
	if msg != "" || exitCode == 0 || spec.TerminationMessagePolicy != "FallbackToLogsOnError" {
		return msg
	}
	if g.e.opts.LogTail == nil {
		return ""
	}
	return g.e.opts.LogTail(g.logPath(spec.Name, attempt), fallbackLogLines, fallbackLogBytes)
}

func (g *group) volume(name string) api.Volume {
	for _, v := range g.req.Volume {
		if v.Name == name {
			return v
		}
	}
	return api.Volume{Name: name}
}

// logPath is where one run of a container logs: a file per attempt, so
// the previous run's log stays readable after a restart.
func (g *group) logPath(container string, attempt int) string {
	return LogPath(g.e.opts.Root, g.id, container, attempt)
}

// removeLog removes the log of a container's run, with its older files and
// its lock, before the run is created: one is there only when an earlier
// create of the same run was cut short by a crash of leci, and the run's
// log must hold the run's own output only.
func removeLog(path string) error {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("log of a run cut short: %w", err)
	}
	for _, e := range entries {
		if e.Name() == base || strings.HasPrefix(e.Name(), base+".") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("log of a run cut short: %w", err)
			}
		}
	}
	return nil
}

// LogPath is the log file of a container's run in a group's directory.
func LogPath(root, groupID, container string, attempt int) string {
	return filepath.Join(root, "groups", groupID, "logs", container, strconv.Itoa(attempt)+".log")
}
