package kube

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"leci/api"
)

// mapper gathers the errors and warnings of one Pod's mapping.
type mapper struct {
	sources  *Sources
	prefix   string
	errs     api.Errors
	warnings []string
}

func (m *mapper) fail(path, format string, args ...any) {
	m.errs = append(m.errs, invalidField(m.prefix+path, format, args...))
}

func (m *mapper) request(t *corev1.PodTemplateSpec, name string) *api.CreateContainerGroupRequest {
	r := &api.CreateContainerGroupRequest{ContainerGroupName: t.Name}
	if r.ContainerGroupName == "" {
		r.ContainerGroupName = name
	}
	if r.ContainerGroupName == "" {
		r.ContainerGroupName = strings.TrimRight(t.GenerateName, "-")
	}
	w, errs := applyAnnotations(r, m.prefix+"metadata.annotations", t.Annotations)
	m.warnings = append(m.warnings, w...)
	m.errs = append(m.errs, errs...)

	s := &t.Spec
	r.RestartPolicy = string(s.RestartPolicy)
	switch s.DNSPolicy {
	case "", corev1.DNSClusterFirst:
		// The default: in a cluster its DNS service, here the host's resolver.
	case corev1.DNSDefault, corev1.DNSNone:
		r.DNSPolicy = string(s.DNSPolicy)
	default:
		m.fail("spec.dnsPolicy", "%q is not supported: want ClusterFirst, Default or None", s.DNSPolicy)
	}
	if c := s.DNSConfig; c != nil {
		r.DNSConfig = &api.DNSConfig{NameServer: c.Nameservers, Search: c.Searches}
		for _, o := range c.Options {
			opt := api.DNSOption{Name: o.Name}
			if o.Value != nil {
				opt.Value = *o.Value
			}
			r.DNSConfig.Option = append(r.DNSConfig.Option, opt)
		}
	}
	for _, h := range s.HostAliases {
		r.HostAliase = append(r.HostAliase, api.HostAliase{IP: h.IP, Hostname: h.Hostnames})
	}
	r.HostName = s.Hostname
	if s.ShareProcessNamespace != nil {
		r.ShareProcessNamespace = *s.ShareProcessNamespace
	}
	r.TerminationGracePeriodSeconds = s.TerminationGracePeriodSeconds
	if s.ActiveDeadlineSeconds != nil {
		r.ActiveDeadlineSeconds = *s.ActiveDeadlineSeconds
	}
	if s.OS != nil {
		switch s.OS.Name {
		case corev1.Linux:
			r.OsType = "Linux"
		case corev1.Windows:
			r.OsType = "Windows"
		}
	}
	if sc := s.SecurityContext; sc != nil {
		for _, sys := range sc.Sysctls {
			if api.IsSafeSysctl(sys.Name) {
				if r.SecurityContext == nil {
					r.SecurityContext = &api.PodSecurityContext{}
				}
				r.SecurityContext.Sysctl = append(r.SecurityContext.Sysctl, api.Sysctl{Name: sys.Name, Value: sys.Value})
				continue
			}
			if r.HostSecurityContext == nil {
				r.HostSecurityContext = &api.HostSecurityContext{}
			}
			r.HostSecurityContext.Sysctl = append(r.HostSecurityContext.Sysctl, api.Sysctl{Name: sys.Name, Value: sys.Value})
		}
	}
	for i, ref := range s.ImagePullSecrets {
		r.ImageRegistryCredential = append(r.ImageRegistryCredential, m.registryCredentials(fmt.Sprintf("spec.imagePullSecrets[%d]", i), ref.Name)...)
	}
	for i, v := range s.Volumes {
		if vol, ok := m.volume(fmt.Sprintf("spec.volumes[%d]", i), v); ok {
			r.Volume = append(r.Volume, vol)
		}
	}
	for i := range s.InitContainers {
		c := &s.InitContainers[i]
		r.InitContainer = append(r.InitContainer, api.InitContainer{ContainerCommon: m.common(fmt.Sprintf("spec.initContainers[%d]", i), c)})
	}
	for i := range s.Containers {
		r.Container = append(r.Container, m.container(fmt.Sprintf("spec.containers[%d]", i), &s.Containers[i]))
	}
	return r
}

