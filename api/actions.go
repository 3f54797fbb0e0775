package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// This file holds the request and response types of the actions leci serves
// besides CreateContainerGroup. JSON names are the wire names exactly, including
// the odd ones (lower-case "uuid" and "involvedObject"); Go names follow Go
// conventions, spelled as in types.go (Cpu, Gpu, DNSConfig).
//
// Sources. DescribeContainerGroups, DeleteContainerGroup, RestartContainerGroup,
// DescribeContainerLog, ExecContainerCommand and DescribeContainerGroupEvents
// follow shared/reference/wire-protocol.md and wire-captures/ (the response of
// DescribeContainerGroups field for field, from describe-response-fields.txt).
// DescribeContainerGroupStatus and DescribeContainerGroupMetric were never
// captured: their shapes are those of the model structs of the official tea SDK
// github.com/alibabacloud-go/eci-20180808/v3 v3.1.1 (client/client.go,
// DescribeContainerGroupStatusResponseBody* and
// DescribeContainerGroupMetricResponseBody*), which is what the SDK decodes, and
// which agree with ECI's public API reference for both actions.
//
// Response policy, chosen for the tea SDK. The SDK ignores unknown fields and
// accepts absent ones, but every field it declares is a pointer, so a caller
// that writes *g.IntranetIp (rather than tea.StringValue) panics on an absent
// field, and TypeScript callers that write body.containerGroups.map(...) crash on
// an absent list. Real ECI sends complete objects. So:
//   - scalars are always sent, zero values included (no omitempty);
//   - lists are JSONList and always sent, [] when empty, never null (null also
//     decodes, but [] is what every SDK language iterates without a check);
//   - sub-objects that always exist (CurrentState, DnsConfig, PodStatus, the
//     metric blocks) are values and always sent;
//   - sub-objects whose absence means "not configured" (probes and their
//     HttpGet/TcpSocket, a container's SecurityContext, an env var's ValueFrom,
//     the Running/Terminated/Waiting variants of a pod container state) are
//     pointers with omitempty, because a zero object there would claim a probe,
//     a RunAsUser of 0 (root) or a state that does not exist.
//
// Request policy, as in types.go: fields are tagged omitempty, and pointers mark
// the fields whose zero value differs from "not given" (Tail, Stdin, WithEvent).

// JSONList is a list in a response. It always marshals as a JSON array: a nil
// or empty list becomes [] rather than null (see the response policy above),
// so handlers need not remember to allocate empty slices. A plain []T is
// assignable to it, and it decodes like any slice.
type JSONList[T any] []T

// MarshalJSON writes the list, and [] for a nil list.
func (l JSONList[T]) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]T(l))
}

// GroupStatus is the status of a container group, as DescribeContainerGroups,
// DescribeContainerGroupStatus and the Status filter of DescribeContainerGroups
// spell it.
type GroupStatus string

// The group statuses ECI documents.
const (
	GroupPending        GroupStatus = "Pending"        // being started
	GroupRunning        GroupStatus = "Running"        // running
	GroupSucceeded      GroupStatus = "Succeeded"      // every container exited 0 and none restarts
	GroupFailed         GroupStatus = "Failed"         // a container failed and none restarts
	GroupScheduling     GroupStatus = "Scheduling"     // being created
	GroupScheduleFailed GroupStatus = "ScheduleFailed" // creation failed
	GroupRestarting     GroupStatus = "Restarting"     // RestartContainerGroup in progress
	GroupUpdating       GroupStatus = "Updating"       // UpdateContainerGroup in progress
	GroupTerminating    GroupStatus = "Terminating"    // DeleteContainerGroup in progress
	GroupExpired        GroupStatus = "Expired"        // spot instance reclaimed
)

// Known reports whether s is one of the documented statuses, so that a Status
// filter with a typo can be refused instead of silently matching nothing.
func (s GroupStatus) Known() bool {
	switch s {
	case GroupPending, GroupRunning, GroupSucceeded, GroupFailed, GroupScheduling,
		GroupScheduleFailed, GroupRestarting, GroupUpdating, GroupTerminating, GroupExpired:
		return true
	}
	return false
}

// ContainerStateName is the State of a ContainerState in DescribeContainerGroups.
type ContainerStateName string

// The container states ECI documents.
const (
	StateWaiting    ContainerStateName = "Waiting"
	StateRunning    ContainerStateName = "Running"
	StateTerminated ContainerStateName = "Terminated"
)

// Known reports whether s is one of the documented container states.
func (s ContainerStateName) Known() bool {
	return s == StateWaiting || s == StateRunning || s == StateTerminated
}

// Limits ECI documents for the list-in-a-string parameters.
const (
	// MaxContainerGroupIDs is the most IDs ContainerGroupIds may hold, in
	// DescribeContainerGroups, DescribeContainerGroupStatus and
	// DescribeContainerGroupEvents.
	MaxContainerGroupIDs = 20
	// MaxExecCommandArgs and MaxExecCommandArgLen bound the Command of
	// ExecContainerCommand: "up to 20 commands, each up to 256 characters".
	MaxExecCommandArgs   = 20
	MaxExecCommandArgLen = 256
)

// Page sizes ECI documents: used when Limit is 0 (not given).
const (
	DescribeGroupsLimitDefault = 20 // also the maximum of DescribeContainerGroups
	DescribeGroupsLimitMax     = 20
	StatusLimitDefault         = 200 // DescribeContainerGroupStatus
	EventsLimitDefault         = 200 // DescribeContainerGroupEvents
)

// Log limits of DescribeContainerLog, as ECI documents them.
const (
	LogTailDefault   = 500
	LogTailMax       = 2000
	LogLimitBytesMax = 1 << 20 // 1 MiB; also the most a response carries
)

