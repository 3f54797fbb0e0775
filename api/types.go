package api

// The request types below carry every parameter of CreateContainerGroup. Their
// JSON names are the wire names; Go names follow Go conventions. Fields tagged
// `leci:"cloud"` only mean something in Alibaba Cloud: they are accepted,
// validated, stored and echoed back, and NotAppliedLocally lists them when set
// (unless CloudFields says how leci applies them). Fields tagged
// `leci:"recorded"` have a local meaning that leci does not apply yet, and
// are listed alike.
//
// Pointers mark the fields whose zero value differs from "not given" (a
// TerminationGracePeriodSeconds of 0 kills at once, a RunAsUser of 0 is root).

// CreateContainerGroupRequest is the request of the CreateContainerGroup action.
type CreateContainerGroupRequest struct {
	RegionID           string `json:"RegionId,omitempty"`
	ContainerGroupName string `json:"ContainerGroupName,omitempty"`

	Container     []Container     `json:"Container,omitempty"`
	InitContainer []InitContainer `json:"InitContainer,omitempty"`
	Volume        []Volume        `json:"Volume,omitempty"`

	RestartPolicy                 string  `json:"RestartPolicy,omitempty"`
	Cpu                           float64 `json:"Cpu,omitempty"`
	Memory                        float64 `json:"Memory,omitempty"`
	TerminationGracePeriodSeconds *int64  `json:"TerminationGracePeriodSeconds,omitempty"`
	ActiveDeadlineSeconds         int64   `json:"ActiveDeadlineSeconds,omitempty"`
	ShareProcessNamespace         bool    `json:"ShareProcessNamespace,omitempty"`
	ClientToken                   string  `json:"ClientToken,omitempty"`
	DryRun                        bool    `json:"DryRun,omitempty"`
	Tag                           []Tag   `json:"Tag,omitempty"`

	// Images.
	ImageRegistryCredential []ImageRegistryCredential `json:"ImageRegistryCredential,omitempty"`
	PlainHTTPRegistry       string                    `json:"PlainHttpRegistry,omitempty"`
	InsecureRegistry        string                    `json:"InsecureRegistry,omitempty"`

	// Network and names.
	HostName         string       `json:"HostName,omitempty"`
	DNSPolicy        string       `json:"DnsPolicy,omitempty"`
	DNSConfig        *DNSConfig   `json:"DnsConfig,omitempty"`
	HostAliase       []HostAliase `json:"HostAliase,omitempty"`
	IngressBandwidth int64        `json:"IngressBandwidth,omitempty"`
	EgressBandwidth  int64        `json:"EgressBandwidth,omitempty"`
	Ipv6AddressCount int          `json:"Ipv6AddressCount,omitempty"`

	// Sysctls: safe ones per group, unsafe ones on the host's behalf.
	SecurityContext     *PodSecurityContext  `json:"SecurityContext,omitempty"`
	HostSecurityContext *HostSecurityContext `json:"HostSecurityContext,omitempty"`

	// Only meaningful in Alibaba Cloud.
	ZoneID                     string            `json:"ZoneId,omitempty" leci:"cloud"`
	SecurityGroupID            string            `json:"SecurityGroupId,omitempty" leci:"cloud"`
	VSwitchID                  string            `json:"VSwitchId,omitempty" leci:"cloud"`
	EipInstanceID              string            `json:"EipInstanceId,omitempty" leci:"cloud"`
	ResourceGroupID            string            `json:"ResourceGroupId,omitempty" leci:"cloud"`
	InstanceType               string            `json:"InstanceType,omitempty" leci:"cloud"`
	ImageSnapshotID            string            `json:"ImageSnapshotId,omitempty" leci:"cloud"`
	RAMRoleName                string            `json:"RamRoleName,omitempty" leci:"cloud"`
	AutoMatchImageCache        bool              `json:"AutoMatchImageCache,omitempty" leci:"cloud"`
	SpotStrategy               string            `json:"SpotStrategy,omitempty" leci:"cloud"`
	SpotPriceLimit             float64           `json:"SpotPriceLimit,omitempty" leci:"cloud"`
	SpotDuration               *int64            `json:"SpotDuration,omitempty" leci:"cloud"`
	StrictSpot                 bool              `json:"StrictSpot,omitempty" leci:"cloud"`
	ScheduleStrategy           string            `json:"ScheduleStrategy,omitempty" leci:"cloud"`
	CorePattern                string            `json:"CorePattern,omitempty" leci:"cloud"`
	AutoCreateEip              bool              `json:"AutoCreateEip,omitempty" leci:"cloud"`
	EipBandwidth               int               `json:"EipBandwidth,omitempty" leci:"cloud"`
	EipISP                     string            `json:"EipISP,omitempty" leci:"cloud"`
	EipCommonBandwidthPackage  string            `json:"EipCommonBandwidthPackage,omitempty" leci:"cloud"`
	CPUOptionsCore             int               `json:"CpuOptionsCore,omitempty" leci:"cloud"`
	CPUOptionsThreadsPerCore   int               `json:"CpuOptionsThreadsPerCore,omitempty" leci:"cloud"`
	CPUOptionsNuma             string            `json:"CpuOptionsNuma,omitempty" leci:"cloud"`
	EphemeralStorage           int               `json:"EphemeralStorage,omitempty" leci:"cloud"`
	AcrRegistryInfo            []AcrRegistryInfo `json:"AcrRegistryInfo,omitempty" leci:"cloud"`
	NtpServer                  []string          `json:"NtpServer,omitempty" leci:"cloud"`
	ImageAccelerateMode        string            `json:"ImageAccelerateMode,omitempty" leci:"cloud"`
	Ipv6GatewayBandwidthEnable bool              `json:"Ipv6GatewayBandwidthEnable,omitempty" leci:"cloud"`
	Ipv6GatewayBandwidth       string            `json:"Ipv6GatewayBandwidth,omitempty" leci:"cloud"`
	ContainerResourceView      bool              `json:"ContainerResourceView,omitempty" leci:"cloud"`
	FixedIP                    string            `json:"FixedIp,omitempty" leci:"cloud"`
	FixedIPRetainHour          int               `json:"FixedIpRetainHour,omitempty" leci:"cloud"`
	DataCacheBucket            string            `json:"DataCacheBucket,omitempty" leci:"cloud"`
	DataCachePL                string            `json:"DataCachePL,omitempty" leci:"cloud"`
	DataCacheProvisionedIops   int64             `json:"DataCacheProvisionedIops,omitempty" leci:"cloud"`
	DataCacheBurstingEnabled   bool              `json:"DataCacheBurstingEnabled,omitempty" leci:"cloud"`
	PrivateIPAddress           string            `json:"PrivateIpAddress,omitempty" leci:"cloud"`
	OsType                     string            `json:"OsType,omitempty" leci:"cloud"`
	CPUArchitecture            string            `json:"CpuArchitecture,omitempty" leci:"cloud"`
	ComputeCategory            []string          `json:"ComputeCategory,omitempty" leci:"cloud"`
	GpuDriverVersion           string            `json:"GpuDriverVersion,omitempty" leci:"cloud"`
	MaxPendingMinute           int               `json:"MaxPendingMinute,omitempty" leci:"cloud"`
	OwnerAccount               string            `json:"OwnerAccount,omitempty" leci:"cloud"`
	OwnerID                    int64             `json:"OwnerId,omitempty" leci:"cloud"`
	ResourceOwnerAccount       string            `json:"ResourceOwnerAccount,omitempty" leci:"cloud"`
	ResourceOwnerID            int64             `json:"ResourceOwnerId,omitempty" leci:"cloud"`
}

