package api

// This file holds the request and response types of the actions leci serves
// beyond the group's lifecycle: the region and resource describes, tags,
// image caches and commits. Their shapes are those of the model structs of
// the official tea SDK github.com/alibabacloud-go/eci-20180808/v3 v3.1.1
// (client/client.go), which is what the SDK sends and decodes; the response
// policy of actions.go holds (scalars always sent, lists always [] at least).

// ---------------------------------------------------------------------------
// DescribeRegions

// DescribeRegionsRequest is the request of DescribeRegions.
type DescribeRegionsRequest struct {
	RegionID string `json:"RegionId,omitempty"`
}

// DescribeRegionsResponse lists the regions: leci's one.
type DescribeRegionsResponse struct {
	RequestID string                 `json:"RequestId"`
	Regions   JSONList[RegionDetail] `json:"Regions"`
}

// RegionDetail is one region of DescribeRegions.
type RegionDetail struct {
	RegionID         string           `json:"RegionId"`
	RegionEndpoint   string           `json:"RegionEndpoint"`
	Zones            JSONList[string] `json:"Zones"`
	RecommendZones   JSONList[string] `json:"RecommendZones"`
	UnavailableZones JSONList[string] `json:"UnavailableZones"`
}

// ---------------------------------------------------------------------------
// DescribeAvailableResource

// DescribeAvailableResourceRequest is the request of
// DescribeAvailableResource.
type DescribeAvailableResourceRequest struct {
	RegionID            string               `json:"RegionId,omitempty"`
	ZoneID              string               `json:"ZoneId,omitempty"`
	DestinationResource *DestinationResource `json:"DestinationResource,omitempty"`
	SpotResource        *SpotResource        `json:"SpotResource,omitempty"`
}

// DestinationResource is what DescribeAvailableResource asks about.
type DestinationResource struct {
	// Category is InstanceTypeFamily or InstanceType.
	Category string  `json:"Category,omitempty"`
	Value    string  `json:"Value,omitempty"`
	Cores    float64 `json:"Cores,omitempty"`
	Memory   float64 `json:"Memory,omitempty"`
}

// SpotResource is the spot part of DescribeAvailableResource; leci has no
// spot instances and ignores it.
type SpotResource struct {
	SpotStrategy   string  `json:"SpotStrategy,omitempty"`
	SpotDuration   int     `json:"SpotDuration,omitempty"`
	SpotPriceLimit float64 `json:"SpotPriceLimit,omitempty"`
}

// Categories of DestinationResource.
const (
	CategoryInstanceTypeFamily = "InstanceTypeFamily"
	CategoryInstanceType       = "InstanceType"
)

// Stock of a SupportedResource.
const (
	WithStock    = "WithStock"
	WithoutStock = "WithoutStock"
)

// DescribeAvailableResourceResponse is the answer of
// DescribeAvailableResource. Unlike most ECI answers its lists are wrapped
// in objects (AvailableZones.AvailableZone), as the SDK decodes them.
type DescribeAvailableResourceResponse struct {
	RequestID      string         `json:"RequestId"`
	AvailableZones AvailableZones `json:"AvailableZones"`
}

// AvailableZones wraps the zones of DescribeAvailableResource.
type AvailableZones struct {
	AvailableZone JSONList[AvailableZone] `json:"AvailableZone"`
}

// AvailableZone is one zone and what it has.
type AvailableZone struct {
	RegionID           string             `json:"RegionId"`
	ZoneID             string             `json:"ZoneId"`
	AvailableResources AvailableResources `json:"AvailableResources"`
}

// AvailableResources wraps the resources of a zone.
type AvailableResources struct {
	AvailableResource JSONList[AvailableResource] `json:"AvailableResource"`
}

// AvailableResource is one kind of resource of a zone.
type AvailableResource struct {
	Type               string             `json:"Type"`
	SupportedResources SupportedResources `json:"SupportedResources"`
}

