package server

import (
	"math"
	"net/http"
	"strconv"
	"time"

	"leci/api"
	"leci/runtime"
)

// addActions registers the actions beyond the group's lifecycle: the
// region and resource describes, tags, image caches, updates and commits.
func (s *Server) addActions() {
	for name, h := range map[string]handler{
		"DescribeRegions":                   s.describeRegions,
		"DescribeAvailableResource":         s.describeAvailableResource,
		"ListUsage":                         s.listUsage,
		"DescribeContainerGroupPrice":       s.describeContainerGroupPrice,
		"DescribeMultiContainerGroupMetric": s.describeMultiContainerGroupMetric,
		"TagResources":                      s.tagResources,
		"UntagResources":                    s.untagResources,
		"ListTagResources":                  s.listTagResources,
		"CreateImageCache":                  s.createImageCache,
		"DescribeImageCaches":               s.describeImageCaches,
		"UpdateImageCache":                  s.updateImageCache,
		"DeleteImageCache":                  s.deleteImageCache,
		"UpdateContainerGroup":              s.updateContainerGroup,
		"CommitContainer":                   s.commitContainer,
		"DescribeCommitContainerTask":       s.describeCommitContainerTask,
		ActionAttachContainer:               s.attachContainer,
	} {
		s.actions[name] = h
	}
}

// LocalRegion is the region leci answers for when a request names none;
// a request that names one is answered as that region, since leci serves
// whatever region it is addressed as. LocalZone is the region's one zone.
const (
	LocalRegion = "local"
	LocalZone   = "local"
)

func regionOf(requested string) string {
	if requested != "" {
		return requested
	}
	return LocalRegion
}

// ---------------------------------------------------------------------------
// DescribeRegions

func (s *Server) describeRegions(c *call) (any, error) {
	var req api.DescribeRegionsRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	return api.DescribeRegionsResponse{RequestID: c.requestID, Regions: []api.RegionDetail{{
		RegionID: regionOf(req.RegionID), RegionEndpoint: c.host,
		Zones: []string{LocalZone}, RecommendZones: []string{LocalZone},
	}}}, nil
}

// ---------------------------------------------------------------------------
// ListUsage, DescribeAvailableResource

// MaxImageCaches is how many image caches leci keeps (ECI's default quota).
const MaxImageCaches = 50

// usage is what the groups that hold resources take of the host.
type usage struct {
	groups, gpus       int
	cpus, memoryGiB    float64
	capacityCPUs       float64
	capacityMemoryGiB  float64
	capacityGPUs       int
	imageCaches, autos int
}

func (s *Server) usage() usage {
	hc := s.opts.Capacity()
	u := usage{capacityCPUs: float64(hc.CPUs), capacityMemoryGiB: float64(hc.MemoryBytes) / (1 << 30), capacityGPUs: hc.GPUs}
	for _, st := range s.opts.Groups.List() {
		if st.Request == nil || st.Terminal() || st.Phase == api.GroupScheduleFailed {
			continue
		}
		u.groups++
		cpu, mem, gpu := requested(st.Request)
		u.cpus += cpu
		u.memoryGiB += mem
		u.gpus += gpu
	}
	if s.opts.Caches != nil {
		for _, c := range s.opts.Caches.List() {
			u.imageCaches++
			if c.Auto {
				u.autos++
			}
		}
	}
	return u
}