func (m *mapper) common(path string, c *corev1.Container) api.ContainerCommon {
	out := api.ContainerCommon{
		Name:                     c.Name,
		Image:                    c.Image,
		ImagePullPolicy:          string(c.ImagePullPolicy),
		Command:                  c.Command,
		Arg:                      c.Args,
		WorkingDir:               c.WorkingDir,
		TerminationMessagePath:   c.TerminationMessagePath,
		TerminationMessagePolicy: string(c.TerminationMessagePolicy),
	}
	m.resources(path+".resources", c.Resources, &out)
	out.EnvironmentVar = m.env(path, c)
	for _, p := range c.Ports {
		out.Port = append(out.Port, api.Port{Port: int(p.ContainerPort), Protocol: string(p.Protocol)})
	}
	for _, vm := range c.VolumeMounts {
		mount := api.VolumeMount{Name: vm.Name, MountPath: vm.MountPath, ReadOnly: vm.ReadOnly, SubPath: vm.SubPath}
		if vm.MountPropagation != nil {
			mount.MountPropagation = string(*vm.MountPropagation)
		}
		out.VolumeMount = append(out.VolumeMount, mount)
	}
	if sc := c.SecurityContext; sc != nil {
		var csc api.ContainerSecurityContext
		if sc.Capabilities != nil && len(sc.Capabilities.Add) > 0 {
			csc.Capability = &api.Capability{}
			for _, cp := range sc.Capabilities.Add {
				csc.Capability.Add = append(csc.Capability.Add, string(cp))
			}
		}
		if sc.ReadOnlyRootFilesystem != nil {
			csc.ReadOnlyRootFilesystem = *sc.ReadOnlyRootFilesystem
		}
		csc.RunAsUser = sc.RunAsUser
		if csc != (api.ContainerSecurityContext{}) {
			out.SecurityContext = &csc
		}
	}
	return out
}

// resources takes limits, or requests where a limit is not given: ECI sizes a
// container by what it may use.
func (m *mapper) resources(path string, res corev1.ResourceRequirements, out *api.ContainerCommon) {
	take := func(list corev1.ResourceList, which string) {
		names := make([]string, 0, len(list))
		for n := range list {
			names = append(names, string(n))
		}
		sort.Strings(names)
		for _, name := range names {
			q := list[corev1.ResourceName(name)]
			switch corev1.ResourceName(name) {
			case corev1.ResourceCPU:
				if out.Cpu == 0 {
					out.Cpu = float64(q.MilliValue()) / 1000
				}
			case corev1.ResourceMemory:
				if out.Memory == 0 {
					out.Memory = float64(q.Value()) / (1 << 30)
				}
			case "nvidia.com/gpu":
				if out.Gpu == 0 {
					out.Gpu = int(q.Value())
				}
			case corev1.ResourceEphemeralStorage:
				m.warnings = append(m.warnings, m.prefix+path+"."+which+"[ephemeral-storage]: left out: a group's storage is sized with the k8s.aliyun.com/eci-extra-ephemeral-storage annotation")
			default:
				m.fail(path+"."+which+"["+name+"]", "not supported: ECI sizes containers by cpu, memory and nvidia.com/gpu")
			}
		}
	}
	take(res.Limits, "limits")
	take(res.Requests, "requests")
}

func (m *mapper) env(path string, c *corev1.Container) []api.EnvironmentVar {
	var out []api.EnvironmentVar
	for i, ef := range c.EnvFrom {
		p := fmt.Sprintf("%s.envFrom[%d]", path, i)
		var data map[string]string
		var optional *bool
		switch {
		case ef.ConfigMapRef != nil:
			optional = ef.ConfigMapRef.Optional
			data, _ = m.objectData(p+".configMapRef", "ConfigMap", ef.ConfigMapRef.Name, optional)
		case ef.SecretRef != nil:
			optional = ef.SecretRef.Optional
			data, _ = m.objectData(p+".secretRef", "Secret", ef.SecretRef.Name, optional)
		}
		for _, k := range sortedKeys(data) {
			out = append(out, api.EnvironmentVar{Key: ef.Prefix + k, Value: data[k]})
		}
	}
	for i, e := range c.Env {
		p := fmt.Sprintf("%s.env[%d].valueFrom", path, i)
		v := api.EnvironmentVar{Key: e.Name, Value: e.Value}
		if vf := e.ValueFrom; vf != nil {
			switch {
			case vf.FieldRef != nil:
				if vf.FieldRef.FieldPath != api.FieldPathPodIP {
					m.fail(p+".fieldRef.fieldPath", "%q is not supported: ECI resolves only status.podIP", vf.FieldRef.FieldPath)
				}
				v.FieldRef = &api.FieldRef{FieldPath: vf.FieldRef.FieldPath}
			case vf.ConfigMapKeyRef != nil:
				ref := vf.ConfigMapKeyRef
				val, ok := m.keyRef(p+".configMapKeyRef", "ConfigMap", ref.Name, ref.Key, ref.Optional)
				if !ok {
					continue
				}
				v.Value = val
			case vf.SecretKeyRef != nil:
				ref := vf.SecretKeyRef
				val, ok := m.keyRef(p+".secretKeyRef", "Secret", ref.Name, ref.Key, ref.Optional)
				if !ok {
					continue
				}
				v.Value = val
			}
		}
		out = append(out, v)
	}
	return out
}