// SupportedResources wraps the values of an AvailableResource.
type SupportedResources struct {
	SupportedResource JSONList[SupportedResource] `json:"SupportedResource"`
}

// SupportedResource is one value and whether there is stock of it.
type SupportedResource struct {
	Value          string `json:"Value"`
	StatusCategory string `json:"StatusCategory"`
}

// ---------------------------------------------------------------------------
// ListUsage

// ListUsageRequest is the request of ListUsage.
type ListUsageRequest struct {
	RegionID string `json:"RegionId,omitempty"`
}

// ListUsageResponse is the answer of ListUsage: Attributes maps quota
// names (UsedCpu, MaxCpu, MaxImageCacheCount, ...) to numbers.
type ListUsageResponse struct {
	RequestID  string         `json:"RequestId"`
	Attributes map[string]any `json:"Attributes"`
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupPrice

// DescribeContainerGroupPriceRequest is the request of
// DescribeContainerGroupPrice.
type DescribeContainerGroupPriceRequest struct {
	RegionID         string  `json:"RegionId,omitempty"`
	ZoneID           string  `json:"ZoneId,omitempty"`
	Cpu              float64 `json:"Cpu,omitempty"`
	Memory           float64 `json:"Memory,omitempty"`
	InstanceType     string  `json:"InstanceType,omitempty"`
	ComputeCategory  string  `json:"ComputeCategory,omitempty"`
	EphemeralStorage int     `json:"EphemeralStorage,omitempty"`
	SpotStrategy     string  `json:"SpotStrategy,omitempty"`
	SpotDuration     int     `json:"SpotDuration,omitempty"`
	SpotPriceLimit   float64 `json:"SpotPriceLimit,omitempty"`
}

// DescribeContainerGroupPriceResponse is the answer of
// DescribeContainerGroupPrice.
type DescribeContainerGroupPriceResponse struct {
	RequestID string    `json:"RequestId"`
	PriceInfo PriceInfo `json:"PriceInfo"`
}

// PriceInfo is a price and the rules that made it. The two SDKs disagree
// on the shape of the lists (the tea SDK reads Rules as {"Rule":[...]}, the
// older one as [...]), so the lists, empty for leci's zero price, are left
// out: both SDKs accept an absent field.
type PriceInfo struct {
	Price      Price       `json:"Price"`
	Rules      *PriceRules `json:"Rules,omitempty"`
	SpotPrices *SpotPrices `json:"SpotPrices,omitempty"`
}

// Price is what a group costs per hour.
type Price struct {
	Currency      string       `json:"Currency"`
	OriginalPrice float64      `json:"OriginalPrice"`
	DiscountPrice float64      `json:"DiscountPrice"`
	TradePrice    float64      `json:"TradePrice"`
	DetailInfos   *DetailInfos `json:"DetailInfos,omitempty"`
}

// DetailInfos wraps the price of each resource.
type DetailInfos struct {
	DetailInfo JSONList[PriceDetail] `json:"DetailInfo"`
}

// PriceDetail is the price of one resource (Cpu, Memory).
type PriceDetail struct {
	Resource      string     `json:"Resource"`
	OriginalPrice float64    `json:"OriginalPrice"`
	DiscountPrice float64    `json:"DiscountPrice"`
	TradePrice    float64    `json:"TradePrice"`
	Rules         PriceRules `json:"Rules"`
}

// PriceRules wraps promotion rules.
type PriceRules struct {
	Rule JSONList[PriceRule] `json:"Rule"`
}

// PriceRule is one promotion rule.
type PriceRule struct {
	RuleID      int64  `json:"RuleId"`
	Description string `json:"Description"`
}

// SpotPrices wraps spot prices; leci has none.
type SpotPrices struct {
	SpotPrice JSONList[SpotPrice] `json:"SpotPrice"`
}

// SpotPrice is the spot price of an instance type in a zone.
type SpotPrice struct {
	InstanceType string  `json:"InstanceType"`
	ZoneID       string  `json:"ZoneId"`
	OriginPrice  float64 `json:"OriginPrice"`
	SpotPrice    float64 `json:"SpotPrice"`
}

// ---------------------------------------------------------------------------
// DescribeMultiContainerGroupMetric

// DescribeMultiContainerGroupMetricRequest is the request of
// DescribeMultiContainerGroupMetric.
type DescribeMultiContainerGroupMetricRequest struct {
	RegionID        string `json:"RegionId,omitempty"`
	ResourceGroupID string `json:"ResourceGroupId,omitempty"`
	// ContainerGroupIDs is a JSON array inside one string; use IDs.
	ContainerGroupIDs string `json:"ContainerGroupIds,omitempty"`
	// MetricType is "summary" (the group's figures) or "" (the
	// containers' too); leci always sends both.
	MetricType string `json:"MetricType,omitempty"`
}

// IDs parses ContainerGroupIds.
func (r DescribeMultiContainerGroupMetricRequest) IDs() ([]string, error) {
	return parseGroupIDs(r.ContainerGroupIDs)
}

// DescribeMultiContainerGroupMetricResponse holds the latest usage of each
// group asked for.
type DescribeMultiContainerGroupMetricResponse struct {
	RequestID    string                `json:"RequestId"`
	MonitorDatas JSONList[MonitorData] `json:"MonitorDatas"`
}

// MonitorData is one group's records.
type MonitorData struct {
	ContainerGroupID string                 `json:"ContainerGroupId"`
	Records          JSONList[MetricRecord] `json:"Records"`
}

// ---------------------------------------------------------------------------
// TagResources, UntagResources, ListTagResources

// Resource types of the tag actions.
const (
	ResourceContainerGroup = "ContainerGroup"
	ResourceImageCache     = "ImageCache"
)

// Limits of tags, as ECI documents them.
const (
	MaxTagsPerResource = 20  // tags one resource may carry
	MaxTagResourceIDs  = 50  // ResourceId.N of one call
	MaxTagKeyLen       = 128 // characters of a key
	MaxTagValueLen     = 128 // characters of a value
	ListTagsLimitMax   = 50  // page size of ListTagResources (and its default)
)

// TagResourcesRequest is the request of TagResources.
type TagResourcesRequest struct {
	RegionID     string   `json:"RegionId,omitempty"`
	ResourceType string   `json:"ResourceType,omitempty"`
	ResourceID   []string `json:"ResourceId,omitempty"`
	Tag          []Tag    `json:"Tag,omitempty"`
}

// UntagResourcesRequest is the request of UntagResources.
type UntagResourcesRequest struct {
	RegionID     string   `json:"RegionId,omitempty"`
	ClientToken  string   `json:"ClientToken,omitempty"`
	ResourceType string   `json:"ResourceType,omitempty"`
	ResourceID   []string `json:"ResourceId,omitempty"`
	TagKey       []string `json:"TagKey,omitempty"`
	// All removes every tag when TagKey is empty.
	All bool `json:"All,omitempty"`
}

// ListTagResourcesRequest is the request of ListTagResources.
type ListTagResourcesRequest struct {
	RegionID     string      `json:"RegionId,omitempty"`
	ResourceType string      `json:"ResourceType,omitempty"`
	ResourceID   []string    `json:"ResourceId,omitempty"`
	Tag          []TagFilter `json:"Tag,omitempty"`
	// Limit is a number the SDK declares as a string.
	Limit     int    `json:"Limit,omitempty"`
	NextToken string `json:"NextToken,omitempty"`
}

// ListTagResourcesResponse is one page of resource tags.
type ListTagResourcesResponse struct {
	RequestID    string                `json:"RequestId"`
	NextToken    string                `json:"NextToken"`
	TagResources JSONList[TagResource] `json:"TagResources"`
}

// TagResource is one tag of one resource.
type TagResource struct {
	ResourceID   string `json:"ResourceId"`
	ResourceType string `json:"ResourceType"`
	TagKey       string `json:"TagKey"`
	TagValue     string `json:"TagValue"`
}

// ---------------------------------------------------------------------------
// Image caches

// CreateImageCacheRequest is the request of CreateImageCache. The cloud's
// snapshot parameters (zone, vSwitch, EIP, copies, flash, size) are
// accepted and mean nothing locally.
type CreateImageCacheRequest struct {
	RegionID                string                    `json:"RegionId,omitempty"`
	ClientToken             string                    `json:"ClientToken,omitempty"`
	ImageCacheName          string                    `json:"ImageCacheName,omitempty"`
	Image                   []string                  `json:"Image,omitempty"`
	ImageRegistryCredential []ImageRegistryCredential `json:"ImageRegistryCredential,omitempty"`
	AcrRegistryInfo         []AcrRegistryInfo         `json:"AcrRegistryInfo,omitempty"`
	InsecureRegistry        string                    `json:"InsecureRegistry,omitempty"`
	PlainHTTPRegistry       string                    `json:"PlainHttpRegistry,omitempty"`
	RetentionDays           int                       `json:"RetentionDays,omitempty"`
	EliminationStrategy     string                    `json:"EliminationStrategy,omitempty"`
	Tag                     []Tag                     `json:"Tag,omitempty"`
	ResourceGroupID         string                    `json:"ResourceGroupId,omitempty"`
	Annotations             string                    `json:"Annotations,omitempty"`
	AutoMatchImageCache     bool                      `json:"AutoMatchImageCache,omitempty"`
	OsType                  string                    `json:"OsType,omitempty"`

	ZoneID            string `json:"ZoneId,omitempty"`
	VSwitchID         string `json:"VSwitchId,omitempty"`
	SecurityGroupID   string `json:"SecurityGroupId,omitempty"`
	EipInstanceID     string `json:"EipInstanceId,omitempty"`
	ImageCacheSize    int    `json:"ImageCacheSize,omitempty"`
	Flash             bool   `json:"Flash,omitempty"`
	FlashCopyCount    int    `json:"FlashCopyCount,omitempty"`
	StandardCopyCount int    `json:"StandardCopyCount,omitempty"`
	// VkClientVersion is sent by the older SDK; ignored.
	VkClientVersion string `json:"VkClientVersion,omitempty"`
}

// CreateImageCacheResponse names the new cache. ContainerGroupId is the
// group the cloud makes the cache with; leci pulls without one and
// answers the cache's id there too.
type CreateImageCacheResponse struct {
	RequestID        string `json:"RequestId"`
	ImageCacheID     string `json:"ImageCacheId"`
	ContainerGroupID string `json:"ContainerGroupId"`
}

// UpdateImageCacheRequest is the request of UpdateImageCache: what is given
// replaces what the cache had; new images are pulled.
type UpdateImageCacheRequest struct {
	RegionID                string                    `json:"RegionId,omitempty"`
	ClientToken             string                    `json:"ClientToken,omitempty"`
	ImageCacheID            string                    `json:"ImageCacheId,omitempty"`
	ImageCacheName          string                    `json:"ImageCacheName,omitempty"`
	Image                   []string                  `json:"Image,omitempty"`
	ImageRegistryCredential []ImageRegistryCredential `json:"ImageRegistryCredential,omitempty"`
	AcrRegistryInfo         []AcrRegistryInfo         `json:"AcrRegistryInfo,omitempty"`
	RetentionDays           int                       `json:"RetentionDays,omitempty"`
	EliminationStrategy     string                    `json:"EliminationStrategy,omitempty"`
	Tag                     []Tag                     `json:"Tag,omitempty"`
	ResourceGroupID         string                    `json:"ResourceGroupId,omitempty"`
	AutoMatchImageCache     bool                      `json:"AutoMatchImageCache,omitempty"`

	VSwitchID         string `json:"VSwitchId,omitempty"`
	SecurityGroupID   string `json:"SecurityGroupId,omitempty"`
	EipInstanceID     string `json:"EipInstanceId,omitempty"`
	ImageCacheSize    int    `json:"ImageCacheSize,omitempty"`
	Flash             bool   `json:"Flash,omitempty"`
	FlashCopyCount    int    `json:"FlashCopyCount,omitempty"`
	StandardCopyCount int    `json:"StandardCopyCount,omitempty"`
}

// DeleteImageCacheRequest is the request of DeleteImageCache.
type DeleteImageCacheRequest struct {
	RegionID     string `json:"RegionId,omitempty"`
	ClientToken  string `json:"ClientToken,omitempty"`
	ImageCacheID string `json:"ImageCacheId,omitempty"`
	// VkClientVersion is sent by the older SDK; ignored.
	VkClientVersion string `json:"VkClientVersion,omitempty"`
}

// DescribeImageCachesRequest is the request of DescribeImageCaches. Every
// filter that is given must match.
type DescribeImageCachesRequest struct {
	RegionID        string      `json:"RegionId,omitempty"`
	ImageCacheID    string      `json:"ImageCacheId,omitempty"`
	ImageCacheName  string      `json:"ImageCacheName,omitempty"`
	SnapshotID      string      `json:"SnapshotId,omitempty"`
	Image           string      `json:"Image,omitempty"`
	MatchImage      []string    `json:"MatchImage,omitempty"`
	ImageFullMatch  bool        `json:"ImageFullMatch,omitempty"`
	ResourceGroupID string      `json:"ResourceGroupId,omitempty"`
	Tag             []TagFilter `json:"Tag,omitempty"`
	Limit           int         `json:"Limit,omitempty"`
	NextToken       string      `json:"NextToken,omitempty"`

	ImageMatchCountRequest int `json:"ImageMatchCountRequest,omitempty"`
}

// DescribeImageCachesResponse is one page of caches.
type DescribeImageCachesResponse struct {
	RequestID   string                     `json:"RequestId"`
	TotalCount  int                        `json:"TotalCount"`
	NextToken   string                     `json:"NextToken"`
	ImageCaches JSONList[ImageCacheDetail] `json:"ImageCaches"`
}

// ImageCacheDetail is one cache as DescribeImageCaches shows it.
type ImageCacheDetail struct {
	ImageCacheID        string                    `json:"ImageCacheId"`
	ImageCacheName      string                    `json:"ImageCacheName"`
	SnapshotID          string                    `json:"SnapshotId"`
	FlashSnapshotID     string                    `json:"FlashSnapshotId"`
	ContainerGroupID    string                    `json:"ContainerGroupId"`
	Status              string                    `json:"Status"`
	Progress            string                    `json:"Progress"`
	Images              JSONList[string]          `json:"Images"`
	ImageCacheSize      int                       `json:"ImageCacheSize"`
	RegionID            string                    `json:"RegionId"`
	ResourceGroupID     string                    `json:"ResourceGroupId"`
	CreationTime        string                    `json:"CreationTime"`
	ExpireDateTime      string                    `json:"ExpireDateTime"`
	LastMatchedTime     string                    `json:"LastMatchedTime"`
	EliminationStrategy string                    `json:"EliminationStrategy"`
	Tags                JSONList[TagDetail]       `json:"Tags"`
	Events              JSONList[ImageCacheEvent] `json:"Events"`
}

// ImageCacheEvent is one event of a cache.
type ImageCacheEvent struct {
	Count          int    `json:"Count"`
	Type           string `json:"Type"`
	Name           string `json:"Name"`
	Reason         string `json:"Reason"`
	Message        string `json:"Message"`
	FirstTimestamp string `json:"FirstTimestamp"`
	LastTimestamp  string `json:"LastTimestamp"`
}

// Statuses of an image cache, as ECI names them.
const (
	CacheCreating     = "Creating"
	CacheReady        = "Ready"
	CacheFailed       = "Failed"
	CacheUpdating     = "Updating"
	CacheUpdateFailed = "UpdateFailed"
	CachePreparing    = "Preparing"
	CacheExpired      = "Expired"
)

// ---------------------------------------------------------------------------
// CommitContainer, DescribeCommitContainerTask

// CommitContainerRequest is the request of CommitContainer.
type CommitContainerRequest struct {
	RegionID         string        `json:"RegionId,omitempty"`
	ContainerGroupID string        `json:"ContainerGroupId,omitempty"`
	ContainerName    string        `json:"ContainerName,omitempty"`
	Image            *CommitImage  `json:"Image,omitempty"`
	AcrRegistryInfo  *CommitACR    `json:"AcrRegistryInfo,omitempty"`
	Arn              *CommitARNRef `json:"Arn,omitempty"`
}

// CommitImage names the image a commit makes.
type CommitImage struct {
	Repository string `json:"Repository,omitempty"`
	Tag        string `json:"Tag,omitempty"`
	Author     string `json:"Author,omitempty"`
	Message    string `json:"Message,omitempty"`
}

// CommitACR is the ACR instance a commit pushes to in the cloud; leci
// keeps the image in its own store and ignores it.
type CommitACR struct {
	InstanceID string `json:"InstanceId,omitempty"`
	RegionID   string `json:"RegionId,omitempty"`
	ArnService string `json:"ArnService,omitempty"`
	ArnUser    string `json:"ArnUser,omitempty"`
}

// CommitARNRef is the RAM role of a commit in the cloud; ignored.
type CommitARNRef struct {
	RoleArn  string `json:"RoleArn,omitempty"`
	RoleType string `json:"RoleType,omitempty"`
}

// CommitContainerResponse names the commit's task.
type CommitContainerResponse struct {
	RequestID string `json:"RequestId"`
	TaskID    string `json:"TaskId"`
}

// DescribeCommitContainerTaskRequest is the request of
// DescribeCommitContainerTask.
type DescribeCommitContainerTaskRequest struct {
	RegionID         string   `json:"RegionId,omitempty"`
	ContainerGroupID string   `json:"ContainerGroupId,omitempty"`
	TaskID           []string `json:"TaskId,omitempty"`
	TaskStatus       string   `json:"TaskStatus,omitempty"`
	MaxResults       int      `json:"MaxResults,omitempty"`
	NextToken        string   `json:"NextToken,omitempty"`
}

// DescribeCommitContainerTaskResponse lists commit tasks. MaxResults is a
// string in the SDK.
type DescribeCommitContainerTaskResponse struct {
	RequestID   string               `json:"RequestId"`
	TotalCount  int                  `json:"TotalCount"`
	MaxResults  string               `json:"MaxResults"`
	NextToken   string               `json:"NextToken"`
	CommitTasks JSONList[CommitTask] `json:"CommitTasks"`
}

// CommitTask is one commit and how it went.
type CommitTask struct {
	TaskID           string                    `json:"TaskId"`
	ContainerName    string                    `json:"ContainerName"`
	TaskStatus       string                    `json:"TaskStatus"`
	TaskProgress     string                    `json:"TaskProgress"`
	StatusMessage    string                    `json:"StatusMessage"`
	TaskCreationTime string                    `json:"TaskCreationTime"`
	TaskFinishedTime string                    `json:"TaskFinishedTime"`
	CommitPhaseInfos JSONList[CommitPhaseInfo] `json:"CommitPhaseInfos"`
}

// CommitPhaseInfo is one phase of a commit (Commit, then Push in the cloud).
type CommitPhaseInfo struct {
	Phase      string `json:"Phase"`
	Status     string `json:"Status"`
	Message    string `json:"Message"`
	RecordTime string `json:"RecordTime"`
}

// Statuses of a commit task.
const (
	TaskRunning   = "Running"
	TaskSucceeded = "Succeeded"
	TaskFailed    = "Failed"
)