// MetricPeriodDefault is the Period of DescribeContainerGroupMetric when it is
// not given; ECI accepts 15, 30, 60 and 600.
const MetricPeriodDefault = 60

// Event sources of DescribeContainerGroupEvents (EventSource; empty means all).
const (
	EventSourceEciService = "EciService"
	EventSourceK8sAgent   = "K8sAgent"
)

// parseStringList parses a parameter that carries a JSON array of strings in
// one query value (ContainerGroupIds, the exec Command). An empty or blank value
// and JSON null are "not given": nil, nil. The errors are always invalid-
// parameter problems; their text leaves out the parameter name so that the
// caller can prefix its own wire path.
func parseStringList(raw string, maxItems, maxItemLen int) ([]string, error) {
	if strings.TrimSpace(raw) == "" {
		return nil, nil
	}
	var items []string
	if err := json.Unmarshal([]byte(raw), &items); err != nil {
		// A bare eci-xxx is the usual mistake: say what the format is.
		return nil, fmt.Errorf(`must be a JSON array of strings such as ["a","b"], got %q`, raw)
	}
	if maxItems > 0 && len(items) > maxItems {
		return nil, fmt.Errorf("holds %d items, at most %d are allowed", len(items), maxItems)
	}
	for i, s := range items {
		if s == "" {
			return nil, fmt.Errorf("item %d is empty", i+1)
		}
		if maxItemLen > 0 && utf8.RuneCountInString(s) > maxItemLen {
			return nil, fmt.Errorf("item %d is %d characters long, at most %d are allowed",
				i+1, utf8.RuneCountInString(s), maxItemLen)
		}
	}
	return items, nil
}

// parseGroupIDs is ContainerGroupIds of the three Describe actions.
func parseGroupIDs(raw string) ([]string, error) {
	return parseStringList(raw, MaxContainerGroupIDs, 0)
}

// TagFilter is a Tag.N.Key / Tag.N.Value filter of the Describe actions: a group
// matches when it carries every listed tag (a filter with an empty Value
// matches any value of that key).
type TagFilter struct {
	Key   string `json:"Key,omitempty"`
	Value string `json:"Value,omitempty"`
}

// ---------------------------------------------------------------------------
// DescribeContainerGroups

// DescribeContainerGroupsRequest is the request of DescribeContainerGroups.
// Captured (tea v3): ContainerGroupIds=["eci-…"]&Limit=20&RegionId=…&Tag.1.Key=app&Tag.1.Value=web.
// Every filter that is given must match.
type DescribeContainerGroupsRequest struct {
	RegionID string `json:"RegionId,omitempty"`
	// ContainerGroupIDs is a JSON array inside one string; use IDs.
	ContainerGroupIDs  string      `json:"ContainerGroupIds,omitempty"`
	ContainerGroupName string      `json:"ContainerGroupName,omitempty"`
	Status             GroupStatus `json:"Status,omitempty"`
	Tag                []TagFilter `json:"Tag,omitempty"`
	// Limit is the page size: 0 means DescribeGroupsLimitDefault, at most
	// DescribeGroupsLimitMax.
	Limit     int    `json:"Limit,omitempty"`
	NextToken string `json:"NextToken,omitempty"`
	// WithEvent asks for the Events of each group. ECI does not document its
	// default; unset means true (see IncludeEvents), as callers written before
	// the parameter existed read Events.
	WithEvent *bool `json:"WithEvent,omitempty"`

	// Filters on the stored values of cloud-only parameters.
	ZoneID          string `json:"ZoneId,omitempty"`
	VSwitchID       string `json:"VSwitchId,omitempty"`
	SecurityGroupID string `json:"SecurityGroupId,omitempty"`
	ResourceGroupID string `json:"ResourceGroupId,omitempty"`
	// ComputeCategory is one value here (economy|general), unlike the list of
	// CreateContainerGroup.
	ComputeCategory string `json:"ComputeCategory,omitempty"`
}

// IDs parses ContainerGroupIds: nil when not given.
func (r DescribeContainerGroupsRequest) IDs() ([]string, error) {
	return parseGroupIDs(r.ContainerGroupIDs)
}

// IncludeEvents is WithEvent with its default (true) applied.
func (r DescribeContainerGroupsRequest) IncludeEvents() bool {
	return r.WithEvent == nil || *r.WithEvent
}

// DescribeContainerGroupsResponse is the answer of DescribeContainerGroups. Its
// fields, down to the leaves, are exactly those of
// wire-captures/describe-response-fields.txt (a test holds them to it).
type DescribeContainerGroupsResponse struct {
	RequestID  string `json:"RequestId"`
	TotalCount int    `json:"TotalCount"`
	// NextToken is empty on the last page.
	NextToken       string                         `json:"NextToken"`
	ContainerGroups JSONList[ContainerGroupDetail] `json:"ContainerGroups"`
}

