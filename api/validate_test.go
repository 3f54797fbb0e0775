package api

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// validRequest is the base fixture: a small group that passes validation.
func validRequest() *CreateContainerGroupRequest {
	uid := int64(1000)
	return &CreateContainerGroupRequest{
		ContainerGroupName: "web-1",
		InitContainer: []InitContainer{{ContainerCommon: ContainerCommon{
			Name: "init", Image: "busybox:1.36", Command: []string{"true"},
			VolumeMount: []VolumeMount{{Name: "data", MountPath: "/data"}},
		}}},
		Container: []Container{{
			ContainerCommon: ContainerCommon{
				Name: "web", Image: "registry.local:5000/team/web:v1",
				EnvironmentVar:  []EnvironmentVar{{Key: "MODE", Value: "prod"}, {Key: "POD_IP", FieldRef: &FieldRef{FieldPath: FieldPathPodIP}}},
				Port:            []Port{{Port: 8080}},
				VolumeMount:     []VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "cfg", MountPath: "/etc/web", SubPath: "conf"}},
				SecurityContext: &ContainerSecurityContext{RunAsUser: &uid, Capability: &Capability{Add: []string{"NET_ADMIN"}}},
			},
			ReadinessProbe: &Probe{HTTPGet: &ProbeHTTPGet{Port: 8080, Path: "/healthz"}},
		}},
		Volume: []Volume{
			{Name: "data", Type: VolumeEmptyDir},
			{Name: "cfg", Type: VolumeConfigFile, ConfigFileVolume: &ConfigFileVolume{
				ConfigFileToPath: []ConfigFileToPath{{Path: "conf/app.conf", Content: base64.StdEncoding.EncodeToString([]byte("a=1"))}},
			}},
		},
		Tag: []Tag{{Key: "app", Value: "web"}},
	}
}

func ptr[T any](v T) *T { return &v }

func TestValidateBaseFixture(t *testing.T) {
	if err := validRequest().Normalize(); err != nil {
		t.Fatalf("base fixture is invalid: %v", err)
	}
}