// objectData gives the keys of a ConfigMap or Secret (kind) as text; ok is
// false when it is not given (an error unless optional).
func (m *mapper) objectData(path, kind, name string, optional *bool) (map[string]string, bool) {
	out := map[string]string{}
	found := false
	if cm := m.sources.configMaps[name]; kind == "ConfigMap" && cm != nil {
		found = true
		for k, v := range cm.Data {
			out[k] = v
		}
		for k, v := range cm.BinaryData {
			out[k] = string(v)
		}
	}
	if s := m.sources.secrets[name]; kind == "Secret" && s != nil {
		found = true
		for k, v := range s.Data {
			out[k] = string(v)
		}
	}
	if !found {
		if !isTrue(optional) {
			m.fail(path, "%s %q is not given: a cluster keeps it; give it to leci in the file or with --from-file", kind, name)
		}
		return nil, false
	}
	return out, true
}

// keyRef gives one key of a ConfigMap or Secret.
func (m *mapper) keyRef(path, kind, name, key string, optional *bool) (string, bool) {
	data, ok := m.objectData(path, kind, name, optional)
	if !ok {
		return "", false
	}
	val, found := data[key]
	if !found && !isTrue(optional) {
		m.fail(path+".key", "%s %s has no key %q", kind, name, key)
	}
	return val, found
}

func isTrue(b *bool) bool { return b != nil && *b }

func (m *mapper) container(path string, c *corev1.Container) api.Container {
	out := api.Container{ContainerCommon: m.common(path, c), Stdin: c.Stdin, StdinOnce: c.StdinOnce, Tty: c.TTY}
	if sc := c.SecurityContext; sc != nil {
		if sc.Privileged != nil {
			out.SecurityContextPrivileged = *sc.Privileged
		}
		out.SecurityContextRunAsGroup = sc.RunAsGroup
		if sc.RunAsNonRoot != nil {
			out.SecurityContextRunAsNonRoot = *sc.RunAsNonRoot
		}
	}
	out.LivenessProbe = m.probe(path+".livenessProbe", c, c.LivenessProbe)
	out.ReadinessProbe = m.probe(path+".readinessProbe", c, c.ReadinessProbe)
	if lc := c.Lifecycle; lc != nil {
		h := m.hook(path+".lifecycle.postStart", c, lc.PostStart)
		out.LifecyclePostStartHandlerExec = h.exec
		out.LifecyclePostStartHandlerHTTPGetHost, out.LifecyclePostStartHandlerHTTPGetPort = h.host, h.port
		out.LifecyclePostStartHandlerHTTPGetPath, out.LifecyclePostStartHandlerHTTPGetScheme = h.path, h.scheme
		out.LifecyclePostStartHandlerHTTPGetHTTPHeader = h.headers
		out.LifecyclePostStartHandlerTCPSocketHost, out.LifecyclePostStartHandlerTCPSocketPort = h.tcpHost, h.tcpPort
		h = m.hook(path+".lifecycle.preStop", c, lc.PreStop)
		out.LifecyclePreStopHandlerExec = h.exec
		out.LifecyclePreStopHandlerHTTPGetHost, out.LifecyclePreStopHandlerHTTPGetPort = h.host, h.port
		out.LifecyclePreStopHandlerHTTPGetPath, out.LifecyclePreStopHandlerHTTPGetScheme = h.path, h.scheme
		out.LifecyclePreStopHandlerHTTPGetHTTPHeader = h.headers
		out.LifecyclePreStopHandlerTCPSocketHost, out.LifecyclePreStopHandlerTCPSocketPort = h.tcpHost, h.tcpPort
	}
	return out
}

// hook is a lifecycle hook as the request's flat fields hold it.
type hook struct {
	exec               []string
	host, path, scheme string
	port               int
	headers            []api.HTTPHeader
	tcpHost            string
	tcpPort            int
}

func (m *mapper) hook(path string, c *corev1.Container, h *corev1.LifecycleHandler) hook {
	var out hook
	if h == nil {
		return out
	}
	if h.Exec != nil {
		out.exec = h.Exec.Command
	}
	if g := h.HTTPGet; g != nil {
		out.host, out.path, out.scheme = g.Host, g.Path, string(g.Scheme)
		out.port = m.port(path+".httpGet.port", c, g.Port)
		out.headers = headers(g.HTTPHeaders)
	}
	if t := h.TCPSocket; t != nil {
		out.tcpHost = t.Host
		out.tcpPort = m.port(path+".tcpSocket.port", c, t.Port)
	}
	return out
}