// ContainerGroupDetail is one group in DescribeContainerGroups.
type ContainerGroupDetail struct {
	ContainerGroupID   string      `json:"ContainerGroupId"`
	ContainerGroupName string      `json:"ContainerGroupName"`
	RegionID           string      `json:"RegionId"`
	ZoneID             string      `json:"ZoneId"`
	Status             GroupStatus `json:"Status"`

	// Cpu (cores) and Memory (GiB) of the group.
	Cpu    float64 `json:"Cpu"`
	Memory float64 `json:"Memory"`
	// EphemeralStorage is in GiB.
	EphemeralStorage int `json:"EphemeralStorage"`

	IntranetIP  string `json:"IntranetIp"`
	InternetIP  string `json:"InternetIp"`
	Ipv6Address string `json:"Ipv6Address"`

	// Times are RFC 3339 UTC (2006-01-02T15:04:05Z); empty when not reached.
	CreationTime  string `json:"CreationTime"`
	SucceededTime string `json:"SucceededTime"`
	FailedTime    string `json:"FailedTime"`
	ExpiredTime   string `json:"ExpiredTime"`

	RestartPolicy string `json:"RestartPolicy"`
	DNSPolicy     string `json:"DnsPolicy"`

	InstanceType          string  `json:"InstanceType"`
	VSwitchID             string  `json:"VSwitchId"`
	SecurityGroupID       string  `json:"SecurityGroupId"`
	VpcID                 string  `json:"VpcId"`
	EniInstanceID         string  `json:"EniInstanceId"`
	ResourceGroupID       string  `json:"ResourceGroupId"`
	ComputeCategory       string  `json:"ComputeCategory"`
	SpotStrategy          string  `json:"SpotStrategy"`
	SpotPriceLimit        float64 `json:"SpotPriceLimit"`
	Discount              int     `json:"Discount"`
	RAMRoleName           string  `json:"RamRoleName"`
	TenantEniInstanceID   string  `json:"TenantEniInstanceId"`
	TenantEniIP           string  `json:"TenantEniIp"`
	TenantSecurityGroupID string  `json:"TenantSecurityGroupId"`
	TenantVSwitchID       string  `json:"TenantVSwitchId"`

	Tags               JSONList[TagDetail]       `json:"Tags"`
	HostAliases        JSONList[HostAliasDetail] `json:"HostAliases"`
	DNSConfig          DnsConfigDetail           `json:"DnsConfig"`
	EciSecurityContext EciSecurityContextDetail  `json:"EciSecurityContext"`

	Events         JSONList[EventDetail]         `json:"Events"`
	Volumes        JSONList[VolumeDetail]        `json:"Volumes"`
	Containers     JSONList[ContainerDetail]     `json:"Containers"`
	InitContainers JSONList[InitContainerDetail] `json:"InitContainers"`
}

// TagDetail is a tag of a group in DescribeContainerGroups (Tags[]).
type TagDetail struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

// HostAliasDetail is an /etc/hosts entry in DescribeContainerGroups
// (HostAliases[]; the request spells it HostAliase.N.Ip/Hostname.M).
type HostAliasDetail struct {
	IP        string           `json:"Ip"`
	Hostnames JSONList[string] `json:"Hostnames"`
}

// DnsConfigDetail is the DnsConfig of a group in DescribeContainerGroups, with
// the plural names of the response (NameServers, Searches, Options).
type DnsConfigDetail struct {
	NameServers JSONList[string]          `json:"NameServers"`
	Searches    JSONList[string]          `json:"Searches"`
	Options     JSONList[DnsOptionDetail] `json:"Options"`
}

// DnsOptionDetail is a resolver option of DnsConfigDetail (ndots:2).
type DnsOptionDetail struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// EciSecurityContextDetail is the group security context in
// DescribeContainerGroups: the sysctls set on the group.
type EciSecurityContextDetail struct {
	Sysctls JSONList[SysctlDetail] `json:"Sysctls"`
}

// SysctlDetail is one sysctl of EciSecurityContextDetail.
type SysctlDetail struct {
	Name  string `json:"Name"`
	Value string `json:"Value"`
}

// EventDetail is a group event as DescribeContainerGroups embeds it (Events[]).
// DescribeContainerGroupEvents has a richer shape: ContainerGroupEvent.
type EventDetail struct {
	Count int `json:"Count"`
	// Type is Normal or Warning.
	Type    string `json:"Type"`
	Name    string `json:"Name"`
	Reason  string `json:"Reason"`
	Message string `json:"Message"`
	// FirstTimestamp and LastTimestamp are RFC 3339 UTC.
	FirstTimestamp string `json:"FirstTimestamp"`
	LastTimestamp  string `json:"LastTimestamp"`
}

// VolumeDetail is a volume in DescribeContainerGroups (Volumes[]). The response
// flattens the type-specific settings into prefixed names, and has no fields
// for HostPathVolume: such a volume shows only Name and Type.
type VolumeDetail struct {
	Name string `json:"Name"`
	// Type is EmptyDirVolume, ConfigFileVolume, HostPathVolume, NFSVolume,
	// DiskVolume or FlexVolume.
	Type string `json:"Type"`

	ConfigFileVolumeConfigFileToPaths JSONList[ConfigFileToPathDetail] `json:"ConfigFileVolumeConfigFileToPaths"`

	EmptyDirVolumeMedium    string `json:"EmptyDirVolumeMedium"`
	EmptyDirVolumeSizeLimit string `json:"EmptyDirVolumeSizeLimit"`

	NFSVolumeServer   string `json:"NFSVolumeServer"`
	NFSVolumePath     string `json:"NFSVolumePath"`
	NFSVolumeReadOnly bool   `json:"NFSVolumeReadOnly"`

	DiskVolumeDiskID string `json:"DiskVolumeDiskId"`
	DiskVolumeFsType string `json:"DiskVolumeFsType"`

	FlexVolumeDriver string `json:"FlexVolumeDriver"`
	FlexVolumeFsType string `json:"FlexVolumeFsType"`
	// FlexVolumeOptions is the options object as one JSON string.
	FlexVolumeOptions string `json:"FlexVolumeOptions"`
}

// ConfigFileToPathDetail is a file of a ConfigFileVolume in VolumeDetail.
type ConfigFileToPathDetail struct {
	Path string `json:"Path"`
	// Content is base64, as in the request.
	Content string `json:"Content"`
}

