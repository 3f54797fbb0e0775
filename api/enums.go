package api

// Values of the enumerated parameters.
const (
	RestartAlways    = "Always"
	RestartOnFailure = "OnFailure"
	RestartNever     = "Never"

	DNSPolicyDefault = "Default"
	DNSPolicyNone    = "None"

	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"

	SchemeHTTP  = "HTTP"
	SchemeHTTPS = "HTTPS"

	ProtocolTCP = "TCP"
	ProtocolUDP = "UDP"

	PropagationNone            = "None"
	PropagationHostToContainer = "HostToContainer"
	PropagationBidirectional   = "Bidirectional"

	VolumeEmptyDir   = "EmptyDirVolume"
	VolumeConfigFile = "ConfigFileVolume"
	VolumeHostPath   = "HostPathVolume"
	VolumeNFS        = "NFSVolume"
	VolumeDisk       = "DiskVolume"
	VolumeFlex       = "FlexVolume"

	MediumMemory = "memory"

	FieldPathPodIP = "status.podIP"
)

// One set per enumerated parameter; the first value is listed first in errors.
var (
	restartPolicies   = []string{RestartAlways, RestartOnFailure, RestartNever}
	dnsPolicies       = []string{DNSPolicyDefault, DNSPolicyNone}
	pullPolicies      = []string{PullAlways, PullIfNotPresent, PullNever}
	schemes           = []string{SchemeHTTP, SchemeHTTPS}
	protocols         = []string{ProtocolTCP, ProtocolUDP}
	propagations      = []string{PropagationNone, PropagationHostToContainer, PropagationBidirectional}
	volumeTypes       = []string{VolumeEmptyDir, VolumeConfigFile, VolumeHostPath, VolumeNFS, VolumeDisk, VolumeFlex}
	emptyDirMedia     = []string{"", MediumMemory, "Memory"}
	terminationPolicy = []string{"File", "FallbackToLogsOnError"}
	spotStrategies    = []string{"NoSpot", "SpotWithPriceLimit", "SpotAsPriceGo"}
	scheduleStrategy  = []string{"VSwitchOrdered", "VSwitchRandom"}
	osTypes           = []string{"Linux", "Windows"}
	cpuArchitectures  = []string{"AMD64", "ARM64"}
	computeCategories = []string{"economy", "general"}
	eipISPs           = []string{"BGP", "BGP_PRO"}
	accelerateModes   = []string{"nydus", "dadi", "p2p", "imc"}
	capabilities      = []string{"NET_ADMIN", "NET_RAW"}
	// The reference names Directory and File; the SDKs also send the
	// kubelet's other host path types (DirectoryOrCreate in the captures),
	// so all of them are accepted. Empty means no check.
	hostPathTypes = []string{"", "Directory", "File", "DirectoryOrCreate", "FileOrCreate", "Socket", "CharDevice", "BlockDevice"}
)