// CreateContainerGroupResponse is the answer of CreateContainerGroup.
type CreateContainerGroupResponse struct {
	RequestID        string `json:"RequestId"`
	ContainerGroupID string `json:"ContainerGroupId"`
}

// ContainerCommon holds what app and init containers share.
type ContainerCommon struct {
	Name                     string                    `json:"Name,omitempty"`
	Image                    string                    `json:"Image,omitempty"`
	ImagePullPolicy          string                    `json:"ImagePullPolicy,omitempty"`
	Command                  []string                  `json:"Command,omitempty"`
	Arg                      []string                  `json:"Arg,omitempty"`
	WorkingDir               string                    `json:"WorkingDir,omitempty"`
	Cpu                      float64                   `json:"Cpu,omitempty"`
	Memory                   float64                   `json:"Memory,omitempty"`
	Gpu                      int                       `json:"Gpu,omitempty" leci:"cloud"`
	EnvironmentVar           []EnvironmentVar          `json:"EnvironmentVar,omitempty"`
	Port                     []Port                    `json:"Port,omitempty"`
	VolumeMount              []VolumeMount             `json:"VolumeMount,omitempty"`
	SecurityContext          *ContainerSecurityContext `json:"SecurityContext,omitempty"`
	TerminationMessagePath   string                    `json:"TerminationMessagePath,omitempty"`
	TerminationMessagePolicy string                    `json:"TerminationMessagePolicy,omitempty"`
}