// ContainerDetail is an app container in DescribeContainerGroups
// (Containers[]). Names are the response's plurals: Commands (not Command),
// EnvironmentVars, Ports, VolumeMounts.
type ContainerDetail struct {
	Name            string           `json:"Name"`
	Image           string           `json:"Image"`
	ImagePullPolicy string           `json:"ImagePullPolicy"`
	Commands        JSONList[string] `json:"Commands"`
	Args            JSONList[string] `json:"Args"`
	WorkingDir      string           `json:"WorkingDir"`

	Cpu    float64 `json:"Cpu"`
	Memory float64 `json:"Memory"`
	Gpu    int     `json:"Gpu"`

	Stdin     bool `json:"Stdin"`
	StdinOnce bool `json:"StdinOnce"`
	TTY       bool `json:"Tty"`

	Ports           JSONList[PortDetail]           `json:"Ports"`
	EnvironmentVars JSONList[EnvironmentVarDetail] `json:"EnvironmentVars"`
	VolumeMounts    JSONList[VolumeMountDetail]    `json:"VolumeMounts"`

	ReadinessProbe  *ProbeDetail           `json:"ReadinessProbe,omitempty"`
	LivenessProbe   *ProbeDetail           `json:"LivenessProbe,omitempty"`
	SecurityContext *SecurityContextDetail `json:"SecurityContext,omitempty"`

	Ready         bool           `json:"Ready"`
	RestartCount  int            `json:"RestartCount"`
	CurrentState  ContainerState `json:"CurrentState"`
	PreviousState ContainerState `json:"PreviousState"`
}

// InitContainerDetail is an init container in DescribeContainerGroups
// (InitContainers[]). Unlike ContainerDetail its command is Command (singular),
// and it has no probes, no Stdin/StdinOnce/Tty and no SubPath in VolumeMounts.
type InitContainerDetail struct {
	Name            string           `json:"Name"`
	Image           string           `json:"Image"`
	ImagePullPolicy string           `json:"ImagePullPolicy"`
	Command         JSONList[string] `json:"Command"`
	Args            JSONList[string] `json:"Args"`
	WorkingDir      string           `json:"WorkingDir"`

	Cpu    float64 `json:"Cpu"`
	Memory float64 `json:"Memory"`
	Gpu    int     `json:"Gpu"`

	Ports           JSONList[PortDetail]            `json:"Ports"`
	EnvironmentVars JSONList[EnvironmentVarDetail]  `json:"EnvironmentVars"`
	VolumeMounts    JSONList[InitVolumeMountDetail] `json:"VolumeMounts"`

	SecurityContext *SecurityContextDetail `json:"SecurityContext,omitempty"`

	Ready         bool           `json:"Ready"`
	RestartCount  int            `json:"RestartCount"`
	CurrentState  ContainerState `json:"CurrentState"`
	PreviousState ContainerState `json:"PreviousState"`
}

// PortDetail is a container port in DescribeContainerGroups (Ports[]).
type PortDetail struct {
	Port     int    `json:"Port"`
	Protocol string `json:"Protocol"`
}

// EnvironmentVarDetail is an environment variable in DescribeContainerGroups
// (EnvironmentVars[]). A variable set from a field has ValueFrom and no Value.
type EnvironmentVarDetail struct {
	Key       string        `json:"Key"`
	Value     string        `json:"Value"`
	ValueFrom *EnvValueFrom `json:"ValueFrom,omitempty"`
}

// EnvValueFrom is the source of an EnvironmentVarDetail; the request spells it
// EnvironmentVar.N.FieldRef.FieldPath, the response nests it under ValueFrom.
type EnvValueFrom struct {
	FieldRef EnvFieldRef `json:"FieldRef"`
}

// EnvFieldRef names the pod field a variable is taken from (status.podIP).
type EnvFieldRef struct {
	FieldPath string `json:"FieldPath"`
}

// VolumeMountDetail is a mount of an app container in DescribeContainerGroups.
type VolumeMountDetail struct {
	Name             string `json:"Name"`
	MountPath        string `json:"MountPath"`
	ReadOnly         bool   `json:"ReadOnly"`
	SubPath          string `json:"SubPath"`
	MountPropagation string `json:"MountPropagation"`
}

// InitVolumeMountDetail is a mount of an init container in
// DescribeContainerGroups: the response declares no SubPath there.
type InitVolumeMountDetail struct {
	Name             string `json:"Name"`
	MountPath        string `json:"MountPath"`
	ReadOnly         bool   `json:"ReadOnly"`
	MountPropagation string `json:"MountPropagation"`
}

// ProbeDetail is a readiness or liveness probe in DescribeContainerGroups. The
// exec command is Execs (the request's ReadinessProbe.Exec.Command.N). Exactly
// one of Execs, HTTPGet and TCPSocket is set.
type ProbeDetail struct {
	Execs               JSONList[string] `json:"Execs"`
	HTTPGet             *HTTPGetDetail   `json:"HttpGet,omitempty"`
	TCPSocket           *TCPSocketDetail `json:"TcpSocket,omitempty"`
	InitialDelaySeconds int              `json:"InitialDelaySeconds"`
	PeriodSeconds       int              `json:"PeriodSeconds"`
	TimeoutSeconds      int              `json:"TimeoutSeconds"`
	SuccessThreshold    int              `json:"SuccessThreshold"`
	FailureThreshold    int              `json:"FailureThreshold"`
}

// HTTPGetDetail is the HTTP check of a ProbeDetail.
type HTTPGetDetail struct {
	Path   string `json:"Path"`
	Port   int    `json:"Port"`
	Scheme string `json:"Scheme"`
}

// TCPSocketDetail is the TCP check of a ProbeDetail.
type TCPSocketDetail struct {
	Host string `json:"Host"`
	Port int    `json:"Port"`
}

