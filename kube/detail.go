package kube

import (
	"leci/api"
)

// notDescribed names what DescribeContainerGroups does not show of a group,
// so that a request rebuilt from it lacks.
var notDescribed = []string{
	"lifecycle hooks", "TerminationGracePeriodSeconds", "ActiveDeadlineSeconds", "ShareProcessNamespace",
	"HostName", "ImageRegistryCredential", "container SecurityContext besides capabilities, readOnlyRootFilesystem and runAsUser",
	"termination message settings", "config file modes", "the annotations' fields DescribeContainerGroups does not list",
}

// FromDetail rebuilds the request of a group from what DescribeContainerGroups
// shows of it. The second result says what the rebuilt request cannot hold:
// what the response does not show, and volumes left out for want of it.
func FromDetail(d api.ContainerGroupDetail) (*api.CreateContainerGroupRequest, []string) {
	missing := append([]string(nil), notDescribed...)
	r := &api.CreateContainerGroupRequest{
		RegionID:           d.RegionID,
		ZoneID:             d.ZoneID,
		ContainerGroupName: d.ContainerGroupName,
		Cpu:                d.Cpu,
		Memory:             d.Memory,
		EphemeralStorage:   d.EphemeralStorage,
		RestartPolicy:      d.RestartPolicy,
		DNSPolicy:          d.DNSPolicy,
		InstanceType:       d.InstanceType,
		VSwitchID:          d.VSwitchID,
		SecurityGroupID:    d.SecurityGroupID,
		ResourceGroupID:    d.ResourceGroupID,
		SpotStrategy:       d.SpotStrategy,
		SpotPriceLimit:     d.SpotPriceLimit,
		RAMRoleName:        d.RAMRoleName,
	}
	if d.SpotStrategy == "NoSpot" {
		r.SpotStrategy = ""
	}
	if d.ComputeCategory != "" {
		r.ComputeCategory = []string{d.ComputeCategory}
	}
	for _, t := range d.Tags {
		r.Tag = append(r.Tag, api.Tag{Key: t.Key, Value: t.Value})
	}
	for _, h := range d.HostAliases {
		r.HostAliase = append(r.HostAliase, api.HostAliase{IP: h.IP, Hostname: h.Hostnames})
	}
	if c := d.DNSConfig; len(c.NameServers)+len(c.Searches)+len(c.Options) > 0 {
		r.DNSConfig = &api.DNSConfig{NameServer: c.NameServers, Search: c.Searches}
		for _, o := range c.Options {
			r.DNSConfig.Option = append(r.DNSConfig.Option, api.DNSOption{Name: o.Name, Value: o.Value})
		}
	}
	for _, s := range d.EciSecurityContext.Sysctls {
		sc := api.Sysctl{Name: s.Name, Value: s.Value}
		if api.IsSafeSysctl(s.Name) {
			if r.SecurityContext == nil {
				r.SecurityContext = &api.PodSecurityContext{}
			}
			r.SecurityContext.Sysctl = append(r.SecurityContext.Sysctl, sc)
			continue
		}
		if r.HostSecurityContext == nil {
			r.HostSecurityContext = &api.HostSecurityContext{}
		}
		r.HostSecurityContext.Sysctl = append(r.HostSecurityContext.Sysctl, sc)
	}
	dropped := map[string]bool{}
	for _, v := range d.Volumes {
		vol := api.Volume{Name: v.Name, Type: v.Type}
		switch v.Type {
		case api.VolumeEmptyDir:
			if v.EmptyDirVolumeMedium != "" || v.EmptyDirVolumeSizeLimit != "" {
				vol.EmptyDirVolume = &api.EmptyDirVolume{Medium: v.EmptyDirVolumeMedium, SizeLimit: v.EmptyDirVolumeSizeLimit}
			}
		case api.VolumeConfigFile:
			vol.ConfigFileVolume = &api.ConfigFileVolume{}
			for _, f := range v.ConfigFileVolumeConfigFileToPaths {
				vol.ConfigFileVolume.ConfigFileToPath = append(vol.ConfigFileVolume.ConfigFileToPath, api.ConfigFileToPath{Path: f.Path, Content: f.Content})
			}
		case api.VolumeNFS:
			vol.NFSVolume = &api.NFSVolume{Server: v.NFSVolumeServer, Path: v.NFSVolumePath, ReadOnly: v.NFSVolumeReadOnly}
		case api.VolumeFlex:
			vol.FlexVolume = &api.FlexVolume{Driver: v.FlexVolumeDriver, FsType: v.FlexVolumeFsType, Options: v.FlexVolumeOptions}
		case api.VolumeDisk:
			vol.DiskVolume = &api.DiskVolume{DiskID: v.DiskVolumeDiskID, FsType: v.DiskVolumeFsType}
		default:
			// A HostPathVolume shows no path in the response.
			dropped[v.Name] = true
			missing = append(missing, "Volume "+v.Name+" ("+v.Type+": the response shows no path) and its mounts")
			continue
		}
		r.Volume = append(r.Volume, vol)
	}
	for _, c := range d.InitContainers {
		ic := api.InitContainer{ContainerCommon: api.ContainerCommon{
			Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy, Command: c.Command, Arg: c.Args,
			WorkingDir: c.WorkingDir, Cpu: c.Cpu, Memory: c.Memory, Gpu: c.Gpu,
			Port: ports(c.Ports), EnvironmentVar: envVars(c.EnvironmentVars), SecurityContext: securityContext(c.SecurityContext),
		}}
		for _, m := range c.VolumeMounts {
			if !dropped[m.Name] {
				ic.VolumeMount = append(ic.VolumeMount, api.VolumeMount{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly, MountPropagation: m.MountPropagation})
			}
		}
		r.InitContainer = append(r.InitContainer, ic)
	}
	for _, c := range d.Containers {
		ac := api.Container{ContainerCommon: api.ContainerCommon{
			Name: c.Name, Image: c.Image, ImagePullPolicy: c.ImagePullPolicy, Command: c.Commands, Arg: c.Args,
			WorkingDir: c.WorkingDir, Cpu: c.Cpu, Memory: c.Memory, Gpu: c.Gpu,
			Port: ports(c.Ports), EnvironmentVar: envVars(c.EnvironmentVars), SecurityContext: securityContext(c.SecurityContext),
		}, Stdin: c.Stdin, StdinOnce: c.StdinOnce, Tty: c.TTY,
			ReadinessProbe: probe(c.ReadinessProbe), LivenessProbe: probe(c.LivenessProbe)}
		for _, m := range c.VolumeMounts {
			if !dropped[m.Name] {
				ac.VolumeMount = append(ac.VolumeMount, api.VolumeMount{Name: m.Name, MountPath: m.MountPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath, MountPropagation: m.MountPropagation})
			}
		}
		r.Container = append(r.Container, ac)
	}
	return r, missing
}