func headers(hs []corev1.HTTPHeader) []api.HTTPHeader {
	var out []api.HTTPHeader
	for _, h := range hs {
		out = append(out, api.HTTPHeader{Name: h.Name, Value: h.Value})
	}
	return out
}

func (m *mapper) probe(path string, c *corev1.Container, p *corev1.Probe) *api.Probe {
	if p == nil {
		return nil
	}
	out := &api.Probe{
		InitialDelaySeconds: int(p.InitialDelaySeconds),
		PeriodSeconds:       int(p.PeriodSeconds),
		TimeoutSeconds:      int(p.TimeoutSeconds),
		SuccessThreshold:    int(p.SuccessThreshold),
		FailureThreshold:    int(p.FailureThreshold),
	}
	if p.Exec != nil {
		out.Exec = &api.ExecAction{Command: p.Exec.Command}
	}
	if g := p.HTTPGet; g != nil {
		out.HTTPGet = &api.ProbeHTTPGet{Path: g.Path, Port: m.port(path+".httpGet.port", c, g.Port), Scheme: string(g.Scheme)}
	}
	if t := p.TCPSocket; t != nil {
		out.TCPSocket = &api.ProbeTCPSocket{Port: m.port(path+".tcpSocket.port", c, t.Port)}
	}
	return out
}

// port resolves a port number or the name of one of the container's ports.
func (m *mapper) port(path string, c *corev1.Container, p intOrString) int {
	if p.StrVal == "" {
		return int(p.IntVal)
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return int(cp.ContainerPort)
		}
	}
	m.fail(path, "port %q is not the name of one of the container's ports", p.StrVal)
	return 0
}

func (m *mapper) registryCredentials(path, name string) []api.ImageRegistryCredential {
	s := m.sources.secrets[name]
	if s == nil {
		m.fail(path, "Secret %q is not given: give the registry login as a kubernetes.io/dockerconfigjson Secret in the file or with --from-file", name)
		return nil
	}
	raw, ok := s.Data[corev1.DockerConfigJsonKey]
	var cfg dockerConfig
	if ok {
		err := json.Unmarshal(raw, &cfg)
		if err != nil {
			m.fail(path, "Secret %q: %s is not a docker config: %v", name, corev1.DockerConfigJsonKey, err)
			return nil
		}
	} else if raw, ok = s.Data[corev1.DockerConfigKey]; ok {
		if err := json.Unmarshal(raw, &cfg.Auths); err != nil {
			m.fail(path, "Secret %q: %s is not a docker config: %v", name, corev1.DockerConfigKey, err)
			return nil
		}
	} else {
		m.fail(path, "Secret %q has no %s: it is not a registry login", name, corev1.DockerConfigJsonKey)
		return nil
	}
	var out []api.ImageRegistryCredential
	for _, server := range sortedKeys(cfg.Auths) {
		a := cfg.Auths[server]
		user, pass := a.Username, a.Password
		if user == "" && a.Auth != "" {
			if u, p, ok := decodeAuth(a.Auth); ok {
				user, pass = u, p
			}
		}
		out = append(out, api.ImageRegistryCredential{Server: server, UserName: user, Password: pass})
	}
	return out
}