// SecurityContextDetail is a container security context in
// DescribeContainerGroups. The response carries only these three settings.
type SecurityContextDetail struct {
	Capability             CapabilityDetail `json:"Capability"`
	ReadOnlyRootFilesystem bool             `json:"ReadOnlyRootFilesystem"`
	RunAsUser              int64            `json:"RunAsUser"`
}

// CapabilityDetail lists the added Linux capabilities (Adds, the request's
// SecurityContext.Capability.Add.N).
type CapabilityDetail struct {
	Adds JSONList[string] `json:"Adds"`
}

// ContainerState is the CurrentState or PreviousState of a container in
// DescribeContainerGroups. A container that never restarted has a PreviousState
// with an empty State.
type ContainerState struct {
	State ContainerStateName `json:"State"`
	// DetailStatus refines State (e.g. the waiting reason).
	DetailStatus string `json:"DetailStatus"`
	ExitCode     int    `json:"ExitCode"`
	Signal       int    `json:"Signal"`
	// StartTime and FinishTime are RFC 3339 UTC, empty when not reached.
	StartTime  string `json:"StartTime"`
	FinishTime string `json:"FinishTime"`
	Reason     string `json:"Reason"`
	Message    string `json:"Message"`
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupStatus (shape from the tea SDK v3.1.1; not captured)

// DescribeContainerGroupStatusRequest is the request of
// DescribeContainerGroupStatus, a light status poll for many groups.
type DescribeContainerGroupStatusRequest struct {
	RegionID string `json:"RegionId,omitempty"`
	// ContainerGroupIDs is a JSON array inside one string; use IDs.
	ContainerGroupIDs string `json:"ContainerGroupIds,omitempty"`
	// SinceSecond keeps the groups whose status changed in the last N seconds;
	// 0 means no such filter.
	SinceSecond int         `json:"SinceSecond,omitempty"`
	Tag         []TagFilter `json:"Tag,omitempty"`
	// Limit is the page size: 0 means StatusLimitDefault.
	Limit     int    `json:"Limit,omitempty"`
	NextToken string `json:"NextToken,omitempty"`

	ZoneID          string `json:"ZoneId,omitempty"`
	VSwitchID       string `json:"VSwitchId,omitempty"`
	ResourceGroupID string `json:"ResourceGroupId,omitempty"`
}

// IDs parses ContainerGroupIds: nil when not given.
func (r DescribeContainerGroupStatusRequest) IDs() ([]string, error) {
	return parseGroupIDs(r.ContainerGroupIDs)
}

// DescribeContainerGroupStatusResponse is the answer of
// DescribeContainerGroupStatus.
type DescribeContainerGroupStatusResponse struct {
	RequestID  string                             `json:"RequestId"`
	TotalCount int                                `json:"TotalCount"`
	NextToken  string                             `json:"NextToken"`
	Data       JSONList[ContainerGroupStatusData] `json:"Data"`
}

// ContainerGroupStatusData is one group in DescribeContainerGroupStatus: the
// ECI status plus a Kubernetes-style pod status.
type ContainerGroupStatusData struct {
	ContainerGroupID string      `json:"ContainerGroupId"`
	Status           GroupStatus `json:"Status"`
	// Name, Namespace, UUID and Annotations are the pod identity virtual-kubelet
	// sets; for a group created through the API, Name is ContainerGroupName.
	Name      string `json:"Name"`
	Namespace string `json:"Namespace"`
	UUID      string `json:"uuid"`
	// Annotations is a JSON object inside one string.
	Annotations string          `json:"Annotations"`
	PodStatus   PodStatusDetail `json:"PodStatus"`
}

// PodStatusDetail is the Kubernetes-style status of a group in
// DescribeContainerGroupStatus. Names are as the SDK spells them (HostIp, PodIp,
// PodIps, QosClass).
type PodStatusDetail struct {
	// Phase is Pending, Running, Succeeded, Failed or Unknown.
	Phase             string                       `json:"Phase"`
	Conditions        JSONList[PodCondition]       `json:"Conditions"`
	ContainerStatuses JSONList[PodContainerStatus] `json:"ContainerStatuses"`
	HostIP            string                       `json:"HostIp"`
	PodIP             string                       `json:"PodIp"`
	PodIPs            JSONList[PodIPDetail]        `json:"PodIps"`
	QoSClass          string                       `json:"QosClass"`
	StartTime         string                       `json:"StartTime"`
}

// PodCondition is a pod condition in DescribeContainerGroupStatus. Three of its
// names are lower-case on the wire, as the SDK declares them.
type PodCondition struct {
	// Type is PodScheduled, Initialized, ContainersReady, Ready, … .
	Type string `json:"type"`
	// Status is "True", "False" or "Unknown".
	Status             string `json:"status"`
	LastTransitionTime string `json:"lastTransitionTime"`
	Reason             string `json:"Reason"`
	Message            string `json:"Message"`
}

// PodIPDetail is one of the PodIps of a PodStatusDetail.
type PodIPDetail struct {
	IP string `json:"Ip"`
}

// PodContainerStatus is a container status in DescribeContainerGroupStatus,
// shaped like Kubernetes' ContainerStatus.
type PodContainerStatus struct {
	Name         string `json:"Name"`
	Image        string `json:"Image"`
	ImageID      string `json:"ImageID"`
	Ready        bool   `json:"Ready"`
	Started      bool   `json:"Started"`
	RestartCount int    `json:"RestartCount"`
	// State and LastState hold at most one of Running, Terminated, Waiting;
	// LastState is {} for a container that never restarted.
	State     PodContainerState `json:"State"`
	LastState PodContainerState `json:"LastState"`
}

// PodContainerState is a Kubernetes-style container state: one variant is set.
type PodContainerState struct {
	Running    *PodStateRunning    `json:"Running,omitempty"`
	Terminated *PodStateTerminated `json:"Terminated,omitempty"`
	Waiting    *PodStateWaiting    `json:"Waiting,omitempty"`
}

// PodStateRunning is the Running variant of a PodContainerState.
//
// On the wire the SDK (v3.1.1) names its one field "StartedAtstartedAt", a slip
// of its generator that the SDK nonetheless decodes by. leci writes the time
// under both that name and the sensible "StartedAt", so that the SDK and raw
// HTTP clients both find it, and reads either.
type PodStateRunning struct {
	StartedAt string
}

// podStateRunningWire is the wire form of PodStateRunning.
type podStateRunningWire struct {
	StartedAt    string `json:"StartedAt"`
	StartedAtSDK string `json:"StartedAtstartedAt"`
}

// MarshalJSON writes StartedAt under both names.
func (s PodStateRunning) MarshalJSON() ([]byte, error) {
	return json.Marshal(podStateRunningWire{StartedAt: s.StartedAt, StartedAtSDK: s.StartedAt})
}

// UnmarshalJSON reads StartedAt, or else the SDK's name.
func (s *PodStateRunning) UnmarshalJSON(data []byte) error {
	var w podStateRunningWire
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	s.StartedAt = w.StartedAt
	if s.StartedAt == "" {
		s.StartedAt = w.StartedAtSDK
	}
	return nil
}

// PodStateTerminated is the Terminated variant of a PodContainerState.
type PodStateTerminated struct {
	ContainerID string `json:"ContainerID"`
	ExitCode    int    `json:"ExitCode"`
	Signal      int    `json:"Signal"`
	Reason      string `json:"Reason"`
	Message     string `json:"Message"`
	StartedAt   string `json:"StartedAt"`
	FinishedAt  string `json:"FinishedAt"`
}

// PodStateWaiting is the Waiting variant of a PodContainerState.
type PodStateWaiting struct {
	Reason  string `json:"Reason"`
	Message string `json:"Message"`
}

// ---------------------------------------------------------------------------
// DeleteContainerGroup, RestartContainerGroup

// DeleteContainerGroupRequest is the request of DeleteContainerGroup.
type DeleteContainerGroupRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	ClientToken      string `json:"ClientToken,omitempty"`
	// Force skips the graceful-termination period.
	Force bool `json:"Force,omitempty"`
}