// One case per rule: the mutation breaks exactly that rule, and the error
// carries the rule's ECI code and names the field.
func TestValidateRules(t *testing.T) {
	app := func(r *CreateContainerGroupRequest) *Container { return &r.Container[0] }
	long := func(n int) string { return strings.Repeat("a", n) }
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	cases := []struct {
		name   string
		mutate func(r *CreateContainerGroupRequest)
		code   string
		field  string
	}{
		// The group name.
		{"name missing", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = "" }, CodeMissingParameter, "ContainerGroupName"},
		{"name too short", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = "a" }, CodeInvalidParameter, "ContainerGroupName"},
		{"name too long", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = long(129) }, CodeInvalidParameter, "ContainerGroupName"},
		{"name upper case", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = "Web" }, CodeInvalidParameter, "ContainerGroupName"},
		{"name leading hyphen", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = "-web" }, CodeInvalidParameter, "ContainerGroupName"},
		{"name trailing hyphen", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = "web-" }, CodeInvalidParameter, "ContainerGroupName"},
		{"name underscore", func(r *CreateContainerGroupRequest) { r.ContainerGroupName = "we_b" }, CodeInvalidParameter, "ContainerGroupName"},
		// Required fields.
		{"no containers", func(r *CreateContainerGroupRequest) { r.Container = nil }, CodeMissingParameter, "Container"},
		{"container name missing", func(r *CreateContainerGroupRequest) { app(r).Name = "" }, CodeMissingParameter, "Container.1.Name"},
		{"container image missing", func(r *CreateContainerGroupRequest) { app(r).Image = "" }, CodeMissingParameter, "Container.1.Image"},
		{"init image missing", func(r *CreateContainerGroupRequest) { r.InitContainer[0].Image = "" }, CodeMissingParameter, "InitContainer.1.Image"},
		{"volume name missing", func(r *CreateContainerGroupRequest) { r.Volume[0].Name = "" }, CodeMissingParameter, "Volume.1.Name"},
		{"volume type missing", func(r *CreateContainerGroupRequest) { r.Volume[0].Type = "" }, CodeMissingParameter, "Volume.1.Type"},
		{"mount path missing", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "" }, CodeMissingParameter, "Container.1.VolumeMount.1.MountPath"},
		{"env key missing", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[0].Key = "" }, CodeMissingParameter, "Container.1.EnvironmentVar.1.Key"},
		{"tag key missing", func(r *CreateContainerGroupRequest) { r.Tag[0].Key = "" }, CodeMissingParameter, "Tag.1.Key"},
		{"credential password missing", func(r *CreateContainerGroupRequest) {
			r.ImageRegistryCredential = []ImageRegistryCredential{{Server: "reg.local", UserName: "u"}}
		}, CodeMissingParameter, "ImageRegistryCredential.1.Password"},
		{"host path missing", func(r *CreateContainerGroupRequest) {
			r.Volume = append(r.Volume, Volume{Name: "h", Type: VolumeHostPath, HostPathVolume: &HostPathVolume{}})
		}, CodeMissingParameter, "Volume.3.HostPathVolume.Path"},
		{"nfs server missing", func(r *CreateContainerGroupRequest) {
			r.Volume = append(r.Volume, Volume{Name: "n", Type: VolumeNFS, NFSVolume: &NFSVolume{Path: "/x"}})
		}, CodeMissingParameter, "Volume.3.NFSVolume.Server"},
		// Names.
		{"duplicate container names", func(r *CreateContainerGroupRequest) { app(r).Name = "init" }, CodeDuplicatedName, "Container.1.Name"},
		{"duplicate app container names", func(r *CreateContainerGroupRequest) { r.Container = append(r.Container, r.Container[0]) }, CodeDuplicatedName, "Container.2.Name"},
		{"bad container name", func(r *CreateContainerGroupRequest) { app(r).Name = "Web" }, CodeInvalidParameter, "Container.1.Name"},
		{"duplicate volume names", func(r *CreateContainerGroupRequest) { r.Volume[1].Name = "data" }, CodeDuplicatedVolumeName, "Volume.2.Name"},
		{"mount names no volume", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].Name = "nope" }, CodeInvalidParameter, "Container.1.VolumeMount.1.Name"},
		// Environment.
		{"env key starts with digit", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[0].Key = "1A" }, CodeInvalidParameter, "Container.1.EnvironmentVar.1.Key"},
		{"env key bad char", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[0].Key = "A-B" }, CodeInvalidParameter, "Container.1.EnvironmentVar.1.Key"},
		{"env key too long", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[0].Key = long(129) }, CodeInvalidParameter, "Container.1.EnvironmentVar.1.Key"},
		{"env value too long", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[0].Value = long(257) }, CodeInvalidParameter, "Container.1.EnvironmentVar.1.Value"},
		{"env field ref unsupported", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[1].FieldRef.FieldPath = "metadata.name" }, CodeInvalidParameter, "Container.1.EnvironmentVar.2.FieldRef.FieldPath"},
		{"env value and field ref", func(r *CreateContainerGroupRequest) { app(r).EnvironmentVar[1].Value = "x" }, CodeInvalidParameter, "Container.1.EnvironmentVar.2"},
		// Command and args.
		{"too many command items", func(r *CreateContainerGroupRequest) { app(r).Command = make([]string, 21) }, CodeInvalidParameter, "Container.1.Command"},
		{"command item too long", func(r *CreateContainerGroupRequest) { app(r).Command = []string{long(257)} }, CodeInvalidParameter, "Container.1.Command.1"},
		{"too many args", func(r *CreateContainerGroupRequest) { app(r).Arg = make([]string, 11) }, CodeInvalidParameter, "Container.1.Arg"},
		// Probes and hooks.
		{"probe with two methods", func(r *CreateContainerGroupRequest) {
			app(r).ReadinessProbe.TCPSocket = &ProbeTCPSocket{Port: 80}
		}, CodeInvalidParameter, "Container.1.ReadinessProbe"},
		{"probe with no method", func(r *CreateContainerGroupRequest) { app(r).LivenessProbe = &Probe{PeriodSeconds: 5} }, CodeInvalidParameter, "Container.1.LivenessProbe"},
		{"probe exec without command", func(r *CreateContainerGroupRequest) { app(r).LivenessProbe = &Probe{Exec: &ExecAction{}} }, CodeMissingParameter, "Container.1.LivenessProbe.Exec.Command"},
		{"success threshold not 1", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.SuccessThreshold = 2 }, CodeInvalidParameter, "Container.1.ReadinessProbe.SuccessThreshold"},
		{"probe period negative", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.PeriodSeconds = -1 }, CodeInvalidParameter, "Container.1.ReadinessProbe.PeriodSeconds"},
		{"probe timeout negative", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.TimeoutSeconds = -1 }, CodeInvalidParameter, "Container.1.ReadinessProbe.TimeoutSeconds"},
		{"probe failure threshold negative", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.FailureThreshold = -1 }, CodeInvalidParameter, "Container.1.ReadinessProbe.FailureThreshold"},
		{"probe initial delay negative", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.InitialDelaySeconds = -1 }, CodeInvalidParameter, "Container.1.ReadinessProbe.InitialDelaySeconds"},
		{"probe port out of range", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.HTTPGet.Port = 70000 }, CodeInvalidParameter, "Container.1.ReadinessProbe.HttpGet.Port"},
		{"probe scheme", func(r *CreateContainerGroupRequest) { app(r).ReadinessProbe.HTTPGet.Scheme = "FTP" }, CodeInvalidParameter, "Container.1.ReadinessProbe.HttpGet.Scheme"},
		{"probe tcp port missing", func(r *CreateContainerGroupRequest) {
			app(r).LivenessProbe = &Probe{TCPSocket: &ProbeTCPSocket{}}
		}, CodeInvalidParameter, "Container.1.LivenessProbe.TcpSocket.Port"},
		{"hook with two types", func(r *CreateContainerGroupRequest) {
			app(r).LifecyclePreStopHandlerExec = []string{"sh"}
			app(r).LifecyclePreStopHandlerTCPSocketPort = 80
		}, CodeInvalidParameter, "Container.1.LifecyclePreStopHandler"},
		{"hook http port", func(r *CreateContainerGroupRequest) { app(r).LifecyclePostStartHandlerHTTPGetPath = "/x" }, CodeInvalidParameter, "Container.1.LifecyclePostStartHandlerHttpGetPort"},
		{"hook http scheme", func(r *CreateContainerGroupRequest) {
			app(r).LifecyclePostStartHandlerHTTPGetPort = 80
			app(r).LifecyclePostStartHandlerHTTPGetScheme = "ws"
		}, CodeInvalidParameter, "Container.1.LifecyclePostStartHandlerHttpGetScheme"},
		{"hook header name", func(r *CreateContainerGroupRequest) {
			app(r).LifecyclePostStartHandlerHTTPGetPort = 80
			app(r).LifecyclePostStartHandlerHTTPGetHTTPHeader = []HTTPHeader{{Name: "bad header", Value: "x"}}
		}, CodeInvalidParameter, "Container.1.LifecyclePostStartHandlerHttpGetHttpHeader.1.Name"},
		{"hook tcp host", func(r *CreateContainerGroupRequest) {
			app(r).LifecyclePreStopHandlerTCPSocketPort = 80
			app(r).LifecyclePreStopHandlerTCPSocketHost = "bad host"
		}, CodeInvalidParameter, "Container.1.LifecyclePreStopHandlerTcpSocketHost"},
		// Ports.
		{"port zero", func(r *CreateContainerGroupRequest) { app(r).Port[0].Port = 0 }, CodeInvalidParameter, "Container.1.Port.1.Port"},
		{"port too high", func(r *CreateContainerGroupRequest) { app(r).Port[0].Port = 65536 }, CodeInvalidParameter, "Container.1.Port.1.Port"},
		{"port protocol", func(r *CreateContainerGroupRequest) { app(r).Port[0].Protocol = "SCTP" }, CodeInvalidParameter, "Container.1.Port.1.Protocol"},
		// ConfigFile volumes.
		{"content not base64", func(r *CreateContainerGroupRequest) { r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Content = "%%%" }, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Content"},
		{"file over 32 KB", func(r *CreateContainerGroupRequest) {
			r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Content = b64(32*1024 + 1)
		}, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Content"},
		{"volume over 60 KB", func(r *CreateContainerGroupRequest) {
			cf := r.Volume[1].ConfigFileVolume
			cf.ConfigFileToPath = []ConfigFileToPath{{Path: "a", Content: b64(30 * 1024)}, {Path: "b", Content: b64(30 * 1024)}, {Path: "c", Content: b64(1024)}}
		}, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath"},
		{"config path absolute", func(r *CreateContainerGroupRequest) { r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Path = "/etc/x" }, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Path"},
		{"config path dot dot", func(r *CreateContainerGroupRequest) { r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Path = "../x" }, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Path"},
		{"config path unclean", func(r *CreateContainerGroupRequest) { r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Path = "a//b" }, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Path"},
		{"config path missing", func(r *CreateContainerGroupRequest) { r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Path = "" }, CodeMissingParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Path"},
		{"config path duplicate", func(r *CreateContainerGroupRequest) {
			cf := r.Volume[1].ConfigFileVolume
			cf.ConfigFileToPath = append(cf.ConfigFileToPath, cf.ConfigFileToPath[0])
		}, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.2.Path"},
		{"config file/dir clash", func(r *CreateContainerGroupRequest) {
			cf := r.Volume[1].ConfigFileVolume
			cf.ConfigFileToPath = append(cf.ConfigFileToPath, ConfigFileToPath{Path: "conf"})
		}, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath"},
		{"mode over 0777", func(r *CreateContainerGroupRequest) {
			r.Volume[1].ConfigFileVolume.ConfigFileToPath[0].Mode = ptr(FileMode(0o1777))
		}, CodeInvalidParameter, "Volume.2.ConfigFileVolume.ConfigFileToPath.1.Mode"},
		{"default mode over 0777", func(r *CreateContainerGroupRequest) { r.Volume[1].ConfigFileVolume.DefaultMode = ptr(FileMode(512)) }, CodeInvalidParameter, "Volume.2.ConfigFileVolume.DefaultMode"},
		// Mounts and paths.
		{"mount path relative", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "data" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPath"},
		{"mount path unclean", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "/a/../b" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPath"},
		{"mount path root", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "/" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPath"},
		{"mount path under proc", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "/proc/sys" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPath"},
		{"mount path sys", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "/sys" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPath"},
		{"mount path under dev", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPath = "/dev/shm" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPath"},
		{"mount path twice", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[1].MountPath = "/data/" }, CodeInvalidParameter, "Container.1.VolumeMount.2.MountPath"},
		{"sub path absolute", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[1].SubPath = "/conf" }, CodeInvalidParameter, "Container.1.VolumeMount.2.SubPath"},
		{"sub path dot dot", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[1].SubPath = "a/../../b" }, CodeInvalidParameter, "Container.1.VolumeMount.2.SubPath"},
		{"propagation value", func(r *CreateContainerGroupRequest) { app(r).VolumeMount[0].MountPropagation = "Shared" }, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPropagation"},
		{"bidirectional unprivileged", func(r *CreateContainerGroupRequest) {
			app(r).VolumeMount[0].MountPropagation = PropagationBidirectional
		}, CodeInvalidParameter, "Container.1.VolumeMount.1.MountPropagation"},
		{"working dir relative", func(r *CreateContainerGroupRequest) { app(r).WorkingDir = "srv" }, CodeInvalidParameter, "Container.1.WorkingDir"},
		{"working dir unclean", func(r *CreateContainerGroupRequest) { app(r).WorkingDir = "/srv/./x" }, CodeInvalidParameter, "Container.1.WorkingDir"},
		{"termination message path", func(r *CreateContainerGroupRequest) { app(r).TerminationMessagePath = "log" }, CodeInvalidParameter, "Container.1.TerminationMessagePath"},
		{"termination message path core_pattern", func(r *CreateContainerGroupRequest) { app(r).TerminationMessagePath = "/proc/sys/kernel/core_pattern" }, CodeInvalidParameter, "Container.1.TerminationMessagePath"},
		{"termination message path console", func(r *CreateContainerGroupRequest) { app(r).TerminationMessagePath = "/dev/console" }, CodeInvalidParameter, "Container.1.TerminationMessagePath"},
		{"termination message path sysfs", func(r *CreateContainerGroupRequest) { app(r).TerminationMessagePath = "/sys/kernel/uevent_helper" }, CodeInvalidParameter, "Container.1.TerminationMessagePath"},
		{"termination message path root", func(r *CreateContainerGroupRequest) { app(r).TerminationMessagePath = "/" }, CodeInvalidParameter, "Container.1.TerminationMessagePath"},
		{"init termination message path /dev", func(r *CreateContainerGroupRequest) {
			r.InitContainer = []InitContainer{{ContainerCommon: ContainerCommon{Name: "init", Image: "busybox", TerminationMessagePath: "/dev"}}}
		}, CodeInvalidParameter, "InitContainer.1.TerminationMessagePath"},
		{"working dir proc fd", func(r *CreateContainerGroupRequest) { app(r).WorkingDir = "/proc/self/fd/7" }, CodeInvalidParameter, "Container.1.WorkingDir"},
		{"working dir sys", func(r *CreateContainerGroupRequest) { app(r).WorkingDir = "/sys" }, CodeInvalidParameter, "Container.1.WorkingDir"},
		{"working dir dev", func(r *CreateContainerGroupRequest) { app(r).WorkingDir = "/dev/shm" }, CodeInvalidParameter, "Container.1.WorkingDir"},
		{"termination message policy", func(r *CreateContainerGroupRequest) { app(r).TerminationMessagePolicy = "Logs" }, CodeInvalidParameter, "Container.1.TerminationMessagePolicy"},
		// Security.
		{"run as user negative", func(r *CreateContainerGroupRequest) { app(r).SecurityContext.RunAsUser = ptr(int64(-1)) }, CodeInvalidParameter, "Container.1.SecurityContext.RunAsUser"},
		{"run as user too big", func(r *CreateContainerGroupRequest) { app(r).SecurityContext.RunAsUser = ptr(int64(1 << 31)) }, CodeInvalidParameter, "Container.1.SecurityContext.RunAsUser"},
		{"run as group too big", func(r *CreateContainerGroupRequest) { app(r).SecurityContextRunAsGroup = ptr(int64(1 << 31)) }, CodeInvalidParameter, "Container.1.SecurityContextRunAsGroup"},
		{"capability not allowed", func(r *CreateContainerGroupRequest) { app(r).SecurityContext.Capability.Add = []string{"SYS_ADMIN"} }, CodeInvalidParameter, "Container.1.SecurityContext.Capability.Add.1"},
		{"safe sysctl not safe", func(r *CreateContainerGroupRequest) {
			r.SecurityContext = &PodSecurityContext{Sysctl: []Sysctl{{Name: "kernel.msgmax", Value: "1"}}}
		}, CodeInvalidParameter, "SecurityContext.Sysctl.1.Name"},
		{"unsafe sysctl not allowed", func(r *CreateContainerGroupRequest) {
			r.HostSecurityContext = &HostSecurityContext{Sysctl: []Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}}}
		}, CodeInvalidParameter, "HostSecurityContext.Sysctl.1.Name"},
		{"unsafe sysctl syncookies", func(r *CreateContainerGroupRequest) {
			r.HostSecurityContext = &HostSecurityContext{Sysctl: []Sysctl{{Name: "net.ipv4.tcp_syncookies", Value: "1"}}}
		}, CodeInvalidParameter, "HostSecurityContext.Sysctl.1.Name"},
		{"unsafe sysctl is safe one", func(r *CreateContainerGroupRequest) {
			r.HostSecurityContext = &HostSecurityContext{Sysctl: []Sysctl{{Name: "net.ipv4.ping_group_range", Value: "0 1"}}}
		}, CodeInvalidParameter, "HostSecurityContext.Sysctl.1.Name"},
		{"unsafe sysctl outside namespaces", func(r *CreateContainerGroupRequest) {
			r.HostSecurityContext = &HostSecurityContext{Sysctl: []Sysctl{{Name: "vm.swappiness", Value: "1"}}}
		}, CodeInvalidParameter, "HostSecurityContext.Sysctl.1.Name"},
		{"sysctl value missing", func(r *CreateContainerGroupRequest) {
			r.SecurityContext = &PodSecurityContext{Sysctl: []Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start"}}}
		}, CodeMissingParameter, "SecurityContext.Sysctl.1.Value"},
		// Tags and tokens.
		{"too many tags", func(r *CreateContainerGroupRequest) {
			r.Tag = nil
			for i := 0; i < 21; i++ {
				r.Tag = append(r.Tag, Tag{Key: "k" + string(rune('a'+i))})
			}
		}, CodeInvalidParameter, "Tag"},
		{"tag key too long", func(r *CreateContainerGroupRequest) { r.Tag[0].Key = long(65) }, CodeInvalidParameter, "Tag.1.Key"},
		{"tag key aliyun", func(r *CreateContainerGroupRequest) { r.Tag[0].Key = "aliyun-x" }, CodeInvalidParameter, "Tag.1.Key"},
		{"tag key acs", func(r *CreateContainerGroupRequest) { r.Tag[0].Key = "acs:x" }, CodeInvalidParameter, "Tag.1.Key"},
		{"tag key url", func(r *CreateContainerGroupRequest) { r.Tag[0].Key = "a-http://b" }, CodeInvalidParameter, "Tag.1.Key"},
		{"tag key duplicate", func(r *CreateContainerGroupRequest) { r.Tag = append(r.Tag, r.Tag[0]) }, CodeInvalidParameter, "Tag.2.Key"},
		{"tag value too long", func(r *CreateContainerGroupRequest) { r.Tag[0].Value = long(129) }, CodeInvalidParameter, "Tag.1.Value"},
		{"tag value acs", func(r *CreateContainerGroupRequest) { r.Tag[0].Value = "acs:x" }, CodeInvalidParameter, "Tag.1.Value"},
		{"tag value url", func(r *CreateContainerGroupRequest) { r.Tag[0].Value = "https://x" }, CodeInvalidParameter, "Tag.1.Value"},
		{"client token too long", func(r *CreateContainerGroupRequest) { r.ClientToken = long(65) }, CodeInvalidParameter, "ClientToken"},
		{"client token not ascii", func(r *CreateContainerGroupRequest) { r.ClientToken = "tökén" }, CodeInvalidParameter, "ClientToken"},
		// Enumerations.
		{"restart policy", func(r *CreateContainerGroupRequest) { r.RestartPolicy = "Sometimes" }, CodeInvalidParameter, "RestartPolicy"},
		{"dns policy", func(r *CreateContainerGroupRequest) { r.DNSPolicy = "ClusterFirst" }, CodeInvalidParameter, "DnsPolicy"},
		{"image pull policy", func(r *CreateContainerGroupRequest) { app(r).ImagePullPolicy = "Sometimes" }, CodeInvalidParameter, "Container.1.ImagePullPolicy"},
		{"volume type", func(r *CreateContainerGroupRequest) { r.Volume[0].Type = "TmpfsVolume" }, CodeInvalidParameter, "Volume.1.Type"},
		{"volume type mismatch", func(r *CreateContainerGroupRequest) { r.Volume[0].NFSVolume = &NFSVolume{Server: "nfs", Path: "/x"} }, CodeInvalidParameter, "Volume.1.NFSVolume"},
		{"host path type", func(r *CreateContainerGroupRequest) {
			r.Volume = append(r.Volume, Volume{Name: "h", Type: VolumeHostPath, HostPathVolume: &HostPathVolume{Path: "/srv", Type: "Folder"}})
		}, CodeInvalidParameter, "Volume.3.HostPathVolume.Type"},
		{"host path relative", func(r *CreateContainerGroupRequest) {
			r.Volume = append(r.Volume, Volume{Name: "h", Type: VolumeHostPath, HostPathVolume: &HostPathVolume{Path: "srv"}})
		}, CodeInvalidParameter, "Volume.3.HostPathVolume.Path"},
		{"empty dir medium", func(r *CreateContainerGroupRequest) { r.Volume[0].EmptyDirVolume = &EmptyDirVolume{Medium: "disk"} }, CodeInvalidParameter, "Volume.1.EmptyDirVolume.Medium"},
		{"empty dir size", func(r *CreateContainerGroupRequest) { r.Volume[0].EmptyDirVolume = &EmptyDirVolume{SizeLimit: "lots"} }, CodeInvalidParameter, "Volume.1.EmptyDirVolume.SizeLimit"},
		{"spot strategy", func(r *CreateContainerGroupRequest) { r.SpotStrategy = "Cheap" }, CodeInvalidParameter, "SpotStrategy"},
		{"schedule strategy", func(r *CreateContainerGroupRequest) { r.ScheduleStrategy = "Random" }, CodeInvalidParameter, "ScheduleStrategy"},
		{"os type", func(r *CreateContainerGroupRequest) { r.OsType = "Plan9" }, CodeInvalidParameter, "OsType"},
		{"cpu architecture", func(r *CreateContainerGroupRequest) { r.CPUArchitecture = "RISCV" }, CodeInvalidParameter, "CpuArchitecture"},
		{"compute category", func(r *CreateContainerGroupRequest) { r.ComputeCategory = []string{"premium"} }, CodeInvalidParameter, "ComputeCategory.1"},
		// Cloud rules.
		{"spot price limit required", func(r *CreateContainerGroupRequest) { r.SpotStrategy = "SpotWithPriceLimit" }, CodeMissingParameter, "SpotPriceLimit"},
		{"ipv6 count", func(r *CreateContainerGroupRequest) { r.Ipv6AddressCount = 2 }, CodeInvalidParameter, "Ipv6AddressCount"},
		{"core pattern pipe", func(r *CreateContainerGroupRequest) { r.CorePattern = "|/bin/x" }, CodeInvalidParameter, "CorePattern"},
		{"private ip", func(r *CreateContainerGroupRequest) { r.PrivateIPAddress = "fe80::1" }, CodeInvalidParameter, "PrivateIpAddress"},
		{"ipv6 gateway bandwidth", func(r *CreateContainerGroupRequest) { r.Ipv6GatewayBandwidth = "5000" }, CodeInvalidParameter, "Ipv6GatewayBandwidth"},
		{"flex options", func(r *CreateContainerGroupRequest) {
			r.Volume = append(r.Volume, Volume{Name: "f", Type: VolumeFlex, FlexVolume: &FlexVolume{Options: "{"}})
		}, CodeInvalidParameter, "Volume.3.FlexVolume.Options"},
		// Numbers, names and addresses.
		{"negative cpu", func(r *CreateContainerGroupRequest) { app(r).Cpu = -1 }, CodeInvalidParameter, "Container.1.Cpu"},
		{"negative memory", func(r *CreateContainerGroupRequest) { r.Memory = -1 }, CodeInvalidParameter, "Memory"},
		{"negative grace", func(r *CreateContainerGroupRequest) { r.TerminationGracePeriodSeconds = ptr(int64(-1)) }, CodeInvalidParameter, "TerminationGracePeriodSeconds"},
		{"negative deadline", func(r *CreateContainerGroupRequest) { r.ActiveDeadlineSeconds = -5 }, CodeInvalidParameter, "ActiveDeadlineSeconds"},
		{"negative bandwidth", func(r *CreateContainerGroupRequest) { r.IngressBandwidth = -1 }, CodeInvalidParameter, "IngressBandwidth"},
		{"bad image", func(r *CreateContainerGroupRequest) { app(r).Image = "Bad Image" }, CodeInvalidParameter, "Container.1.Image"},
		{"bad host name", func(r *CreateContainerGroupRequest) { r.HostName = "bad_host" }, CodeInvalidParameter, "HostName"},
		{"dns none without servers", func(r *CreateContainerGroupRequest) { r.DNSPolicy = DNSPolicyNone }, CodeMissingParameter, "DnsConfig.NameServer"},
		{"dns server not ip", func(r *CreateContainerGroupRequest) { r.DNSConfig = &DNSConfig{NameServer: []string{"dns.local"}} }, CodeInvalidParameter, "DnsConfig.NameServer.1"},
		{"too many dns servers", func(r *CreateContainerGroupRequest) {
			r.DNSConfig = &DNSConfig{NameServer: []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"}}
		}, CodeInvalidParameter, "DnsConfig.NameServer"},
		{"dns search", func(r *CreateContainerGroupRequest) { r.DNSConfig = &DNSConfig{Search: []string{"bad domain"}} }, CodeInvalidParameter, "DnsConfig.Search.1"},
		{"host alias ip", func(r *CreateContainerGroupRequest) {
			r.HostAliase = []HostAliase{{IP: "1.2.3", Hostname: []string{"a"}}}
		}, CodeInvalidParameter, "HostAliase.1.Ip"},
		{"host alias hostname", func(r *CreateContainerGroupRequest) {
			r.HostAliase = []HostAliase{{IP: "1.2.3.4", Hostname: []string{"a b"}}}
		}, CodeInvalidParameter, "HostAliase.1.Hostname.1"},
		{"plain http registry", func(r *CreateContainerGroupRequest) { r.PlainHTTPRegistry = "reg.local,bad host" }, CodeInvalidParameter, "PlainHttpRegistry"},
		{"insecure registry port", func(r *CreateContainerGroupRequest) { r.InsecureRegistry = "reg.local:99999" }, CodeInvalidParameter, "InsecureRegistry"},
		{"credential server", func(r *CreateContainerGroupRequest) {
			r.ImageRegistryCredential = []ImageRegistryCredential{{Server: "bad server", UserName: "u", Password: "p"}}
		}, CodeInvalidParameter, "ImageRegistryCredential.1.Server"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := validRequest()
			r.SetDefaults()
			tc.mutate(r)
			err := r.Validate()
			if err == nil {
				t.Fatalf("Validate() = nil, want %s on %s", tc.code, tc.field)
			}
			for _, e := range AsErrors(err) {
				if e.Code == tc.code && e.Field == tc.field {
					if e.Status != 400 {
						t.Errorf("status = %d, want 400", e.Status)
					}
					return
				}
			}
			t.Errorf("Validate() = %v\nwant %s on %s", err, tc.code, tc.field)
		})
	}
}

// Several problems in one request are all reported, in a stable order.
func TestValidateReportsAll(t *testing.T) {
	r := validRequest()
	r.SetDefaults()
	r.ContainerGroupName = "Bad"
	r.Container[0].Port[0].Port = 0
	r.Volume = append(r.Volume, r.Volume[0])
	err := r.Validate()
	es := AsErrors(err)
	if len(es) != 3 {
		t.Fatalf("got %d errors, want 3: %v", len(es), err)
	}
	if !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("errors.Is(err, ErrInvalidParameter) = false for %v", err)
	}
	var codes []string
	for _, e := range es {
		codes = append(codes, e.Code)
	}
	if got, want := strings.Join(codes, ","), "InvalidParameter,InvalidParameter.DuplicatedVolumeName,InvalidParameter"; got != want {
		t.Errorf("codes = %s, want %s", got, want)
	}
}

func TestErrorFamilies(t *testing.T) {
	dup := &Error{Code: CodeDuplicatedName, Status: 400}
	if !errors.Is(dup, ErrInvalidParameter) {
		t.Error("InvalidParameter.DuplicatedName is not in the InvalidParameter family")
	}
	if errors.Is(dup, ErrMissingParameter) {
		t.Error("InvalidParameter.DuplicatedName is in the MissingParameter family")
	}
	if errors.Is(&Error{Code: "InvalidParameterX"}, ErrInvalidParameter) {
		t.Error("InvalidParameterX matched the InvalidParameter family")
	}
}

func TestSetDefaults(t *testing.T) {
	r := validRequest()
	r.Container[0].LivenessProbe = &Probe{TCPSocket: &ProbeTCPSocket{Port: 80}}
	r.Container[0].LifecyclePreStopHandlerHTTPGetPort = 80
	r.Volume[1].ConfigFileVolume.DefaultMode = nil
	r.SetDefaults()
	c := r.Container[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"RestartPolicy", r.RestartPolicy, "Always"},
		{"DnsPolicy", r.DNSPolicy, "Default"},
		{"TerminationGracePeriodSeconds", *r.TerminationGracePeriodSeconds, int64(30)},
		{"ImagePullPolicy tagged", c.ImagePullPolicy, "IfNotPresent"},
		{"ImagePullPolicy init untagged", r.InitContainer[0].ImagePullPolicy, "IfNotPresent"},
		{"TerminationMessagePath", c.TerminationMessagePath, "/dev/termination-log"},
		{"Port.Protocol", c.Port[0].Protocol, "TCP"},
		{"MountPropagation", c.VolumeMount[0].MountPropagation, "None"},
		{"Readiness TimeoutSeconds", c.ReadinessProbe.TimeoutSeconds, 1},
		{"Readiness PeriodSeconds", c.ReadinessProbe.PeriodSeconds, 10},
		{"Readiness SuccessThreshold", c.ReadinessProbe.SuccessThreshold, 1},
		{"Readiness FailureThreshold", c.ReadinessProbe.FailureThreshold, 3},
		{"Readiness Scheme", c.ReadinessProbe.HTTPGet.Scheme, "HTTP"},
		{"Liveness PeriodSeconds", c.LivenessProbe.PeriodSeconds, 10},
		{"PreStop scheme", c.LifecyclePreStopHandlerHTTPGetScheme, "HTTP"},
		{"PreStop path", c.LifecyclePreStopHandlerHTTPGetPath, "/"},
		{"ConfigFile DefaultMode", *r.Volume[1].ConfigFileVolume.DefaultMode, FileMode(0o644)},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	// The init container's image busybox:1.36 is tagged; an untagged one pulls always.
	r2 := validRequest()
	r2.Container[0].Image = "busybox"
	r2.SetDefaults()
	if got := r2.Container[0].ImagePullPolicy; got != "Always" {
		t.Errorf("untagged ImagePullPolicy = %s, want Always", got)
	}
	// Given values are kept.
	r3 := validRequest()
	r3.RestartPolicy = "Never"
	r3.TerminationGracePeriodSeconds = ptr(int64(0))
	r3.SetDefaults()
	if r3.RestartPolicy != "Never" || *r3.TerminationGracePeriodSeconds != 0 {
		t.Errorf("SetDefaults changed given values: %s, %d", r3.RestartPolicy, *r3.TerminationGracePeriodSeconds)
	}
}

func TestNotAppliedLocally(t *testing.T) {
	r := validRequest()
	r.ZoneID = "cn-hangzhou-b"
	r.Container[0].Gpu = 1
	r.SpotStrategy = "SpotAsPriceGo"
	r.CPUArchitecture = HostArchitecture() // applied: checked against the host
	var got []string
	for _, f := range r.NotAppliedLocally() {
		got = append(got, f.Name)
		if f.How == "" || f.Use != UseRecorded {
			t.Errorf("%s: %+v says nothing of what leci does", f.Name, f)
		}
	}
	if want := "ZoneId,SpotStrategy"; strings.Join(got, ",") != want {
		t.Errorf("NotAppliedLocally = %s, want %s", strings.Join(got, ","), want)
	}
	r.SpotStrategy = "NoSpot"
	if n := len(r.NotAppliedLocally()); n != 1 {
		t.Errorf("NoSpot is what leci does, but %d fields are listed", n)
	}
}
