package api

import (
	"reflect"
	"strconv"
)

// FieldUse is what leci does with a parameter that only means something in
// Alibaba Cloud (tagged `leci:"cloud"`).
type FieldUse string

const (
	// UseRecorded: kept, validated and echoed back, but not applied; a
	// group that sets it gets a warning event saying so.
	UseRecorded FieldUse = "recorded"
	// UseAnalogy: applied by its local meaning (How says which).
	UseAnalogy FieldUse = "analogy"
)

// CloudField is one cloud-only parameter and what leci does with it.
type CloudField struct {
	// Name is the wire path, with N for a list's index
	// (Container.N.Gpu); in a request's list of unapplied fields, the
	// path itself (Container.2.Gpu).
	Name string
	Use  FieldUse
	How  string
}

// CloudFields lists every cloud-only parameter of CreateContainerGroup and
// what leci does with it; the README's list and `leci validate --fields`
// show this table.
var CloudFields = []CloudField{
	{"ZoneId", UseRecorded, "one host has no zones; kept for the ZoneId filter of the Describe actions"},
	{"SecurityGroupId", UseRecorded, "no security groups; kept for the Describe filters"},
	{"VSwitchId", UseRecorded, "groups join leci's bridge; kept for the Describe filters"},
	{"EipInstanceId", UseRecorded, "no elastic IP addresses"},
	{"ResourceGroupId", UseRecorded, "kept for the Describe filters"},
	{"InstanceType", UseAnalogy, "the group's Cpu and Memory become the type's (c, g and r families of generations 5 to 8); an unknown type, or another architecture than the host's, is refused"},
	{"ImageSnapshotId", UseRecorded, "no image caches; images are pulled"},
	{"RamRoleName", UseRecorded, "no RAM roles or instance metadata service"},
	{"AutoMatchImageCache", UseRecorded, "no image caches; images are pulled"},
	{"SpotStrategy", UseRecorded, "no spot instances (NoSpot, the default, is what leci does)"},
	{"SpotPriceLimit", UseRecorded, "no spot instances"},
	{"SpotDuration", UseRecorded, "no spot instances"},
	{"StrictSpot", UseRecorded, "no spot instances"},
	{"ScheduleStrategy", UseRecorded, "one host, nothing to schedule"},
	{"CorePattern", UseRecorded, "the kernel's core_pattern is the host's, not a group's"},
	{"AutoCreateEip", UseRecorded, "no elastic IP addresses"},
	{"EipBandwidth", UseRecorded, "no elastic IP addresses"},
	{"EipISP", UseRecorded, "no elastic IP addresses"},
	{"EipCommonBandwidthPackage", UseRecorded, "no elastic IP addresses"},
	{"CpuOptionsCore", UseRecorded, "containers share the host's cores; Cpu limits them"},
	{"CpuOptionsThreadsPerCore", UseRecorded, "containers share the host's cores; Cpu limits them"},
	{"CpuOptionsNuma", UseRecorded, "containers share the host's NUMA nodes"},
	{"EphemeralStorage", UseRecorded, "the writable layers live on the snapshotter's file system, which sets no size limit per container (overlayfs without project quotas)"},
	{"AcrRegistryInfo", UseRecorded, "no password-free ACR pulls; give ImageRegistryCredential"},
	{"NtpServer", UseRecorded, "containers use the host's clock"},
	{"ImageAccelerateMode", UseRecorded, "images are pulled whole"},
	{"Ipv6GatewayBandwidthEnable", UseRecorded, "no IPv6 gateway"},
	{"Ipv6GatewayBandwidth", UseRecorded, "no IPv6 gateway"},
	{"ContainerResourceView", UseRecorded, "/proc inside a container shows the host's resources"},
	{"FixedIp", UseRecorded, "a group's address lives as long as the group; see PrivateIpAddress"},
	{"FixedIpRetainHour", UseRecorded, "a group's address lives as long as the group"},
	{"DataCacheBucket", UseRecorded, "no data caches"},
	{"DataCachePL", UseRecorded, "no data caches"},
	{"DataCacheProvisionedIops", UseRecorded, "no data caches"},
	{"DataCacheBurstingEnabled", UseRecorded, "no data caches"},
	{"PrivateIpAddress", UseAnalogy, "the group's address on leci's network, given by host-local (its ips capability); an address outside the subnet is refused (InvalidParameter), one another group has too (PrivateIpAddress.Already.InUse), both at create"},
	{"OsType", UseAnalogy, "Linux is what leci runs; Windows is refused"},
	{"CpuArchitecture", UseAnalogy, "must be the host's architecture; another is refused (leci uses no binfmt or qemu emulation)"},
	{"ComputeCategory", UseRecorded, "one host, one kind of compute; kept for the Describe filter"},
	{"GpuDriverVersion", UseRecorded, "the host's driver is the one there is"},
	{"MaxPendingMinute", UseRecorded, "a group is never pending for stock"},
	{"OwnerAccount", UseRecorded, "no accounts"},
	{"OwnerId", UseRecorded, "no accounts"},
	{"ResourceOwnerAccount", UseRecorded, "no accounts"},
	{"ResourceOwnerId", UseRecorded, "no accounts"},
	{"Container.N.Gpu", UseAnalogy, "N whole CDI devices of the kind `--gpu-kind` (default nvidia.com/gpu) from the specs in `--cdi-spec-dir` (default /etc/cdi, /var/run/cdi), held by the group from create until it is deleted; more than are free is refused at create (OperationDenied.NoStock)"},
	{"InitContainer.N.Gpu", UseAnalogy, "the first devices of the group's (an init container runs alone)"},
}