func ports(ps []api.PortDetail) []api.Port {
	var out []api.Port
	for _, p := range ps {
		out = append(out, api.Port{Port: p.Port, Protocol: p.Protocol})
	}
	return out
}

func envVars(es []api.EnvironmentVarDetail) []api.EnvironmentVar {
	var out []api.EnvironmentVar
	for _, e := range es {
		v := api.EnvironmentVar{Key: e.Key, Value: e.Value}
		if e.ValueFrom != nil && e.ValueFrom.FieldRef.FieldPath != "" {
			v.FieldRef = &api.FieldRef{FieldPath: e.ValueFrom.FieldRef.FieldPath}
		}
		out = append(out, v)
	}
	return out
}

func securityContext(s *api.SecurityContextDetail) *api.ContainerSecurityContext {
	if s == nil {
		return nil
	}
	out := &api.ContainerSecurityContext{ReadOnlyRootFilesystem: s.ReadOnlyRootFilesystem}
	if s.RunAsUser != 0 {
		out.RunAsUser = &s.RunAsUser
	}
	if len(s.Capability.Adds) > 0 {
		out.Capability = &api.Capability{Add: s.Capability.Adds}
	}
	if *out == (api.ContainerSecurityContext{}) {
		return nil
	}
	return out
}

func probe(p *api.ProbeDetail) *api.Probe {
	if p == nil {
		return nil
	}
	out := &api.Probe{InitialDelaySeconds: p.InitialDelaySeconds, PeriodSeconds: p.PeriodSeconds, TimeoutSeconds: p.TimeoutSeconds,
		SuccessThreshold: p.SuccessThreshold, FailureThreshold: p.FailureThreshold}
	if len(p.Execs) > 0 {
		out.Exec = &api.ExecAction{Command: p.Execs}
	}
	if g := p.HTTPGet; g != nil {
		out.HTTPGet = &api.ProbeHTTPGet{Path: g.Path, Port: g.Port, Scheme: g.Scheme}
	}
	if t := p.TCPSocket; t != nil {
		out.TCPSocket = &api.ProbeTCPSocket{Port: t.Port}
	}
	return out
}
