package api

import "strings"

// Default values, as the reference and the kubelet define them.
const (
	DefaultRegionID                      = "local"
	DefaultRestartPolicy                 = RestartAlways
	DefaultDNSPolicy                     = DNSPolicyDefault
	DefaultTerminationGracePeriodSeconds = 30
	DefaultTerminationMessagePath        = "/dev/termination-log"
	DefaultTerminationMessagePolicy      = "File"
	DefaultConfigFileMode                = FileMode(0o644)
	DefaultProbeTimeoutSeconds           = 1
	DefaultProbePeriodSeconds            = 10
	DefaultProbeSuccessThreshold         = 1
	DefaultProbeFailureThreshold         = 3
)

// SetDefaults fills every parameter that has a default and was not given.
// It is idempotent, and never changes a value that was given.
func (r *CreateContainerGroupRequest) SetDefaults() {
	setIfEmpty(&r.RegionID, DefaultRegionID)
	setIfEmpty(&r.RestartPolicy, DefaultRestartPolicy)
	setIfEmpty(&r.DNSPolicy, DefaultDNSPolicy)
	r.applyInstanceType()
	if r.TerminationGracePeriodSeconds == nil {
		g := int64(DefaultTerminationGracePeriodSeconds)
		r.TerminationGracePeriodSeconds = &g
	}
	for i := range r.InitContainer {
		r.InitContainer[i].ContainerCommon.setDefaults()
	}
	for i := range r.Container {
		c := &r.Container[i]
		c.ContainerCommon.setDefaults()
		c.ReadinessProbe.setDefaults()
		c.LivenessProbe.setDefaults()
		if c.PostStart() != nil && c.PostStart().HTTPGet != nil {
			setIfEmpty(&c.LifecyclePostStartHandlerHTTPGetScheme, SchemeHTTP)
			setIfEmpty(&c.LifecyclePostStartHandlerHTTPGetPath, "/")
		}
		if c.PreStop() != nil && c.PreStop().HTTPGet != nil {
			setIfEmpty(&c.LifecyclePreStopHandlerHTTPGetScheme, SchemeHTTP)
			setIfEmpty(&c.LifecyclePreStopHandlerHTTPGetPath, "/")
		}
	}
	for i := range r.Volume {
		if cf := r.Volume[i].ConfigFileVolume; cf != nil && cf.DefaultMode == nil {
			m := DefaultConfigFileMode
			cf.DefaultMode = &m
		}
	}
}

func (c *ContainerCommon) setDefaults() {
	setIfEmpty(&c.ImagePullPolicy, DefaultPullPolicy(c.Image))
	setIfEmpty(&c.TerminationMessagePath, DefaultTerminationMessagePath)
	setIfEmpty(&c.TerminationMessagePolicy, DefaultTerminationMessagePolicy)
	for i := range c.Port {
		setIfEmpty(&c.Port[i].Protocol, ProtocolTCP)
	}
	for i := range c.VolumeMount {
		setIfEmpty(&c.VolumeMount[i].MountPropagation, PropagationNone)
	}
}

func (p *Probe) setDefaults() {
	if p == nil {
		return
	}
	setIntIfZero(&p.TimeoutSeconds, DefaultProbeTimeoutSeconds)
	setIntIfZero(&p.PeriodSeconds, DefaultProbePeriodSeconds)
	setIntIfZero(&p.SuccessThreshold, DefaultProbeSuccessThreshold)
	setIntIfZero(&p.FailureThreshold, DefaultProbeFailureThreshold)
	if p.HTTPGet != nil {
		setIfEmpty(&p.HTTPGet.Scheme, SchemeHTTP)
		setIfEmpty(&p.HTTPGet.Path, "/")
	}
}

// DefaultPullPolicy is the kubelet's rule: Always for an image tagged latest
// or not tagged at all, IfNotPresent otherwise (a digest pins the content).
func DefaultPullPolicy(image string) string {
	if strings.Contains(image, "@") {
		return PullIfNotPresent
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, tagged := strings.Cut(name, ":")
	if !tagged || tag == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

func setIfEmpty(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

func setIntIfZero(n *int, v int) {
	if *n == 0 {
		*n = v
	}
}
