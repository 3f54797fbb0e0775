package kube

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"leci/api"
)

type intOrString = intstr.IntOrString

// dockerConfig is the .dockerconfigjson of a registry-login Secret.
type dockerConfig struct {
	Auths map[string]dockerAuth `json:"auths"`
}

type dockerAuth struct {
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Auth     string `json:"auth,omitempty"`
}

func decodeAuth(auth string) (user, pass string, ok bool) {
	b, err := base64.StdEncoding.DecodeString(auth)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(b), ":")
}

// encodeContent gives a file's content as a ConfigFileVolume carries it.
func encodeContent(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// Manifest is what Generate makes of a request: the Pod, the ConfigMaps its
// config-file volumes become, the Secret of its registry logins, and the
// request fields a Pod cannot carry.
type Manifest struct {
	Pod        *corev1.Pod
	ConfigMaps []*corev1.ConfigMap
	Secret     *corev1.Secret
	// Lost lists the request's parameters (wire paths) that no Pod field or
	// ECI annotation carries: the Pod made from the manifest lacks them.
	Lost []string
}

// Generate makes the Pod that ECI's virtual node turns into req (which
// should be normalized first), with the objects it needs.
func Generate(req *api.CreateContainerGroupRequest) (*Manifest, error) {
	m, err := generate(req)
	if err != nil {
		return nil, err
	}
	lost, err := lostFields(req, m)
	if err != nil {
		return nil, err
	}
	m.Lost = lost
	return m, nil
}

func generate(r *api.CreateContainerGroupRequest) (*Manifest, error) {
	out := &Manifest{}
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: r.ContainerGroupName, Annotations: podAnnotations(r)},
	}
	out.Pod = pod
	s := &pod.Spec
	s.RestartPolicy = corev1.RestartPolicy(r.RestartPolicy)
	s.DNSPolicy = corev1.DNSPolicy(r.DNSPolicy)
	if c := r.DNSConfig; c != nil {
		s.DNSConfig = &corev1.PodDNSConfig{Nameservers: c.NameServer, Searches: c.Search}
		for _, o := range c.Option {
			opt := corev1.PodDNSConfigOption{Name: o.Name}
			if o.Value != "" {
				opt.Value = ptr(o.Value)
			}
			s.DNSConfig.Options = append(s.DNSConfig.Options, opt)
		}
	}
	for _, h := range r.HostAliase {
		s.HostAliases = append(s.HostAliases, corev1.HostAlias{IP: h.IP, Hostnames: h.Hostname})
	}
	s.Hostname = r.HostName
	if r.ShareProcessNamespace {
		s.ShareProcessNamespace = ptr(true)
	}
	s.TerminationGracePeriodSeconds = r.TerminationGracePeriodSeconds
	if r.ActiveDeadlineSeconds != 0 {
		s.ActiveDeadlineSeconds = ptr(r.ActiveDeadlineSeconds)
	}
	switch r.OsType {
	case "Linux":
		s.OS = &corev1.PodOS{Name: corev1.Linux}
	case "Windows":
		s.OS = &corev1.PodOS{Name: corev1.Windows}
	}
	var sysctls []corev1.Sysctl
	if r.SecurityContext != nil {
		for _, sc := range r.SecurityContext.Sysctl {
			sysctls = append(sysctls, corev1.Sysctl{Name: sc.Name, Value: sc.Value})
		}
	}
	if r.HostSecurityContext != nil {
		for _, sc := range r.HostSecurityContext.Sysctl {
			sysctls = append(sysctls, corev1.Sysctl{Name: sc.Name, Value: sc.Value})
		}
	}
	if len(sysctls) > 0 {
		s.SecurityContext = &corev1.PodSecurityContext{Sysctls: sysctls}
	}
	if len(r.ImageRegistryCredential) > 0 {
		cfg := dockerConfig{Auths: map[string]dockerAuth{}}
		for _, c := range r.ImageRegistryCredential {
			cfg.Auths[c.Server] = dockerAuth{Username: c.UserName, Password: c.Password,
				Auth: base64.StdEncoding.EncodeToString([]byte(c.UserName + ":" + c.Password))}
		}
		data, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		name := r.ContainerGroupName + "-registry"
		out.Secret = &corev1.Secret{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Type:       corev1.SecretTypeDockerConfigJson,
			Data:       map[string][]byte{corev1.DockerConfigJsonKey: data},
		}
		s.ImagePullSecrets = []corev1.LocalObjectReference{{Name: name}}
	}
	for _, v := range r.Volume {
		vol, cm, err := podVolume(r.ContainerGroupName, v)
		if err != nil {
			return nil, err
		}
		if vol == nil {
			continue
		}
		s.Volumes = append(s.Volumes, *vol)
		if cm != nil {
			out.ConfigMaps = append(out.ConfigMaps, cm)
		}
	}
	kept := map[string]bool{}
	for _, v := range s.Volumes {
		kept[v.Name] = true
	}
	for _, c := range r.InitContainer {
		s.InitContainers = append(s.InitContainers, podContainer(&c.ContainerCommon, kept))
	}
	for i := range r.Container {
		s.Containers = append(s.Containers, appContainer(&r.Container[i], kept))
	}
	return out, nil
}