// InitContainer runs to completion, in order, before the app containers start.
type InitContainer struct {
	ContainerCommon
}

// Container is an app container of the group.
type Container struct {
	ContainerCommon

	ReadinessProbe              *Probe `json:"ReadinessProbe,omitempty"`
	LivenessProbe               *Probe `json:"LivenessProbe,omitempty"`
	EnvironmentVarHide          bool   `json:"EnvironmentVarHide,omitempty"`
	SecurityContextPrivileged   bool   `json:"SecurityContextPrivileged,omitempty"`
	SecurityContextRunAsGroup   *int64 `json:"SecurityContextRunAsGroup,omitempty"`
	SecurityContextRunAsNonRoot bool   `json:"SecurityContextRunAsNonRoot,omitempty"`
	Stdin                       bool   `json:"Stdin,omitempty"`
	StdinOnce                   bool   `json:"StdinOnce,omitempty"`
	Tty                         bool   `json:"Tty,omitempty"`

	// The lifecycle hooks are flat on the wire; PostStart and PreStop give
	// them as Handler values.
	LifecyclePostStartHandlerExec              []string     `json:"LifecyclePostStartHandlerExec,omitempty"`
	LifecyclePostStartHandlerHTTPGetHost       string       `json:"LifecyclePostStartHandlerHttpGetHost,omitempty"`
	LifecyclePostStartHandlerHTTPGetPort       int          `json:"LifecyclePostStartHandlerHttpGetPort,omitempty"`
	LifecyclePostStartHandlerHTTPGetPath       string       `json:"LifecyclePostStartHandlerHttpGetPath,omitempty"`
	LifecyclePostStartHandlerHTTPGetScheme     string       `json:"LifecyclePostStartHandlerHttpGetScheme,omitempty"`
	LifecyclePostStartHandlerHTTPGetHTTPHeader []HTTPHeader `json:"LifecyclePostStartHandlerHttpGetHttpHeader,omitempty"`
	LifecyclePostStartHandlerTCPSocketHost     string       `json:"LifecyclePostStartHandlerTcpSocketHost,omitempty"`
	LifecyclePostStartHandlerTCPSocketPort     int          `json:"LifecyclePostStartHandlerTcpSocketPort,omitempty"`
	LifecyclePreStopHandlerExec                []string     `json:"LifecyclePreStopHandlerExec,omitempty"`
	LifecyclePreStopHandlerHTTPGetHost         string       `json:"LifecyclePreStopHandlerHttpGetHost,omitempty"`
	LifecyclePreStopHandlerHTTPGetPort         int          `json:"LifecyclePreStopHandlerHttpGetPort,omitempty"`
	LifecyclePreStopHandlerHTTPGetPath         string       `json:"LifecyclePreStopHandlerHttpGetPath,omitempty"`
	LifecyclePreStopHandlerHTTPGetScheme       string       `json:"LifecyclePreStopHandlerHttpGetScheme,omitempty"`
	LifecyclePreStopHandlerHTTPGetHTTPHeader   []HTTPHeader `json:"LifecyclePreStopHandlerHttpGetHttpHeader,omitempty"`
	LifecyclePreStopHandlerTCPSocketHost       string       `json:"LifecyclePreStopHandlerTcpSocketHost,omitempty"`
	LifecyclePreStopHandlerTCPSocketPort       int          `json:"LifecyclePreStopHandlerTcpSocketPort,omitempty"`
}

