package runtime

import (
	"time"

	"leci/api"
)

// Describe renders a group as DescribeContainerGroups shows it. Values of
// EnvironmentVarHide containers and registry passwords are never shown.
func Describe(st GroupStatus) api.ContainerGroupDetail {
	r := st.Request
	cpu, memory := r.AllocatedResources()
	failed := st.FailedAt
	if failed.IsZero() {
		// A group ended by ActiveDeadlineSeconds has failed, as a pod past
		// its deadline has (DeadlineExceeded); its status stays Expired.
		failed = st.ExpiredAt
	}
	d := api.ContainerGroupDetail{
		ContainerGroupID: st.ID, ContainerGroupName: r.ContainerGroupName,
		RegionID: r.RegionID, ZoneID: r.ZoneID, Status: st.Phase,
		Cpu: cpu, Memory: memory, EphemeralStorage: r.EphemeralStorage,
		IntranetIP: st.IPv4, Ipv6Address: st.IPv6,
		CreationTime: timeText(st.CreatedAt), SucceededTime: timeText(st.SucceededAt), FailedTime: timeText(failed),
		ExpiredTime:   timeText(st.ExpiredAt),
		RestartPolicy: r.RestartPolicy, DNSPolicy: r.DNSPolicy,
		InstanceType: r.InstanceType, VSwitchID: r.VSwitchID, SecurityGroupID: r.SecurityGroupID,
		ResourceGroupID: r.ResourceGroupID, SpotStrategy: r.SpotStrategy, SpotPriceLimit: r.SpotPriceLimit,
		RAMRoleName: r.RAMRoleName,
	}
	if len(r.ComputeCategory) > 0 {
		d.ComputeCategory = r.ComputeCategory[0]
	}
	for _, t := range r.Tag {
		d.Tags = append(d.Tags, api.TagDetail{Key: t.Key, Value: t.Value})
	}
	for _, a := range r.HostAliase {
		d.HostAliases = append(d.HostAliases, api.HostAliasDetail{IP: a.IP, Hostnames: a.Hostname})
	}
	if c := r.DNSConfig; c != nil {
		d.DNSConfig.NameServers, d.DNSConfig.Searches = c.NameServer, c.Search
		for _, o := range c.Option {
			d.DNSConfig.Options = append(d.DNSConfig.Options, api.DnsOptionDetail{Name: o.Name, Value: o.Value})
		}
	}
	for name, value := range sysctls(r) {
		d.EciSecurityContext.Sysctls = append(d.EciSecurityContext.Sysctls, api.SysctlDetail{Name: name, Value: value})
	}
	for _, e := range st.Events {
		d.Events = append(d.Events, api.EventDetail{
			Count: e.Count, Type: e.Type, Name: e.Object, Reason: e.Reason, Message: e.Message,
			FirstTimestamp: timeText(e.First), LastTimestamp: timeText(e.Last),
		})
	}
	for _, v := range r.Volume {
		d.Volumes = append(d.Volumes, describeVolume(v))
	}
	for i := range r.InitContainer {
		d.InitContainers = append(d.InitContainers, describeInit(&r.InitContainer[i], st.InitContainers[i]))
	}
	for i := range r.Container {
		d.Containers = append(d.Containers, describeContainer(&r.Container[i], st.Containers[i]))
	}
	return d
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func describeState(s ContainerState) api.ContainerState {
	return api.ContainerState{
		State: s.State, DetailStatus: s.Reason, ExitCode: s.ExitCode, Signal: s.Signal,
		StartTime: timeText(s.StartedAt), FinishTime: timeText(s.FinishedAt), Reason: s.Reason, Message: s.Message,
	}
}

func describeVolume(v api.Volume) api.VolumeDetail {
	d := api.VolumeDetail{Name: v.Name, Type: v.Type}
	if e := v.EmptyDirVolume; e != nil {
		d.EmptyDirVolumeMedium, d.EmptyDirVolumeSizeLimit = e.Medium, e.SizeLimit
	}
	if c := v.ConfigFileVolume; c != nil {
		for _, f := range c.ConfigFileToPath {
			d.ConfigFileVolumeConfigFileToPaths = append(d.ConfigFileVolumeConfigFileToPaths, api.ConfigFileToPathDetail{Path: f.Path, Content: f.Content})
		}
	}
	if n := v.NFSVolume; n != nil {
		d.NFSVolumeServer, d.NFSVolumePath, d.NFSVolumeReadOnly = n.Server, n.Path, n.ReadOnly
	}
	if k := v.DiskVolume; k != nil {
		d.DiskVolumeDiskID, d.DiskVolumeFsType = k.DiskID, k.FsType
	}
	if f := v.FlexVolume; f != nil {
		d.FlexVolumeDriver, d.FlexVolumeFsType, d.FlexVolumeOptions = f.Driver, f.FsType, f.Options
	}
	return d
}

func describeEnv(c *api.ContainerCommon, hide bool) []api.EnvironmentVarDetail {
	if hide {
		return nil
	}
	var out []api.EnvironmentVarDetail
	for _, e := range c.EnvironmentVar {
		d := api.EnvironmentVarDetail{Key: e.Key, Value: e.Value}
		if e.FieldRef != nil {
			d.ValueFrom = &api.EnvValueFrom{FieldRef: api.EnvFieldRef{FieldPath: e.FieldRef.FieldPath}}
		}
		out = append(out, d)
	}
	return out
}

func describePorts(c *api.ContainerCommon) []api.PortDetail {
	var out []api.PortDetail
	for _, p := range c.Port {
		out = append(out, api.PortDetail{Port: p.Port, Protocol: p.Protocol})
	}
	return out
}

func describeSecurity(c *api.ContainerCommon) *api.SecurityContextDetail {
	sc := c.SecurityContext
	if sc == nil {
		return nil
	}
	d := &api.SecurityContextDetail{ReadOnlyRootFilesystem: sc.ReadOnlyRootFilesystem}
	if sc.RunAsUser != nil {
		d.RunAsUser = *sc.RunAsUser
	}
	if sc.Capability != nil {
		d.Capability.Adds = sc.Capability.Add
	}
	return d
}

func previous(c ContainerStatus) api.ContainerState {
	if c.Previous == nil {
		return api.ContainerState{}
	}
	return describeState(*c.Previous)
}

func describeInit(spec *api.InitContainer, c ContainerStatus) api.InitContainerDetail {
	d := api.InitContainerDetail{
		Name: spec.Name, Image: spec.Image, ImagePullPolicy: spec.ImagePullPolicy,
		Command: spec.Command, Args: spec.Arg, WorkingDir: spec.WorkingDir,
		Cpu: spec.Cpu, Memory: spec.Memory, Gpu: spec.Gpu,
		Ports: describePorts(&spec.ContainerCommon), EnvironmentVars: describeEnv(&spec.ContainerCommon, false),
		SecurityContext: describeSecurity(&spec.ContainerCommon),
		Ready:           c.Ready, RestartCount: c.RestartCount, CurrentState: describeState(c.Current), PreviousState: previous(c),
	}
	for _, m := range spec.VolumeMount {
		d.VolumeMounts = append(d.VolumeMounts, api.InitVolumeMountDetail{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly, MountPropagation: m.MountPropagation})
	}
	return d
}

func describeProbe(p *api.Probe) *api.ProbeDetail {
	if p == nil {
		return nil
	}
	d := &api.ProbeDetail{InitialDelaySeconds: p.InitialDelaySeconds, PeriodSeconds: p.PeriodSeconds,
		TimeoutSeconds: p.TimeoutSeconds, SuccessThreshold: p.SuccessThreshold, FailureThreshold: p.FailureThreshold}
	if p.Exec != nil {
		d.Execs = p.Exec.Command
	}
	if h := p.HTTPGet; h != nil {
		d.HTTPGet = &api.HTTPGetDetail{Path: h.Path, Port: h.Port, Scheme: h.Scheme}
	}
	if t := p.TCPSocket; t != nil {
		d.TCPSocket = &api.TCPSocketDetail{Port: t.Port}
	}
	return d
}

func describeContainer(spec *api.Container, c ContainerStatus) api.ContainerDetail {
	d := api.ContainerDetail{
		Name: spec.Name, Image: spec.Image, ImagePullPolicy: spec.ImagePullPolicy,
		Commands: spec.Command, Args: spec.Arg, WorkingDir: spec.WorkingDir,
		Cpu: spec.Cpu, Memory: spec.Memory, Gpu: spec.Gpu,
		Stdin: spec.Stdin, StdinOnce: spec.StdinOnce, TTY: spec.Tty,
		Ports: describePorts(&spec.ContainerCommon), EnvironmentVars: describeEnv(&spec.ContainerCommon, spec.EnvironmentVarHide),
		ReadinessProbe: describeProbe(spec.ReadinessProbe), LivenessProbe: describeProbe(spec.LivenessProbe),
		SecurityContext: describeSecurity(&spec.ContainerCommon),
		Ready:           c.Ready, RestartCount: c.RestartCount, CurrentState: describeState(c.Current), PreviousState: previous(c),
	}
	for _, m := range spec.VolumeMount {
		d.VolumeMounts = append(d.VolumeMounts, api.VolumeMountDetail{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath, MountPropagation: m.MountPropagation})
	}
	return d
}