func ptr[T any](v T) *T { return &v }

func podContainer(c *api.ContainerCommon, volumes map[string]bool) corev1.Container {
	out := corev1.Container{
		Name:                     c.Name,
		Image:                    c.Image,
		ImagePullPolicy:          corev1.PullPolicy(c.ImagePullPolicy),
		Command:                  c.Command,
		Args:                     c.Arg,
		WorkingDir:               c.WorkingDir,
		TerminationMessagePath:   c.TerminationMessagePath,
		TerminationMessagePolicy: corev1.TerminationMessagePolicy(c.TerminationMessagePolicy),
	}
	limits := corev1.ResourceList{}
	if c.Cpu != 0 {
		limits[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(c.Cpu*1000+0.5), resource.DecimalSI)
	}
	if c.Memory != 0 {
		limits[corev1.ResourceMemory] = *resource.NewQuantity(int64(c.Memory*(1<<30)+0.5), resource.BinarySI)
	}
	if c.Gpu != 0 {
		limits["nvidia.com/gpu"] = *resource.NewQuantity(int64(c.Gpu), resource.DecimalSI)
	}
	if len(limits) > 0 {
		out.Resources.Limits = limits
	}
	for _, e := range c.EnvironmentVar {
		ev := corev1.EnvVar{Name: e.Key, Value: e.Value}
		if e.FieldRef != nil {
			ev.ValueFrom = &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: e.FieldRef.FieldPath}}
		}
		out.Env = append(out.Env, ev)
	}
	for _, p := range c.Port {
		out.Ports = append(out.Ports, corev1.ContainerPort{ContainerPort: int32(p.Port), Protocol: corev1.Protocol(p.Protocol)})
	}
	for _, vm := range c.VolumeMount {
		if !volumes[vm.Name] {
			continue
		}
		mount := corev1.VolumeMount{Name: vm.Name, MountPath: vm.MountPath, ReadOnly: vm.ReadOnly, SubPath: vm.SubPath}
		if vm.MountPropagation != "" {
			mount.MountPropagation = ptr(corev1.MountPropagationMode(vm.MountPropagation))
		}
		out.VolumeMounts = append(out.VolumeMounts, mount)
	}
	if sc := c.SecurityContext; sc != nil {
		out.SecurityContext = &corev1.SecurityContext{RunAsUser: sc.RunAsUser}
		if sc.Capability != nil && len(sc.Capability.Add) > 0 {
			out.SecurityContext.Capabilities = &corev1.Capabilities{}
			for _, cp := range sc.Capability.Add {
				out.SecurityContext.Capabilities.Add = append(out.SecurityContext.Capabilities.Add, corev1.Capability(cp))
			}
		}
		if sc.ReadOnlyRootFilesystem {
			out.SecurityContext.ReadOnlyRootFilesystem = ptr(true)
		}
	}
	return out
}