// EnvironmentVar is one variable: a Value, or a FieldRef resolved at start.
type EnvironmentVar struct {
	Key      string    `json:"Key,omitempty"`
	Value    string    `json:"Value,omitempty"`
	FieldRef *FieldRef `json:"FieldRef,omitempty"`
}

// FieldRef names a field of the group; only status.podIP exists.
type FieldRef struct {
	FieldPath string `json:"FieldPath,omitempty"`
}

// Port declares a port a container listens on.
type Port struct {
	Port     int    `json:"Port,omitempty"`
	Protocol string `json:"Protocol,omitempty"`
}

// VolumeMount mounts a volume of the group into a container.
type VolumeMount struct {
	Name             string `json:"Name,omitempty"`
	MountPath        string `json:"MountPath,omitempty"`
	ReadOnly         bool   `json:"ReadOnly,omitempty"`
	SubPath          string `json:"SubPath,omitempty"`
	MountPropagation string `json:"MountPropagation,omitempty"`
}

// Probe is a liveness or readiness probe: exactly one of Exec, HttpGet and
// TcpSocket.
type Probe struct {
	Exec                *ExecAction     `json:"Exec,omitempty"`
	HTTPGet             *ProbeHTTPGet   `json:"HttpGet,omitempty"`
	TCPSocket           *ProbeTCPSocket `json:"TcpSocket,omitempty"`
	InitialDelaySeconds int             `json:"InitialDelaySeconds,omitempty"`
	PeriodSeconds       int             `json:"PeriodSeconds,omitempty"`
	TimeoutSeconds      int             `json:"TimeoutSeconds,omitempty"`
	SuccessThreshold    int             `json:"SuccessThreshold,omitempty"`
	FailureThreshold    int             `json:"FailureThreshold,omitempty"`
}

// ExecAction runs a command in the container.
type ExecAction struct {
	Command []string `json:"Command,omitempty"`
}

// ProbeHTTPGet probes with a GET to the container's address.
type ProbeHTTPGet struct {
	Path   string `json:"Path,omitempty"`
	Port   int    `json:"Port,omitempty"`
	Scheme string `json:"Scheme,omitempty"`
}

// ProbeTCPSocket probes by opening a TCP connection to the container's address.
type ProbeTCPSocket struct {
	Port int `json:"Port,omitempty"`
}

// HTTPHeader is one header of an HTTP hook.
type HTTPHeader struct {
	Name  string `json:"Name,omitempty"`
	Value string `json:"Value,omitempty"`
}

// ContainerSecurityContext is the container's dotted SecurityContext.* object.
type ContainerSecurityContext struct {
	Capability             *Capability `json:"Capability,omitempty"`
	ReadOnlyRootFilesystem bool        `json:"ReadOnlyRootFilesystem,omitempty"`
	RunAsUser              *int64      `json:"RunAsUser,omitempty"`
}

// Capability lists capabilities added to the container's default set.
type Capability struct {
	Add []string `json:"Add,omitempty"`
}

// Volume is a volume of the group: Type names which one of the sub-objects
// describes it (EmptyDirVolume needs none).
type Volume struct {
	Name             string            `json:"Name,omitempty"`
	Type             string            `json:"Type,omitempty"`
	EmptyDirVolume   *EmptyDirVolume   `json:"EmptyDirVolume,omitempty"`
	ConfigFileVolume *ConfigFileVolume `json:"ConfigFileVolume,omitempty"`
	HostPathVolume   *HostPathVolume   `json:"HostPathVolume,omitempty"`
	NFSVolume        *NFSVolume        `json:"NFSVolume,omitempty"`
	DiskVolume       *DiskVolume       `json:"DiskVolume,omitempty"`
	FlexVolume       *FlexVolume       `json:"FlexVolume,omitempty"`
}