// DeleteContainerGroupResponse is the answer of DeleteContainerGroup.
type DeleteContainerGroupResponse struct {
	RequestID string `json:"RequestId"`
}

// RestartContainerGroupRequest is the request of RestartContainerGroup.
type RestartContainerGroupRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	ClientToken      string `json:"ClientToken,omitempty"`
}

// RestartContainerGroupResponse is the answer of RestartContainerGroup.
type RestartContainerGroupResponse struct {
	RequestID string `json:"RequestId"`
}

// ---------------------------------------------------------------------------
// DescribeContainerLog

// DescribeContainerLogRequest is the request of DescribeContainerLog.
// Captured (tea v3): ContainerGroupId=…&ContainerName=web&RegionId=…&Tail=100&Timestamps=true.
type DescribeContainerLogRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	ContainerName    string `json:"ContainerName,omitempty"`
	// Tail is the number of last lines: unset means LogTailDefault, at most
	// LogTailMax. A pointer because Tail=0 (no lines) is a valid ask.
	Tail *int `json:"Tail,omitempty"`
	// SinceSeconds keeps the lines of the last N seconds; 0 means all.
	SinceSeconds int `json:"SinceSeconds,omitempty"`
	// StartTime keeps the lines from that RFC 3339 UTC time on.
	StartTime string `json:"StartTime,omitempty"`
	// LimitBytes caps the size of Content: 0 means LogLimitBytesMax.
	LimitBytes int64 `json:"LimitBytes,omitempty"`
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool `json:"Timestamps,omitempty"`
	// LastTime asks for the log of the previous instance of the container (the
	// one that exited before the last restart), like kubectl logs --previous.
	// It is not a time.
	LastTime bool `json:"LastTime,omitempty"`
}

// TailLines is Tail with its default applied. A Tail above LogTailMax is
// capped rather than refused (ECI documents the maximum, not what it does past
// it, and a shorter log is the harmless reading); a negative one is an error.
func (r DescribeContainerLogRequest) TailLines() (int, error) {
	switch {
	case r.Tail == nil:
		return LogTailDefault, nil
	case *r.Tail < 0:
		return 0, fmt.Errorf("must be 0 or more, got %d", *r.Tail)
	case *r.Tail > LogTailMax:
		return LogTailMax, nil
	}
	return *r.Tail, nil
}

// DescribeContainerLogResponse is the answer of DescribeContainerLog.
type DescribeContainerLogResponse struct {
	RequestID     string `json:"RequestId"`
	ContainerName string `json:"ContainerName"`
	// Content is the log text, lines joined by \n.
	Content string `json:"Content"`
}

// ---------------------------------------------------------------------------
// ExecContainerCommand

// ExecContainerCommandRequest is the request of ExecContainerCommand.
// Captured (tea v3): Command=["sh","-c","echo hello"]&…&Stdin=false&Sync=true&TTY=false.
// The legacy SDK sends neither Sync nor Stdin. ECI requires TTY=false with
// Sync=true.
type ExecContainerCommandRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	ContainerName    string `json:"ContainerName,omitempty"`
	// Command is a JSON array inside one string; use Args.
	Command string `json:"Command,omitempty"`
	TTY     bool   `json:"TTY,omitempty"`
	// Stdin defaults to true in ECI, hence the pointer; see StdinEnabled.
	Stdin *bool `json:"Stdin,omitempty"`
	// Sync runs the command at once and returns its output in SyncResponse
	// instead of a WebSocket URL.
	Sync bool `json:"Sync,omitempty"`

	// leci's own, for an interactive session only (leci exec -e, -w, -u):
	// Env is a JSON array of "KEY=VALUE" inside one string, added to the
	// container's environment; WorkingDir and User ("UID[:GID]", or a name
	// with Docker) replace the container's.
	Env        string `json:"Env,omitempty"`
	WorkingDir string `json:"WorkingDir,omitempty"`
	User       string `json:"User,omitempty"`
}