var listIndex = lazyRegexp(`\.[0-9]+\.`)

// cloudField returns the table's entry of a wire path.
func cloudField(path string) (CloudField, bool) {
	name := listIndex().ReplaceAllString(path, ".N.")
	for _, f := range CloudFields {
		if f.Name == name {
			return f, true
		}
	}
	return CloudField{}, false
}

// NotAppliedLocally lists, by wire path, the parameters of the request
// that are set but only recorded (UseRecorded): leci keeps and echoes them
// but does nothing with them, and says so instead of dropping them
// silently. SpotStrategy NoSpot is not listed: it is what a local group is.
func (r *CreateContainerGroupRequest) NotAppliedLocally() []CloudField {
	var out []CloudField
	cloudFields(&out, "", reflect.ValueOf(r).Elem())
	return out
}

func cloudFields(out *[]CloudField, path string, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf, fv := t.Field(i), v.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			cloudFields(out, path, fv)
			continue
		}
		name := join(path, wireName(sf))
		if tag := sf.Tag.Get("leci"); tag == "cloud" || tag == "recorded" {
			f, known := cloudField(name)
			if !known {
				f = CloudField{Use: UseRecorded, How: "only meaningful in Alibaba Cloud"}
			}
			if f.Use == UseRecorded && !fv.IsZero() && !(name == "SpotStrategy" && fv.String() == "NoSpot") {
				f.Name = name
				*out = append(*out, f)
			}
			continue
		}
		// Cloud-only parameters of containers are found inside the lists.
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			for j := 0; j < fv.Len(); j++ {
				cloudFields(out, name+"."+strconv.Itoa(j+1), fv.Index(j))
			}
		}
	}
}

// Normalize applies the defaults and validates: what every caller that takes
// a request does before anything else.
func (r *CreateContainerGroupRequest) Normalize() error {
	r.SetDefaults()
	return r.Validate()
}

// NotAppliedMessage is what leci says of a parameter it records without
// applying: the NOTE of `leci validate` and the message of the group's
// FieldNotApplied warning event.
func NotAppliedMessage(f CloudField) string {
	return f.Name + ": recorded, not applied: " + f.How
}