func appContainer(c *api.Container, volumes map[string]bool) corev1.Container {
	out := podContainer(&c.ContainerCommon, volumes)
	out.Stdin, out.StdinOnce, out.TTY = c.Stdin, c.StdinOnce, c.Tty
	if c.SecurityContextPrivileged || c.SecurityContextRunAsGroup != nil || c.SecurityContextRunAsNonRoot {
		if out.SecurityContext == nil {
			out.SecurityContext = &corev1.SecurityContext{}
		}
		if c.SecurityContextPrivileged {
			out.SecurityContext.Privileged = ptr(true)
		}
		out.SecurityContext.RunAsGroup = c.SecurityContextRunAsGroup
		if c.SecurityContextRunAsNonRoot {
			out.SecurityContext.RunAsNonRoot = ptr(true)
		}
	}
	out.LivenessProbe = podProbe(c.LivenessProbe)
	out.ReadinessProbe = podProbe(c.ReadinessProbe)
	postStart := podHandler(c.LifecyclePostStartHandlerExec,
		c.LifecyclePostStartHandlerHTTPGetHost, c.LifecyclePostStartHandlerHTTPGetPort, c.LifecyclePostStartHandlerHTTPGetPath,
		c.LifecyclePostStartHandlerHTTPGetScheme, c.LifecyclePostStartHandlerHTTPGetHTTPHeader,
		c.LifecyclePostStartHandlerTCPSocketHost, c.LifecyclePostStartHandlerTCPSocketPort)
	preStop := podHandler(c.LifecyclePreStopHandlerExec,
		c.LifecyclePreStopHandlerHTTPGetHost, c.LifecyclePreStopHandlerHTTPGetPort, c.LifecyclePreStopHandlerHTTPGetPath,
		c.LifecyclePreStopHandlerHTTPGetScheme, c.LifecyclePreStopHandlerHTTPGetHTTPHeader,
		c.LifecyclePreStopHandlerTCPSocketHost, c.LifecyclePreStopHandlerTCPSocketPort)
	if postStart != nil || preStop != nil {
		out.Lifecycle = &corev1.Lifecycle{PostStart: postStart, PreStop: preStop}
	}
	return out
}

func podProbe(p *api.Probe) *corev1.Probe {
	if p == nil {
		return nil
	}
	out := &corev1.Probe{
		InitialDelaySeconds: int32(p.InitialDelaySeconds),
		PeriodSeconds:       int32(p.PeriodSeconds),
		TimeoutSeconds:      int32(p.TimeoutSeconds),
		SuccessThreshold:    int32(p.SuccessThreshold),
		FailureThreshold:    int32(p.FailureThreshold),
	}
	if p.Exec != nil {
		out.Exec = &corev1.ExecAction{Command: p.Exec.Command}
	}
	if g := p.HTTPGet; g != nil {
		out.HTTPGet = &corev1.HTTPGetAction{Path: g.Path, Port: intstr.FromInt32(int32(g.Port)), Scheme: corev1.URIScheme(g.Scheme)}
	}
	if t := p.TCPSocket; t != nil {
		out.TCPSocket = &corev1.TCPSocketAction{Port: intstr.FromInt32(int32(t.Port))}
	}
	return out
}

// podHandler makes a lifecycle hook from a request's flat hook fields.
func podHandler(exec []string, host string, port int, path, scheme string, hs []api.HTTPHeader, tcpHost string, tcpPort int) *corev1.LifecycleHandler {
	var h corev1.LifecycleHandler
	if len(exec) > 0 {
		h.Exec = &corev1.ExecAction{Command: exec}
	}
	if host != "" || port != 0 || path != "" || scheme != "" || len(hs) > 0 {
		h.HTTPGet = &corev1.HTTPGetAction{Host: host, Port: intstr.FromInt32(int32(port)), Path: path, Scheme: corev1.URIScheme(scheme)}
		for _, x := range hs {
			h.HTTPGet.HTTPHeaders = append(h.HTTPGet.HTTPHeaders, corev1.HTTPHeader{Name: x.Name, Value: x.Value})
		}
	}
	if tcpHost != "" || tcpPort != 0 {
		h.TCPSocket = &corev1.TCPSocketAction{Host: tcpHost, Port: intstr.FromInt32(int32(tcpPort))}
	}
	if h.Exec == nil && h.HTTPGet == nil && h.TCPSocket == nil {
		return nil
	}
	return &h
}