// EnvVars parses Env: nil when not given.
func (r ExecContainerCommandRequest) EnvVars() ([]string, error) {
	vars, err := parseStringList(r.Env, MaxExecCommandArgs, MaxExecCommandArgLen)
	if err != nil {
		return nil, err
	}
	for _, kv := range vars {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", kv)
		}
	}
	return vars, nil
}

// Args parses Command. Unlike IDs, an empty command is an error: there is
// nothing to run. ECI's limits apply (MaxExecCommandArgs items of at most
// MaxExecCommandArgLen characters).
func (r ExecContainerCommandRequest) Args() ([]string, error) {
	args, err := parseStringList(r.Command, MaxExecCommandArgs, MaxExecCommandArgLen)
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		return nil, fmt.Errorf(`must name a command, as a JSON array of strings such as ["sh","-c","ls"]`)
	}
	return args, nil
}

// StdinEnabled is Stdin with ECI's default (true) applied.
func (r ExecContainerCommandRequest) StdinEnabled() bool {
	return r.Stdin == nil || *r.Stdin
}

// ExecContainerCommandResponse is the answer of ExecContainerCommand. With
// Sync=true the output is in SyncResponse and the URLs are empty; otherwise
// WebSocketUri is where the session is attached and HttpUrl a browser terminal.
type ExecContainerCommandResponse struct {
	RequestID    string `json:"RequestId"`
	WebSocketURI string `json:"WebSocketUri"`
	HTTPURL      string `json:"HttpUrl"`
	SyncResponse string `json:"SyncResponse"`
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupEvents

// DescribeContainerGroupEventsRequest is the request of
// DescribeContainerGroupEvents. Captured (tea v3): ContainerGroupIds=["eci-…"]&RegionId=….
type DescribeContainerGroupEventsRequest struct {
	RegionID string `json:"RegionId,omitempty"`
	// ContainerGroupIDs is a JSON array inside one string; use IDs.
	ContainerGroupIDs string `json:"ContainerGroupIds,omitempty"`
	// EventSource is EventSourceEciService, EventSourceK8sAgent, or empty for all.
	EventSource string `json:"EventSource,omitempty"`
	// SinceSecond keeps the events of the last N seconds; 0 means all.
	SinceSecond int         `json:"SinceSecond,omitempty"`
	Tag         []TagFilter `json:"Tag,omitempty"`
	// Limit caps the number of groups: 0 means EventsLimitDefault.
	Limit     int    `json:"Limit,omitempty"`
	NextToken string `json:"NextToken,omitempty"`

	ZoneID          string `json:"ZoneId,omitempty"`
	VSwitchID       string `json:"VSwitchId,omitempty"`
	ResourceGroupID string `json:"ResourceGroupId,omitempty"`
}

// IDs parses ContainerGroupIds: nil when not given.
func (r DescribeContainerGroupEventsRequest) IDs() ([]string, error) {
	return parseGroupIDs(r.ContainerGroupIDs)
}

// DescribeContainerGroupEventsResponse is the answer of
// DescribeContainerGroupEvents (wire-protocol.md §4). It has no NextToken.
type DescribeContainerGroupEventsResponse struct {
	RequestID  string                             `json:"RequestId"`
	TotalCount int                                `json:"TotalCount"`
	Data       JSONList[ContainerGroupEventsData] `json:"Data"`
}

// ContainerGroupEventsData is the events of one group in
// DescribeContainerGroupEvents. Note the lower-case "uuid".
type ContainerGroupEventsData struct {
	ContainerGroupID string `json:"ContainerGroupId"`
	Name             string `json:"Name"`
	Namespace        string `json:"Namespace"`
	UUID             string `json:"uuid"`
	// Annotations is a JSON object inside one string.
	Annotations string                        `json:"Annotations"`
	Events      JSONList[ContainerGroupEvent] `json:"Events"`
}

// ContainerGroupEvent is a Kubernetes-style event in
// DescribeContainerGroupEvents. Note the lower-case "involvedObject".
type ContainerGroupEvent struct {
	Count int `json:"Count"`
	// Type is Normal or Warning.
	Type               string            `json:"Type"`
	Reason             string            `json:"Reason"`
	Message            string            `json:"Message"`
	FirstTimestamp     string            `json:"FirstTimestamp"`
	LastTimestamp      string            `json:"LastTimestamp"`
	ReportingComponent string            `json:"ReportingComponent"`
	ReportingInstance  string            `json:"ReportingInstance"`
	Metadata           EventMetadata     `json:"Metadata"`
	Source             EventSourceDetail `json:"Source"`
	InvolvedObject     InvolvedObjectRef `json:"involvedObject"`
}

// EventMetadata is the object metadata of a ContainerGroupEvent.
type EventMetadata struct {
	Name      string `json:"Name"`
	Namespace string `json:"Namespace"`
}

// EventSourceDetail is the reporter of a ContainerGroupEvent.
type EventSourceDetail struct {
	Component string `json:"Component"`
	Host      string `json:"Host"`
}

// InvolvedObjectRef is the object a ContainerGroupEvent is about (the pod, or a
// container as spec.containers{name}).
type InvolvedObjectRef struct {
	Kind       string `json:"Kind"`
	Name       string `json:"Name"`
	Namespace  string `json:"Namespace"`
	UID        string `json:"Uid"`
	APIVersion string `json:"ApiVersion"`
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupMetric (shape from the tea SDK v3.1.1; not captured)

// DescribeContainerGroupMetricRequest is the request of
// DescribeContainerGroupMetric. Without StartTime and EndTime ECI returns the
// last 5 minutes at a 15 s period and ignores Period.
type DescribeContainerGroupMetricRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	// StartTime and EndTime are RFC 3339 (2019-03-12T01:00:00.000Z); EndTime
	// defaults to now and StartTime to 5 minutes before EndTime.
	StartTime string `json:"StartTime,omitempty"`
	EndTime   string `json:"EndTime,omitempty"`
	// Period is the aggregation in seconds; use PeriodSeconds. The SDK
	// declares it a string, but its values are numbers.
	Period int `json:"Period,omitempty"`
}

// PeriodSeconds is Period with its default (MetricPeriodDefault) applied; a
// Period that ECI does not offer is an error.
func (r DescribeContainerGroupMetricRequest) PeriodSeconds() (int, error) {
	switch r.Period {
	case 0:
		return MetricPeriodDefault, nil
	case 15, 30, 60, 600:
		return r.Period, nil
	}
	return 0, fmt.Errorf("must be 15, 30, 60 or 600, got %d", r.Period)
}

// DescribeContainerGroupMetricResponse is the answer of
// DescribeContainerGroupMetric: one record per period.
type DescribeContainerGroupMetricResponse struct {
	RequestID        string                 `json:"RequestId"`
	ContainerGroupID string                 `json:"ContainerGroupId"`
	Records          JSONList[MetricRecord] `json:"Records"`
}

// MetricRecord is the group's usage at one Timestamp (RFC 3339).
type MetricRecord struct {
	Timestamp  string                     `json:"Timestamp"`
	CPU        CPUMetric                  `json:"CPU"`
	Memory     MemoryMetric               `json:"Memory"`
	Network    NetworkMetric              `json:"Network"`
	Containers JSONList[ContainerMetric]  `json:"Containers"`
	Disk       JSONList[DiskMetric]       `json:"Disk"`
	Filesystem JSONList[FilesystemMetric] `json:"Filesystem"`
}

// CPUMetric is CPU usage in DescribeContainerGroupMetric.
type CPUMetric struct {
	// Limit is vCPUs × 1000.
	Limit int64 `json:"Limit"`
	// Load is the average load over the last 10 s.
	Load                 int64 `json:"Load"`
	UsageCoreNanoSeconds int64 `json:"UsageCoreNanoSeconds"`
	UsageNanoCores       int64 `json:"UsageNanoCores"`
}

// MemoryMetric is memory usage in bytes in DescribeContainerGroupMetric. The
// used size is UsageBytes (not Usage), as the SDK names it.
type MemoryMetric struct {
	AvailableBytes int64 `json:"AvailableBytes"`
	UsageBytes     int64 `json:"UsageBytes"`
	Cache          int64 `json:"Cache"`
	WorkingSet     int64 `json:"WorkingSet"`
	Rss            int64 `json:"Rss"`
}

// NetworkMetric is the per-interface traffic in DescribeContainerGroupMetric.
type NetworkMetric struct {
	Interfaces JSONList[NetworkInterfaceMetric] `json:"Interfaces"`
}

// NetworkInterfaceMetric is the cumulative traffic of one interface (eth0).
type NetworkInterfaceMetric struct {
	Name      string `json:"Name"`
	RxBytes   int64  `json:"RxBytes"`
	RxPackets int64  `json:"RxPackets"`
	RxErrors  int64  `json:"RxErrors"`
	RxDrops   int64  `json:"RxDrops"`
	TxBytes   int64  `json:"TxBytes"`
	TxPackets int64  `json:"TxPackets"`
	TxErrors  int64  `json:"TxErrors"`
	TxDrops   int64  `json:"TxDrops"`
}

// ContainerMetric is the usage of one container in a MetricRecord.
type ContainerMetric struct {
	Name   string       `json:"Name"`
	CPU    CPUMetric    `json:"CPU"`
	Memory MemoryMetric `json:"Memory"`
}

// DiskMetric is the cumulative I/O of one block device in a MetricRecord.
type DiskMetric struct {
	Device     string `json:"Device"`
	ReadBytes  int64  `json:"ReadBytes"`
	WriteBytes int64  `json:"WriteBytes"`
	ReadIO     int64  `json:"ReadIO"`
	WriteIO    int64  `json:"WriteIO"`
}

// FilesystemMetric is the space of one file system in a MetricRecord.
type FilesystemMetric struct {
	FsName string `json:"FsName"`
	// Category is System, Volume or Other.
	Category  string `json:"Category"`
	Capacity  int64  `json:"Capacity"`
	Available int64  `json:"Available"`
	Usage     int64  `json:"Usage"`
}

// ---------------------------------------------------------------------------
// Errors and the common part of responses

// ErrorResponse is the body of every failed action, sent with a 4xx or 5xx
// status (wire-protocol.md §5). The tea SDK turns it into a *tea.SDKError whose
// Code is Code and whose Data is this body; the legacy SDK into a
// *errors.ServerError. All five fields are always sent.
type ErrorResponse struct {
	RequestID string `json:"RequestId"`
	HostID    string `json:"HostId"`
	Code      string `json:"Code"`
	Message   string `json:"Message"`
	// Recommend is where to read about the error (ECI sends a diagnosis URL).
	Recommend string `json:"Recommend"`
}

// ResponseMeta is the least body a successful action may send: the tea SDK
// treats a 200 with an empty body as Body == nil without an error, so every
// answer carries at least a RequestId.
type ResponseMeta struct {
	RequestID string `json:"RequestId"`
}