func (m *mapper) volume(path string, v corev1.Volume) (api.Volume, bool) {
	out := api.Volume{Name: v.Name}
	switch {
	case v.EmptyDir != nil:
		out.Type = api.VolumeEmptyDir
		ed := &api.EmptyDirVolume{}
		if v.EmptyDir.Medium == corev1.StorageMediumMemory {
			ed.Medium = api.MediumMemory
		} else if v.EmptyDir.Medium != corev1.StorageMediumDefault {
			m.fail(path+".emptyDir.medium", "%q is not supported: want Memory or nothing", v.EmptyDir.Medium)
		}
		if q := v.EmptyDir.SizeLimit; q != nil {
			ed.SizeLimit = formatNumber(float64(q.Value()) / (1 << 30))
		}
		if *ed != (api.EmptyDirVolume{}) {
			out.EmptyDirVolume = ed
		}
	case v.HostPath != nil:
		out.Type = api.VolumeHostPath
		out.HostPathVolume = &api.HostPathVolume{Path: v.HostPath.Path}
		if v.HostPath.Type != nil {
			out.HostPathVolume.Type = string(*v.HostPath.Type)
		}
	case v.NFS != nil:
		out.Type = api.VolumeNFS
		out.NFSVolume = &api.NFSVolume{Server: v.NFS.Server, Path: v.NFS.Path, ReadOnly: v.NFS.ReadOnly}
	case v.FlexVolume != nil:
		out.Type = api.VolumeFlex
		out.FlexVolume = &api.FlexVolume{Driver: v.FlexVolume.Driver, FsType: v.FlexVolume.FSType}
		if len(v.FlexVolume.Options) > 0 {
			opts, _ := json.Marshal(v.FlexVolume.Options)
			out.FlexVolume.Options = string(opts)
		}
	case v.ConfigMap != nil:
		data, ok := m.objectData(path+".configMap", "ConfigMap", v.ConfigMap.Name, v.ConfigMap.Optional)
		if !ok {
			return out, false
		}
		out.Type = api.VolumeConfigFile
		out.ConfigFileVolume = m.configFiles(path+".configMap", data, v.ConfigMap.Items, v.ConfigMap.DefaultMode, v.ConfigMap.Optional)
	case v.Secret != nil:
		data, ok := m.objectData(path+".secret", "Secret", v.Secret.SecretName, v.Secret.Optional)
		if !ok {
			return out, false
		}
		out.Type = api.VolumeConfigFile
		out.ConfigFileVolume = m.configFiles(path+".secret", data, v.Secret.Items, v.Secret.DefaultMode, v.Secret.Optional)
	default:
		m.fail(path, "no volume type: %s", whyVolumeKind)
	}
	return out, true
}

// configFiles writes a ConfigMap's or Secret's keys as files: all keys, or
// the items listed.
func (m *mapper) configFiles(path string, data map[string]string, items []corev1.KeyToPath, defaultMode *int32, optional *bool) *api.ConfigFileVolume {
	out := &api.ConfigFileVolume{}
	if defaultMode != nil {
		mode := api.FileMode(*defaultMode)
		out.DefaultMode = &mode
	}
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			out.ConfigFileToPath = append(out.ConfigFileToPath, api.ConfigFileToPath{Path: k, Content: encodeContent(data[k])})
		}
		return out
	}
	for i, it := range items {
		content, ok := data[it.Key]
		if !ok {
			if !isTrue(optional) {
				m.fail(fmt.Sprintf("%s.items[%d].key", path, i), "no key %q", it.Key)
			}
			continue
		}
		f := api.ConfigFileToPath{Path: it.Path, Content: encodeContent(content)}
		if it.Mode != nil {
			mode := api.FileMode(*it.Mode)
			f.Mode = &mode
		}
		out.ConfigFileToPath = append(out.ConfigFileToPath, f)
	}
	return out
}

// dropTokenVolumes leaves out the service account token volume a cluster
// adds to every Pod (kube-api-access-*, a projected volume with a
// serviceAccountToken), and its mounts, from both forms of the template: a
// Pod read back from a cluster runs without it.
func dropTokenVolumes(prefix string, raw map[string]any, spec *corev1.PodSpec) []string {
	var warnings []string
	token := map[string]bool{}
	spec.Volumes = slices.DeleteFunc(spec.Volumes, func(v corev1.Volume) bool {
		if v.Projected == nil || !slices.ContainsFunc(v.Projected.Sources, func(s corev1.VolumeProjection) bool { return s.ServiceAccountToken != nil }) {
			return false
		}
		token[v.Name] = true
		warnings = append(warnings, fmt.Sprintf("%sspec.volumes[%s]: left out: a service account token comes from a cluster; a group has none", prefix, v.Name))
		return true
	})
	if len(token) == 0 {
		return nil
	}
	for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
		for i := range list {
			list[i].VolumeMounts = slices.DeleteFunc(list[i].VolumeMounts, func(m corev1.VolumeMount) bool { return token[m.Name] })
		}
	}
	rawSpec, _ := raw["spec"].(map[string]any)
	named := func(v any) bool {
		m, _ := v.(map[string]any)
		name, _ := m["name"].(string)
		return token[name]
	}
	if vols, ok := rawSpec["volumes"].([]any); ok {
		rawSpec["volumes"] = slices.DeleteFunc(vols, named)
	}
	for _, list := range []string{"containers", "initContainers"} {
		cs, _ := rawSpec[list].([]any)
		for _, c := range cs {
			if cm, ok := c.(map[string]any); ok {
				if mounts, ok := cm["volumeMounts"].([]any); ok {
					cm["volumeMounts"] = slices.DeleteFunc(mounts, named)
				}
			}
		}
	}
	return warnings
}