// configMapKey is what a ConfigMap key may hold; compiled when first used.
var configMapKey = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[-._a-zA-Z0-9]+$`) })

// podVolume gives the Pod volume of a request volume, and the ConfigMap a
// config-file volume becomes (named <group>-<volume>). Volumes a Pod cannot
// hold (DiskVolume) give nil.
func podVolume(group string, v api.Volume) (*corev1.Volume, *corev1.ConfigMap, error) {
	out := &corev1.Volume{Name: v.Name}
	switch v.Type {
	case api.VolumeEmptyDir:
		out.EmptyDir = &corev1.EmptyDirVolumeSource{}
		if ed := v.EmptyDirVolume; ed != nil {
			if strings.EqualFold(ed.Medium, api.MediumMemory) {
				out.EmptyDir.Medium = corev1.StorageMediumMemory
			}
			if ed.SizeLimit != "" {
				n, err := api.ParseSizeLimit(ed.SizeLimit)
				if err != nil {
					return nil, nil, err
				}
				out.EmptyDir.SizeLimit = resource.NewQuantity(n, resource.BinarySI)
			}
		}
	case api.VolumeHostPath:
		out.HostPath = &corev1.HostPathVolumeSource{Path: v.HostPathVolume.Path}
		if v.HostPathVolume.Type != "" {
			out.HostPath.Type = ptr(corev1.HostPathType(v.HostPathVolume.Type))
		}
	case api.VolumeNFS:
		out.NFS = &corev1.NFSVolumeSource{Server: v.NFSVolume.Server, Path: v.NFSVolume.Path, ReadOnly: v.NFSVolume.ReadOnly}
	case api.VolumeFlex:
		out.FlexVolume = &corev1.FlexVolumeSource{Driver: v.FlexVolume.Driver, FSType: v.FlexVolume.FsType}
		if v.FlexVolume.Options != "" {
			if err := json.Unmarshal([]byte(v.FlexVolume.Options), &out.FlexVolume.Options); err != nil {
				return nil, nil, fmt.Errorf("Volume %s: FlexVolume.Options is not a JSON object of strings: %w", v.Name, err)
			}
		}
	case api.VolumeConfigFile:
		cm := &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Name: group + "-" + v.Name},
		}
		src := &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: cm.Name}}
		cf := v.ConfigFileVolume
		if cf.DefaultMode != nil {
			src.DefaultMode = ptr(int32(*cf.DefaultMode))
		}
		// Files whose paths are keys and that have no mode of their own
		// need no items: the volume holds every key.
		plain := true
		for _, f := range cf.ConfigFileToPath {
			plain = plain && f.Mode == nil && configMapKey().MatchString(f.Path)
		}
		used := map[string]bool{}
		for _, f := range cf.ConfigFileToPath {
			content, err := base64.StdEncoding.DecodeString(f.Content)
			if err != nil {
				return nil, nil, fmt.Errorf("Volume %s: %s: content is not base64: %w", v.Name, f.Path, err)
			}
			key := f.Path
			if !plain {
				key = itemKey(f.Path, used)
				item := corev1.KeyToPath{Key: key, Path: f.Path}
				if f.Mode != nil {
					item.Mode = ptr(int32(*f.Mode))
				}
				src.Items = append(src.Items, item)
			}
			if utf8.Valid(content) {
				if cm.Data == nil {
					cm.Data = map[string]string{}
				}
				cm.Data[key] = string(content)
			} else {
				if cm.BinaryData == nil {
					cm.BinaryData = map[string][]byte{}
				}
				cm.BinaryData[key] = content
			}
		}
		out.ConfigMap = src
		return out, cm, nil
	default:
		return nil, nil, nil
	}
	return out, nil, nil
}

// itemKey makes a ConfigMap key of a file path: its characters that a key
// cannot hold become "_", and a number tells apart paths that collide.
func itemKey(path string, used map[string]bool) string {
	base := regexp.MustCompile(`[^-._a-zA-Z0-9]`).ReplaceAllString(path, "_")
	key := base
	for i := 2; used[key]; i++ {
		key = fmt.Sprintf("%s-%d", base, i)
	}
	used[key] = true
	return key
}

// YAML writes the manifest as one YAML stream, the objects the Pod needs
// first, without the empty fields the API types would print.
func (m *Manifest) YAML() ([]byte, error) {
	var objs []any
	for _, cm := range m.ConfigMaps {
		objs = append(objs, cm)
	}
	if m.Secret != nil {
		objs = append(objs, m.Secret)
	}
	objs = append(objs, m.Pod)
	var buf bytes.Buffer
	for i, o := range objs {
		doc, err := cleanYAML(o)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	return buf.Bytes(), nil
}

// cleanYAML marshals an API object without the nulls and empty objects
// (creationTimestamp, status, resources) its types always print.
func cleanYAML(o any) ([]byte, error) {
	j, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(j, &v); err != nil {
		return nil, err
	}
	return yaml.Marshal(prune(v))
}

func prune(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			x = prune(x)
			if x == nil {
				delete(t, k)
				continue
			}
			// An empty emptyDir says what the volume is; other empty
			// objects say nothing.
			if mm, ok := x.(map[string]any); ok && len(mm) == 0 && k != "emptyDir" {
				delete(t, k)
				continue
			}
			t[k] = x
		}
		return t
	case []any:
		for i := range t {
			t[i] = prune(t[i])
		}
		return t
	}
	return v
}

// lostFields finds the request parameters the manifest does not carry, by
// reading the manifest back and comparing the two requests parameter by
// parameter.
func lostFields(req *api.CreateContainerGroupRequest, m *Manifest) ([]string, error) {
	data, err := m.YAML()
	if err != nil {
		return nil, err
	}
	res, err := Decode(data, nil)
	if err != nil {
		return nil, fmt.Errorf("the generated Pod does not read back: %w", err)
	}
	back := res.Request
	// A volume a Pod cannot hold is missing from the Pod: line the volumes
	// up by name so that the ones after it compare with their own.
	byName := map[string]api.Volume{}
	for _, v := range back.Volume {
		byName[v.Name] = v
	}
	aligned := *back
	aligned.Volume = make([]api.Volume, len(req.Volume))
	for i, v := range req.Volume {
		aligned.Volume[i] = byName[v.Name]
	}
	want := api.EncodeValues(comparable(req))
	got := api.EncodeValues(comparable(&aligned))
	var lost []string
	for k, v := range want {
		if g, ok := got[k]; !ok || strings.Join(g, ",") != strings.Join(v, ",") {
			lost = append(lost, k)
		}
	}
	sort.Slice(lost, func(i, j int) bool { return naturalLess(lost[i], lost[j]) })
	return lost, nil
}

// comparable copies a request with what two equal requests may write
// differently written one way: FlexVolume options as compact sorted JSON.
func comparable(r *api.CreateContainerGroupRequest) *api.CreateContainerGroupRequest {
	c := *r
	c.Volume = append([]api.Volume(nil), r.Volume...)
	for i, v := range c.Volume {
		if v.FlexVolume == nil || v.FlexVolume.Options == "" {
			continue
		}
		var opts map[string]any
		if json.Unmarshal([]byte(v.FlexVolume.Options), &opts) == nil {
			b, _ := json.Marshal(opts)
			f := *v.FlexVolume
			f.Options = string(b)
			c.Volume[i].FlexVolume = &f
		}
	}
	return &c
}

// naturalLess orders wire paths with their numbers as numbers.
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := leadingDigits(a), leadingDigits(b)
		if da != "" && db != "" {
			if len(da) != len(db) {
				return len(da) < len(db)
			}
			if da != db {
				return da < db
			}
			a, b = a[len(da):], b[len(db):]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
