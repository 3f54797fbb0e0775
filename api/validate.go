package api

import (
	"encoding/base64"
	"encoding/json"
	"math"
	"net"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Limits the reference states.
const (
	maxGroupNameLen      = 128
	maxTags              = 20
	maxTagKeyLen         = 64
	maxTagValueLen       = 128
	maxClientTokenLen    = 64
	maxCommandItems      = 20
	maxArgItems          = 10
	maxCommandItemLen    = 256
	maxEnvKeyLen         = 128
	maxEnvValueLen       = 256
	maxConfigFileSize    = 32 * 1024
	maxConfigVolumeSize  = 60 * 1024
	maxFileMode          = 0o777
	maxID                = 1<<31 - 1
	maxNameServers       = 3
	maxSearches          = 32
	maxVSwitches         = 10
	maxIpv6GatewayBWMbps = 2000
)

// The patterns are compiled when first used: a leci command pays only
// for those its request needs, not for all of them at every start.
var (
	groupNameRe = lazyRegexp(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsLabelRe  = lazyRegexp(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	hostLabelRe = lazyRegexp(`^[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$`)
	envKeyRe    = lazyRegexp(`^[A-Za-z_][A-Za-z0-9_]*$`)
	sysctlRe    = lazyRegexp(`^[a-z0-9]([-_a-z0-9]*[a-z0-9])?([./][a-z0-9]([-_a-z0-9]*[a-z0-9])?)*$`)
	headerRe    = lazyRegexp("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
	imageRe     = lazyRegexp(`^` +
		`(?:(?:[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[-A-Za-z0-9]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?/)?` + // registry
		`[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*` + // repository
		`(?::[\w][\w.-]{0,127})?` + // tag
		`(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$`) // digest
)

// lazyRegexp is a pattern compiled on its first use.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// validator collects every problem of a request.
type validator struct{ errs Errors }

func (v *validator) invalid(field, format string, args ...any) {
	v.errs = append(v.errs, invalid(field, format, args...))
}

func (v *validator) missing(field string) { v.errs = append(v.errs, missing(field)) }

func (v *validator) add(code, field, message string) {
	v.errs = append(v.errs, &Error{Code: code, Status: http.StatusBadRequest, Field: field, Message: message})
}

// required reports a missing parameter and tells whether it was given.
func (v *validator) required(field, value string) bool {
	if value == "" {
		v.missing(field)
		return false
	}
	return true
}

func (v *validator) oneOf(field, value string, allowed []string) {
	if value != "" && !slices.Contains(allowed, value) {
		v.invalid(field, "%q is not one of %s", value, strings.Join(nonEmpty(allowed), ", "))
	}
}

func (v *validator) between(field string, n, lo, hi int64) {
	if n < lo || n > hi {
		v.invalid(field, "%d is out of range [%d, %d]", n, lo, hi)
	}
}

func (v *validator) notNegative(field string, n float64) {
	if n < 0 {
		v.invalid(field, "must not be negative")
	}
}

func (v *validator) maxLen(field, s string, n int) {
	if len(s) > n {
		v.invalid(field, "is %d characters long, at most %d", len(s), n)
	}
}

func nonEmpty(values []string) []string {
	out := make([]string, 0, len(values))
	for _, s := range values {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

func idx(field string, i int) string { return field + "." + strconv.Itoa(i+1) }

// Validate checks every rule the reference states for CreateContainerGroup
// and returns all the problems found, as Errors, or nil. Call SetDefaults
// first: the enumerations are checked on their defaulted values.
func (r *CreateContainerGroupRequest) Validate() error {
	v := &validator{}
	v.group(r)
	volumes := v.volumes(r.Volume)
	names := map[string]string{} // container name → field of its first use
	for i := range r.InitContainer {
		c := &r.InitContainer[i]
		field := idx("InitContainer", i)
		v.containerName(field, c.Name, names)
		v.common(field, &c.ContainerCommon, volumes, false)
	}
	if len(r.Container) == 0 {
		v.missing("Container")
	}
	for i := range r.Container {
		c := &r.Container[i]
		field := idx("Container", i)
		v.containerName(field, c.Name, names)
		v.common(field, &c.ContainerCommon, volumes, c.SecurityContextPrivileged)
		v.container(field, c)
	}
	return v.errs.errOrNil()
}

func (v *validator) group(r *CreateContainerGroupRequest) {
	if v.required("ContainerGroupName", r.ContainerGroupName) {
		n := r.ContainerGroupName
		if len(n) < 2 || len(n) > maxGroupNameLen || !groupNameRe().MatchString(n) {
			v.invalid("ContainerGroupName", "%q must be 2 to 128 lowercase letters, digits and hyphens, and must not start or end with a hyphen", n)
		}
	}
	v.oneOf("RestartPolicy", r.RestartPolicy, restartPolicies)
	v.notNegative("Cpu", r.Cpu)
	v.notNegative("Memory", r.Memory)
	if g := r.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		v.invalid("TerminationGracePeriodSeconds", "must not be negative")
	}
	if r.ActiveDeadlineSeconds < 0 {
		v.invalid("ActiveDeadlineSeconds", "must be a positive number of seconds")
	}
	if len(r.ClientToken) > maxClientTokenLen || !printableASCII(r.ClientToken) {
		v.invalid("ClientToken", "must be at most 64 printable ASCII characters")
	}
	v.tags(r.Tag)

	for i, c := range r.ImageRegistryCredential {
		field := idx("ImageRegistryCredential", i)
		if v.required(field+".Server", c.Server) && !validRegistry(c.Server) {
			v.invalid(field+".Server", "%q is not a registry address (host[:port])", c.Server)
		}
		v.required(field+".UserName", c.UserName)
		v.required(field+".Password", c.Password)
	}
	v.registryList("PlainHttpRegistry", r.PlainHTTPRegistry)
	v.registryList("InsecureRegistry", r.InsecureRegistry)

	if r.HostName != "" && !validHostname(r.HostName, 64) {
		v.invalid("HostName", "%q is not a valid host name", r.HostName)
	}
	v.oneOf("DnsPolicy", r.DNSPolicy, dnsPolicies)
	v.dns(r.DNSPolicy, r.DNSConfig)
	for i, a := range r.HostAliase {
		field := idx("HostAliase", i)
		if v.required(field+".Ip", a.IP) && net.ParseIP(a.IP) == nil {
			v.invalid(field+".Ip", "%q is not an IP address", a.IP)
		}
		if len(a.Hostname) == 0 {
			v.missing(field + ".Hostname")
		}
		for j, h := range a.Hostname {
			if !validHostname(h, 253) {
				v.invalid(idx(field+".Hostname", j), "%q is not a valid host name", h)
			}
		}
	}
	v.bandwidth("IngressBandwidth", r.IngressBandwidth)
	v.bandwidth("EgressBandwidth", r.EgressBandwidth)
	if r.Ipv6AddressCount != 0 && r.Ipv6AddressCount != 1 {
		v.invalid("Ipv6AddressCount", "must be 1 (a group has one IPv6 address)")
	}
	if r.SecurityContext != nil {
		v.sysctls("SecurityContext.Sysctl", r.SecurityContext.Sysctl, safeSysctl, "a safe sysctl (net.ipv4.ping_group_range, net.ipv4.ip_unprivileged_port_start)")
	}
	if r.HostSecurityContext != nil {
		v.sysctls("HostSecurityContext.Sysctl", r.HostSecurityContext.Sysctl, unsafeSysctl, "an allowed unsafe sysctl (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*, net.*)")
	}
	v.cloud(r)
	v.resources(r)
}

// maxBandwidth is the highest rate, in bytes per second, that still fits
// the bits per second the shaper takes.
const maxBandwidth = math.MaxInt64 / 8

// bandwidth checks a rate in bytes per second (Bps), the unit of ECI's
// IngressBandwidth and EgressBandwidth.
func (v *validator) bandwidth(field string, bps int64) {
	switch {
	case bps < 0:
		v.invalid(field, "must not be negative")
	case bps > maxBandwidth:
		v.invalid(field, "%d bytes per second is more than leci can shape (%d)", bps, int64(maxBandwidth))
	}
}

// cloud checks the parameters that only mean something in Alibaba Cloud: they
// are stored and echoed back, so they must be well formed too.
func (v *validator) cloud(r *CreateContainerGroupRequest) {
	v.oneOf("SpotStrategy", r.SpotStrategy, spotStrategies)
	v.notNegative("SpotPriceLimit", r.SpotPriceLimit)
	if r.SpotStrategy == "SpotWithPriceLimit" && r.SpotPriceLimit <= 0 {
		v.missing("SpotPriceLimit")
	}
	if r.SpotDuration != nil && *r.SpotDuration < 0 {
		v.invalid("SpotDuration", "must not be negative")
	}
	v.oneOf("ScheduleStrategy", r.ScheduleStrategy, scheduleStrategy)
	if strings.HasPrefix(r.CorePattern, "|") {
		v.invalid("CorePattern", "must not start with '|': core dumps cannot be piped to a program")
	}
	if r.VSwitchID != "" && len(strings.Split(r.VSwitchID, ",")) > maxVSwitches {
		v.invalid("VSwitchId", "names more than %d vSwitches", maxVSwitches)
	}
	v.notNegative("EipBandwidth", float64(r.EipBandwidth))
	v.oneOf("EipISP", r.EipISP, eipISPs)
	v.notNegative("CpuOptionsCore", float64(r.CPUOptionsCore))
	v.notNegative("CpuOptionsThreadsPerCore", float64(r.CPUOptionsThreadsPerCore))
	v.notNegative("EphemeralStorage", float64(r.EphemeralStorage))
	v.oneOf("ImageAccelerateMode", r.ImageAccelerateMode, accelerateModes)
	if bw := r.Ipv6GatewayBandwidth; bw != "" {
		if n, err := strconv.Atoi(bw); err != nil || n < 1 || n > maxIpv6GatewayBWMbps {
			v.invalid("Ipv6GatewayBandwidth", "%q must be a number of Mbps from 1 to %d", bw, maxIpv6GatewayBWMbps)
		}
	}
	v.oneOf("FixedIp", r.FixedIP, []string{"true", "false"})
	v.notNegative("FixedIpRetainHour", float64(r.FixedIPRetainHour))
	v.notNegative("DataCacheProvisionedIops", float64(r.DataCacheProvisionedIops))
	if ip := r.PrivateIPAddress; ip != "" {
		if p := net.ParseIP(ip); p == nil || p.To4() == nil {
			v.invalid("PrivateIpAddress", "%q is not an IPv4 address", ip)
		}
	}
	v.oneOf("OsType", r.OsType, osTypes)
	v.oneOf("CpuArchitecture", r.CPUArchitecture, cpuArchitectures)
	for i, c := range r.ComputeCategory {
		v.oneOf(idx("ComputeCategory", i), c, computeCategories)
	}
	v.notNegative("MaxPendingMinute", float64(r.MaxPendingMinute))
	for i, s := range r.NtpServer {
		if !validHostname(s, 253) && net.ParseIP(s) == nil {
			v.invalid(idx("NtpServer", i), "%q is not a host name or IP address", s)
		}
	}
	for i, a := range r.AcrRegistryInfo {
		v.required(idx("AcrRegistryInfo", i)+".InstanceId", a.InstanceID)
		for j, d := range a.Domain {
			if !validRegistry(d) {
				v.invalid(idx(idx("AcrRegistryInfo", i)+".Domain", j), "%q is not a registry domain", d)
			}
		}
	}
}

func (v *validator) tags(tags []Tag) {
	if len(tags) > maxTags {
		v.invalid("Tag", "has %d tags, at most %d", len(tags), maxTags)
	}
	seen := map[string]bool{}
	for i, t := range tags {
		field := idx("Tag", i)
		if v.required(field+".Key", t.Key) {
			switch {
			case len(t.Key) > maxTagKeyLen:
				v.invalid(field+".Key", "is longer than %d characters", maxTagKeyLen)
			case strings.HasPrefix(t.Key, "aliyun") || strings.HasPrefix(t.Key, "acs:"):
				v.invalid(field+".Key", "must not start with aliyun or acs:")
			case strings.Contains(t.Key, "http://") || strings.Contains(t.Key, "https://"):
				v.invalid(field+".Key", "must not contain http:// or https://")
			case seen[t.Key]:
				v.invalid(field+".Key", "tag %q is given twice", t.Key)
			}
			seen[t.Key] = true
		}
		switch {
		case len(t.Value) > maxTagValueLen:
			v.invalid(field+".Value", "is longer than %d characters", maxTagValueLen)
		case strings.HasPrefix(t.Value, "acs:"):
			v.invalid(field+".Value", "must not start with acs:")
		case strings.Contains(t.Value, "http://") || strings.Contains(t.Value, "https://"):
			v.invalid(field+".Value", "must not contain http:// or https://")
		}
	}
}

func (v *validator) registryList(field, list string) {
	if list == "" {
		return
	}
	for _, h := range strings.Split(list, ",") {
		if h = strings.TrimSpace(h); !validRegistry(h) {
			v.invalid(field, "%q is not a registry address (host[:port], separated by commas)", h)
		}
	}
}

func (v *validator) dns(policy string, c *DNSConfig) {
	if c == nil {
		if policy == DNSPolicyNone {
			v.missing("DnsConfig.NameServer")
		}
		return
	}
	if policy == DNSPolicyNone && len(c.NameServer) == 0 {
		v.missing("DnsConfig.NameServer")
	}
	if len(c.NameServer) > maxNameServers {
		v.invalid("DnsConfig.NameServer", "has %d name servers, at most %d", len(c.NameServer), maxNameServers)
	}
	for i, ns := range c.NameServer {
		if net.ParseIP(ns) == nil {
			v.invalid(idx("DnsConfig.NameServer", i), "%q is not an IP address", ns)
		}
	}
	if len(c.Search) > maxSearches {
		v.invalid("DnsConfig.Search", "has %d search domains, at most %d", len(c.Search), maxSearches)
	}
	for i, s := range c.Search {
		if !validHostname(strings.TrimSuffix(s, "."), 253) {
			v.invalid(idx("DnsConfig.Search", i), "%q is not a domain name", s)
		}
	}
	for i, o := range c.Option {
		field := idx("DnsConfig.Option", i)
		if v.required(field+".Name", o.Name) && strings.ContainsAny(o.Name, " \t\n:") {
			v.invalid(field+".Name", "%q is not a resolver option name", o.Name)
		}
		if strings.ContainsAny(o.Value, " \t\n") {
			v.invalid(field+".Value", "must not contain white space")
		}
	}
}

var safeSysctls = []string{"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start"}

func safeSysctl(name string) bool { return slices.Contains(safeSysctls, name) }

// unsafeSysctl is the list the reference allows in HostSecurityContext: the
// namespaced sysctls, less those that are safe (they belong in
// SecurityContext) and tcp_syncookies.
func unsafeSysctl(name string) bool {
	switch {
	case name == "kernel.shm_rmid_forced":
		return false
	case strings.HasPrefix(name, "kernel.shm"), strings.HasPrefix(name, "kernel.msg"), name == "kernel.sem",
		strings.HasPrefix(name, "fs.mqueue."):
		return true
	case name == "net.ipv4.tcp_syncookies", safeSysctl(name):
		return false
	}
	return strings.HasPrefix(name, "net.")
}

func (v *validator) sysctls(field string, list []Sysctl, allowed func(string) bool, what string) {
	seen := map[string]bool{}
	for i, s := range list {
		f := idx(field, i)
		if !v.required(f+".Name", s.Name) {
			continue
		}
		switch {
		case !sysctlRe().MatchString(s.Name):
			v.invalid(f+".Name", "%q is not a sysctl name", s.Name)
		case !allowed(s.Name):
			v.invalid(f+".Name", "%q is not %s", s.Name, what)
		case seen[s.Name]:
			v.invalid(f+".Name", "%q is given twice", s.Name)
		}
		seen[s.Name] = true
		if v.required(f+".Value", s.Value) && strings.ContainsAny(s.Value, "\n\x00") {
			v.invalid(f+".Value", "must be one line")
		}
	}
}

// volumes checks the volumes and returns their types by name.
func (v *validator) volumes(vols []Volume) map[string]string {
	types := map[string]string{}
	for i := range vols {
		vol := &vols[i]
		field := idx("Volume", i)
		if v.required(field+".Name", vol.Name) {
			if !dnsLabelRe().MatchString(vol.Name) {
				v.invalid(field+".Name", "%q must be at most 63 lowercase letters, digits and hyphens, and must not start or end with a hyphen", vol.Name)
			}
			if _, dup := types[vol.Name]; dup {
				v.add(CodeDuplicatedVolumeName, field+".Name", "volume "+strconv.Quote(vol.Name)+" is defined twice")
			}
			types[vol.Name] = vol.Type
		}
		if v.required(field+".Type", vol.Type) {
			v.oneOf(field+".Type", vol.Type, volumeTypes)
		}
		given := map[string]bool{
			VolumeEmptyDir: vol.EmptyDirVolume != nil, VolumeConfigFile: vol.ConfigFileVolume != nil,
			VolumeHostPath: vol.HostPathVolume != nil, VolumeNFS: vol.NFSVolume != nil,
			VolumeDisk: vol.DiskVolume != nil, VolumeFlex: vol.FlexVolume != nil,
		}
		for _, t := range volumeTypes {
			if given[t] && t != vol.Type {
				v.invalid(field+"."+t, "is given but the volume's Type is %q", vol.Type)
			}
		}
		switch vol.Type {
		case VolumeEmptyDir:
			if e := vol.EmptyDirVolume; e != nil {
				v.oneOf(field+".EmptyDirVolume.Medium", e.Medium, emptyDirMedia)
				if e.SizeLimit != "" {
					if _, err := ParseSizeLimit(e.SizeLimit); err != nil {
						v.invalid(field+".EmptyDirVolume.SizeLimit", "%v", err)
					}
				}
			}
		case VolumeConfigFile:
			v.configFile(field+".ConfigFileVolume", vol.ConfigFileVolume)
		case VolumeHostPath:
			h := vol.HostPathVolume
			if h == nil {
				v.missing(field + ".HostPathVolume.Path")
				break
			}
			if v.required(field+".HostPathVolume.Path", h.Path) && !cleanAbs(h.Path) {
				v.invalid(field+".HostPathVolume.Path", "%q must be an absolute, clean path", h.Path)
			}
			v.oneOf(field+".HostPathVolume.Type", h.Type, hostPathTypes)
		case VolumeNFS:
			n := vol.NFSVolume
			if n == nil {
				v.missing(field + ".NFSVolume.Server")
				break
			}
			if v.required(field+".NFSVolume.Server", n.Server) && !validHostname(n.Server, 253) && net.ParseIP(n.Server) == nil {
				v.invalid(field+".NFSVolume.Server", "%q is not a host name or IP address", n.Server)
			}
			if v.required(field+".NFSVolume.Path", n.Path) && !cleanAbs(n.Path) {
				v.invalid(field+".NFSVolume.Path", "%q must be an absolute, clean path", n.Path)
			}
		case VolumeDisk:
			if d := vol.DiskVolume; d != nil {
				v.notNegative(field+".DiskVolume.DiskSize", float64(d.DiskSize))
			}
		case VolumeFlex:
			if f := vol.FlexVolume; f != nil && f.Options != "" {
				var opts map[string]any
				if json.Unmarshal([]byte(f.Options), &opts) != nil {
					v.invalid(field+".FlexVolume.Options", "must be a JSON object")
				}
			}
		}
	}
	return types
}

func (v *validator) configFile(field string, cf *ConfigFileVolume) {
	if cf == nil {
		return
	}
	if cf.DefaultMode != nil && *cf.DefaultMode > maxFileMode {
		v.invalid(field+".DefaultMode", "%s is not a permission mode (at most 0777)", cf.DefaultMode)
	}
	total := 0
	paths := map[string]bool{}
	for i, f := range cf.ConfigFileToPath {
		ff := idx(field+".ConfigFileToPath", i)
		if v.required(ff+".Path", f.Path) {
			if !cleanRel(f.Path) {
				v.invalid(ff+".Path", "%q must be a clean relative path without '..'", f.Path)
			} else if paths[f.Path] {
				v.invalid(ff+".Path", "%q is given twice", f.Path)
			} else {
				paths[f.Path] = true
			}
		}
		data, err := base64.StdEncoding.DecodeString(f.Content)
		switch {
		case err != nil:
			v.invalid(ff+".Content", "is not valid base64")
		case len(data) > maxConfigFileSize:
			v.invalid(ff+".Content", "decodes to %d bytes, at most %d (32 KB)", len(data), maxConfigFileSize)
		}
		total += len(data)
		if f.Mode != nil && *f.Mode > maxFileMode {
			v.invalid(ff+".Mode", "%s is not a permission mode (at most 0777)", f.Mode)
		}
	}
	if total > maxConfigVolumeSize {
		v.invalid(field+".ConfigFileToPath", "the files hold %d bytes, at most %d (60 KB) per volume", total, maxConfigVolumeSize)
	}
	// A file may not stand where another needs a directory (a and a/b).
	for p := range paths {
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if paths[dir] {
				v.invalid(field+".ConfigFileToPath", "%q is a file and also the directory of %q", dir, p)
			}
		}
	}
}

func (v *validator) containerName(field, name string, seen map[string]string) {
	if !v.required(field+".Name", name) {
		return
	}
	if !dnsLabelRe().MatchString(name) {
		v.invalid(field+".Name", "%q must be at most 63 lowercase letters, digits and hyphens, and must not start or end with a hyphen", name)
	}
	if first, dup := seen[name]; dup {
		v.add(CodeDuplicatedName, field+".Name", "container name "+strconv.Quote(name)+" is already used by "+first)
		return
	}
	seen[name] = field
}

// common checks what app and init containers share.
func (v *validator) common(field string, c *ContainerCommon, volumes map[string]string, privileged bool) {
	if v.required(field+".Image", c.Image) && !imageRe().MatchString(c.Image) {
		v.invalid(field+".Image", "%q is not a valid image reference", c.Image)
	}
	v.oneOf(field+".ImagePullPolicy", c.ImagePullPolicy, pullPolicies)
	if len(c.Command) > maxCommandItems {
		v.invalid(field+".Command", "has %d items, at most %d", len(c.Command), maxCommandItems)
	}
	for i, s := range c.Command {
		v.maxLen(idx(field+".Command", i), s, maxCommandItemLen)
	}
	if len(c.Arg) > maxArgItems {
		v.invalid(field+".Arg", "has %d items, at most %d", len(c.Arg), maxArgItems)
	}
	switch {
	case c.WorkingDir == "":
	case !cleanAbs(c.WorkingDir):
		v.invalid(field+".WorkingDir", "%q must be an absolute, clean path", c.WorkingDir)
	case underKernel(c.WorkingDir):
		// /proc/self/fd/N as a working directory reaches a runtime's
		// descriptors (CVE-2024-21626).
		v.invalid(field+".WorkingDir", "%q must not be under /proc, /sys or /dev", c.WorkingDir)
	}
	v.notNegative(field+".Cpu", c.Cpu)
	v.notNegative(field+".Memory", c.Memory)
	v.notNegative(field+".Gpu", float64(c.Gpu))
	for i, e := range c.EnvironmentVar {
		f := idx(field+".EnvironmentVar", i)
		if v.required(f+".Key", e.Key) && (len(e.Key) > maxEnvKeyLen || !envKeyRe().MatchString(e.Key)) {
			v.invalid(f+".Key", "%q must be 1 to 128 letters, digits and underscores, and must not start with a digit", e.Key)
		}
		v.maxLen(f+".Value", e.Value, maxEnvValueLen)
		if e.FieldRef != nil {
			if e.FieldRef.FieldPath != FieldPathPodIP {
				v.invalid(f+".FieldRef.FieldPath", "%q is not supported; only %s is", e.FieldRef.FieldPath, FieldPathPodIP)
			}
			if e.Value != "" {
				v.invalid(f, "sets both Value and FieldRef")
			}
		}
	}
	for i, p := range c.Port {
		f := idx(field+".Port", i)
		v.between(f+".Port", int64(p.Port), 1, 65535)
		v.oneOf(f+".Protocol", p.Protocol, protocols)
	}
	mountPaths := map[string]bool{}
	for i, m := range c.VolumeMount {
		f := idx(field+".VolumeMount", i)
		if v.required(f+".Name", m.Name) {
			if _, ok := volumes[m.Name]; !ok {
				v.invalid(f+".Name", "names no volume of the group (%q)", m.Name)
			}
		}
		if v.required(f+".MountPath", m.MountPath) {
			mp := strings.TrimSuffix(m.MountPath, "/")
			switch {
			case !cleanAbs(m.MountPath):
				v.invalid(f+".MountPath", "%q must be an absolute, clean path", m.MountPath)
			case mp == "":
				v.invalid(f+".MountPath", "must not be /")
			case underKernel(mp):
				v.invalid(f+".MountPath", "%q must not be under /proc, /sys or /dev", m.MountPath)
			case mountPaths[mp]:
				v.invalid(f+".MountPath", "%q is mounted twice", m.MountPath)
			}
			mountPaths[mp] = true
		}
		if m.SubPath != "" && !cleanRel(strings.TrimSuffix(m.SubPath, "/")) {
			v.invalid(f+".SubPath", "%q must be a relative path without '..'", m.SubPath)
		}
		v.oneOf(f+".MountPropagation", m.MountPropagation, propagations)
		if m.MountPropagation == PropagationBidirectional && !privileged {
			v.invalid(f+".MountPropagation", "Bidirectional propagation needs a privileged container (SecurityContextPrivileged)")
		}
	}
	if sc := c.SecurityContext; sc != nil {
		if sc.RunAsUser != nil {
			v.between(field+".SecurityContext.RunAsUser", *sc.RunAsUser, 0, maxID)
		}
		if sc.Capability != nil {
			for i, cp := range sc.Capability.Add {
				f := idx(field+".SecurityContext.Capability.Add", i)
				if !slices.Contains(capabilities, cp) {
					v.invalid(f, "%q is not supported; only NET_ADMIN and NET_RAW can be added", cp)
				}
			}
		}
	}
	switch tp := c.TerminationMessagePath; {
	case tp == "":
	case !cleanAbs(tp) || tp == "/":
		v.invalid(field+".TerminationMessagePath", "%q must be an absolute, clean path", tp)
	case underKernel(tp) && tp != DefaultTerminationMessagePath:
		// A file leci bind-mounts there would cover a kernel interface
		// (/proc/sys/kernel/core_pattern, /dev/console).
		v.invalid(field+".TerminationMessagePath", "%q must not be under /proc, /sys or /dev (but %s)", tp, DefaultTerminationMessagePath)
	}
	v.oneOf(field+".TerminationMessagePolicy", c.TerminationMessagePolicy, terminationPolicy)
}

// container checks what only app containers have.
func (v *validator) container(field string, c *Container) {
	v.probe(field+".ReadinessProbe", c.ReadinessProbe)
	v.probe(field+".LivenessProbe", c.LivenessProbe)
	if g := c.SecurityContextRunAsGroup; g != nil {
		v.between(field+".SecurityContextRunAsGroup", *g, 0, maxID)
	}
	v.handler(field+".LifecyclePostStartHandler", c.PostStart())
	v.handler(field+".LifecyclePreStopHandler", c.PreStop())
}

func (v *validator) probe(field string, p *Probe) {
	if p == nil {
		return
	}
	methods := 0
	if p.Exec != nil {
		methods++
		if len(p.Exec.Command) == 0 {
			v.missing(field + ".Exec.Command")
		}
	}
	if h := p.HTTPGet; h != nil {
		methods++
		v.between(field+".HttpGet.Port", int64(h.Port), 1, 65535)
		v.oneOf(field+".HttpGet.Scheme", h.Scheme, schemes)
		if h.Path != "" && !strings.HasPrefix(h.Path, "/") {
			v.invalid(field+".HttpGet.Path", "%q must start with /", h.Path)
		}
	}
	if t := p.TCPSocket; t != nil {
		methods++
		v.between(field+".TcpSocket.Port", int64(t.Port), 1, 65535)
	}
	if methods != 1 {
		v.invalid(field, "must set exactly one of Exec, HttpGet and TcpSocket (%d set)", methods)
	}
	if p.InitialDelaySeconds < 0 {
		v.invalid(field+".InitialDelaySeconds", "must not be negative")
	}
	if p.PeriodSeconds < 1 {
		v.invalid(field+".PeriodSeconds", "must be at least 1")
	}
	if p.TimeoutSeconds < 1 {
		v.invalid(field+".TimeoutSeconds", "must be at least 1")
	}
	if p.SuccessThreshold != 1 {
		v.invalid(field+".SuccessThreshold", "must be 1")
	}
	if p.FailureThreshold < 1 {
		v.invalid(field+".FailureThreshold", "must be at least 1")
	}
}

func (v *validator) handler(field string, h *Handler) {
	if h == nil {
		return
	}
	if h.kinds() > 1 {
		v.invalid(field, "must set at most one of Exec, HttpGet and TcpSocket")
	}
	if h.HTTPGet != nil {
		g := h.HTTPGet
		v.between(field+"HttpGetPort", int64(g.Port), 1, 65535)
		v.oneOf(field+"HttpGetScheme", g.Scheme, schemes)
		if g.Host != "" && !validHostname(g.Host, 253) && net.ParseIP(g.Host) == nil {
			v.invalid(field+"HttpGetHost", "%q is not a host name or IP address", g.Host)
		}
		if g.Path != "" && !strings.HasPrefix(g.Path, "/") {
			v.invalid(field+"HttpGetPath", "%q must start with /", g.Path)
		}
		for i, hd := range g.HTTPHeader {
			f := idx(field+"HttpGetHttpHeader", i)
			if v.required(f+".Name", hd.Name) && !headerRe().MatchString(hd.Name) {
				v.invalid(f+".Name", "%q is not an HTTP header name", hd.Name)
			}
			if strings.ContainsAny(hd.Value, "\r\n\x00") {
				v.invalid(f+".Value", "must be one line")
			}
		}
	}
	if t := h.TCPSocket; t != nil {
		v.between(field+"TcpSocketPort", int64(t.Port), 1, 65535)
		if t.Host != "" && !validHostname(t.Host, 253) && net.ParseIP(t.Host) == nil {
			v.invalid(field+"TcpSocketHost", "%q is not a host name or IP address", t.Host)
		}
	}
}

// cleanAbs reports whether p is absolute and clean; a trailing slash, as the
// reference's own examples write directories, is allowed.
func cleanAbs(p string) bool {
	if p != "/" {
		p = strings.TrimSuffix(p, "/")
	}
	return strings.HasPrefix(p, "/") && path.Clean(p) == p && !strings.ContainsRune(p, 0)
}

// cleanRel reports whether p is relative, clean and stays below its root.
func cleanRel(p string) bool {
	return p != "" && !strings.HasPrefix(p, "/") && path.Clean(p) == p && p != "." &&
		p != ".." && !strings.HasPrefix(p, "../") && !strings.ContainsRune(p, 0)
}

// underKernel reports whether a path in a container is one of the kernel's
// interfaces, or below one: the paths a mount, a working directory or a
// termination message file must keep away from.
func underKernel(p string) bool { return underAny(p, "/proc", "/sys", "/dev") }

func underAny(p string, roots ...string) bool {
	for _, r := range roots {
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	return false
}

func validHostname(h string, max int) bool {
	if h == "" || len(h) > max {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !hostLabelRe().MatchString(label) {
			return false
		}
	}
	return true
}

// validRegistry accepts host[:port], optionally with a scheme and a path, as
// registry logins are often written (https://host/v1/).
func validRegistry(s string) bool {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://")
	host, _, _ := strings.Cut(s, "/")
	if h, port, err := net.SplitHostPort(host); err == nil {
		n, perr := strconv.Atoi(port)
		if perr != nil || n < 1 || n > 65535 {
			return false
		}
		host = h
	}
	return validHostname(host, 253) || net.ParseIP(host) != nil
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