// requested is what a group asks for: its Cpu and Memory, else what its
// app containers add up to (or the largest init container, which runs
// alone), and its containers' GPUs.
func requested(r *api.CreateContainerGroupRequest) (cpu, memGiB float64, gpus int) {
	var appCPU, appMem, initCPU, initMem float64
	for _, c := range r.Container {
		appCPU += c.Cpu
		appMem += c.Memory
		gpus += c.Gpu
	}
	for _, c := range r.InitContainer {
		initCPU = max(initCPU, c.Cpu)
		initMem = max(initMem, c.Memory)
	}
	cpu, memGiB = r.Cpu, r.Memory
	if cpu == 0 {
		cpu = max(appCPU, initCPU)
	}
	if memGiB == 0 {
		memGiB = max(appMem, initMem)
	}
	return cpu, memGiB, gpus
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

func (s *Server) listUsage(c *call) (any, error) {
	var req api.ListUsageRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	u := s.usage()
	return api.ListUsageResponse{RequestID: c.requestID, Attributes: map[string]any{
		"UsedCpu": round2(u.cpus), "MaxCpu": u.capacityCPUs,
		"UsedMemory": round2(u.memoryGiB), "MaxMemory": round2(u.capacityMemoryGiB),
		"UsedGpu": u.gpus, "MaxGpu": u.capacityGPUs,
		"UsedContainerGroupCount": u.groups,
		"UsedImageCacheCount":     u.imageCaches - u.autos, "MaxImageCacheCount": MaxImageCaches,
		"UsedAutoImageCacheCount": u.autos, "MaxAutoImageCacheCount": MaxImageCaches,
		"UsedDataCacheCount": 0, "MaxDataCacheCount": 0,
	}}, nil
}

func (s *Server) describeAvailableResource(c *call) (any, error) {
	var req api.DescribeAvailableResourceRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	d := req.DestinationResource
	if d == nil || d.Category == "" {
		return nil, missingParameter("DestinationResource.Category")
	}
	switch d.Category {
	case api.CategoryInstanceTypeFamily, api.CategoryInstanceType:
	default:
		return nil, invalidParameter("DestinationResource.Category", "must be %s or %s, got %q",
			api.CategoryInstanceTypeFamily, api.CategoryInstanceType, d.Category)
	}
	if d.Cores < 0 || d.Memory < 0 {
		return nil, invalidParameter("DestinationResource.Cores", "Cores and Memory must be 0 or more")
	}
	// leci has no instance types: what it answers is whether this host
	// has the cores and memory asked for free now.
	u := s.usage()
	stock := api.WithStock
	freeCPU, freeMem := u.capacityCPUs-u.cpus, u.capacityMemoryGiB-u.memoryGiB
	if d.Cores > freeCPU || d.Memory > freeMem || freeCPU <= 0 {
		stock = api.WithoutStock
	}
	value := d.Value
	if value == "" {
		value = "leci"
	}
	return api.DescribeAvailableResourceResponse{RequestID: c.requestID, AvailableZones: api.AvailableZones{
		AvailableZone: []api.AvailableZone{{
			RegionID: regionOf(req.RegionID), ZoneID: LocalZone,
			AvailableResources: api.AvailableResources{AvailableResource: []api.AvailableResource{{
				Type: d.Category,
				SupportedResources: api.SupportedResources{SupportedResource: []api.SupportedResource{{
					Value: value, StatusCategory: stock,
				}}},
			}}},
		}},
	}}, nil
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupPrice

// Currency is the currency of leci's prices, which are all zero.
const Currency = "CNY"

func (s *Server) describeContainerGroupPrice(c *call) (any, error) {
	var req api.DescribeContainerGroupPriceRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if req.Cpu < 0 || req.Memory < 0 {
		return nil, invalidParameter("Cpu", "Cpu and Memory must be 0 or more")
	}
	return api.DescribeContainerGroupPriceResponse{RequestID: c.requestID, PriceInfo: api.PriceInfo{
		Price: api.Price{Currency: Currency},
	}}, nil
}

// ---------------------------------------------------------------------------
// DescribeMultiContainerGroupMetric

func (s *Server) describeMultiContainerGroupMetric(c *call) (any, error) {
	var req api.DescribeMultiContainerGroupMetricRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	ids, err := req.IDs()
	if err != nil {
		return nil, invalidParameter("ContainerGroupIds", "%v", err)
	}
	if len(ids) == 0 {
		return nil, missingParameter("ContainerGroupIds")
	}
	resp := api.DescribeMultiContainerGroupMetricResponse{RequestID: c.requestID}
	for _, id := range ids {
		if _, err := s.group(id); err != nil {
			return nil, err
		}
	}
	for _, id := range ids {
		// The latest record of each group, as ECI answers.
		records, err := s.opts.Groups.Metrics(c.ctx, id, time.Time{}, time.Time{}, metricPeriodWithoutRange*time.Second)
		if err != nil && !isGone(err) {
			return nil, err
		}
		d := api.MonitorData{ContainerGroupID: id}
		if n := len(records); n > 0 {
			d.Records = records[n-1:]
		}
		resp.MonitorDatas = append(resp.MonitorDatas, d)
	}
	return resp, nil
}

// isGone tells whether err is that of a group deleted meanwhile.
func isGone(err error) bool {
	ae, ok := toAPI(err).(*api.Error)
	return ok && ae.Status == http.StatusNotFound
}

// offsetPage cuts the page of at most limit items after the NextToken
// token, which is an offset into items, and returns it with the next
// page's token ("" on the last page). The actions whose listings are not
// groups page this way.
func offsetPage[T any](items []T, token string, limit int) ([]T, string, error) {
	off := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalidParameter("NextToken", "is not a token leci returned")
		}
		off = n
	}
	end := min(off+limit, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[off:end], next, nil
}

// groupTags are the tags of a group, its request's.
func groupTags(st runtime.GroupStatus) []api.Tag {
	if st.Request == nil {
		return nil
	}
	return st.Request.Tag
}