// EmptyDirVolume is a scratch directory living as long as the group. SizeLimit
// is in GiB ("2", "0.5"); a unit suffix (Mi, Gi, ...) is accepted too.
type EmptyDirVolume struct {
	Medium    string `json:"Medium,omitempty"`
	SizeLimit string `json:"SizeLimit,omitempty"`
}

// ConfigFileVolume is a set of files given inline, base64-encoded.
type ConfigFileVolume struct {
	DefaultMode      *FileMode          `json:"DefaultMode,omitempty"`
	ConfigFileToPath []ConfigFileToPath `json:"ConfigFileToPath,omitempty"`
}

// ConfigFileToPath is one file of a ConfigFileVolume.
type ConfigFileToPath struct {
	Path    string    `json:"Path,omitempty"`
	Content string    `json:"Content,omitempty"`
	Mode    *FileMode `json:"Mode,omitempty"`
}

// HostPathVolume is a file or directory of the host.
type HostPathVolume struct {
	Path string `json:"Path,omitempty"`
	Type string `json:"Type,omitempty"`
}

// NFSVolume is an NFS export mounted with the kernel client.
type NFSVolume struct {
	Server   string `json:"Server,omitempty"`
	Path     string `json:"Path,omitempty"`
	ReadOnly bool   `json:"ReadOnly,omitempty"`
}

// DiskVolume is an Alibaba Cloud disk.
type DiskVolume struct {
	DiskID   string `json:"DiskId,omitempty"`
	DiskSize int    `json:"DiskSize,omitempty"`
	FsType   string `json:"FsType,omitempty"`
}

// FlexVolume is storage mounted by an Alibaba Cloud FlexVolume driver.
type FlexVolume struct {
	Driver  string `json:"Driver,omitempty"`
	FsType  string `json:"FsType,omitempty"`
	Options string `json:"Options,omitempty"`
}

// Tag is a key/value label of the group.
type Tag struct {
	Key   string `json:"Key,omitempty"`
	Value string `json:"Value,omitempty"`
}

// ImageRegistryCredential is a login for one registry host.
type ImageRegistryCredential struct {
	Server   string `json:"Server,omitempty"`
	UserName string `json:"UserName,omitempty"`
	Password string `json:"Password,omitempty"`
}

// DNSConfig is the group's resolv.conf when DnsPolicy is None (and additions
// otherwise).
type DNSConfig struct {
	NameServer []string    `json:"NameServer,omitempty"`
	Search     []string    `json:"Search,omitempty"`
	Option     []DNSOption `json:"Option,omitempty"`
}

// DNSOption is one resolv.conf option, e.g. ndots:2.
type DNSOption struct {
	Name  string `json:"Name,omitempty"`
	Value string `json:"Value,omitempty"`
}

// HostAliase adds a line to the group's /etc/hosts.
type HostAliase struct {
	IP       string   `json:"Ip,omitempty"`
	Hostname []string `json:"Hostname,omitempty"`
}

// Sysctl is one kernel parameter.
type Sysctl struct {
	Name  string `json:"Name,omitempty"`
	Value string `json:"Value,omitempty"`
}

// PodSecurityContext holds the safe sysctls of the group.
type PodSecurityContext struct {
	Sysctl []Sysctl `json:"Sysctl,omitempty"`
}

// HostSecurityContext holds the unsafe (namespaced, but not isolated by
// default) sysctls of the group.
type HostSecurityContext struct {
	Sysctl []Sysctl `json:"Sysctl,omitempty"`
}

// AcrRegistryInfo names an ACR Enterprise Edition instance for password-free pulls.
type AcrRegistryInfo struct {
	ArnService   string   `json:"ArnService,omitempty"`
	ArnUser      string   `json:"ArnUser,omitempty"`
	Domain       []string `json:"Domain,omitempty"`
	InstanceID   string   `json:"InstanceId,omitempty"`
	InstanceName string   `json:"InstanceName,omitempty"`
	RegionID     string   `json:"RegionId,omitempty"`
}
