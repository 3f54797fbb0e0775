package server

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"leci/api"
	"leci/runtime"
)

// filter is what the three Describe actions select groups by. Every filter
// that is given must match.
type filter struct {
	ids    []string
	region string
	name   string
	status api.GroupStatus
	tags   []api.TagFilter

	zoneID, vSwitchID, securityGroupID, resourceGroupID, computeCategory string
}

func (f filter) match(st *runtime.GroupStatus) bool {
	r := st.Request
	switch {
	case len(f.ids) > 0 && !slices.Contains(f.ids, st.ID),
		f.region != "" && r.RegionID != f.region,
		f.name != "" && r.ContainerGroupName != f.name,
		f.status != "" && st.Phase != f.status,
		f.zoneID != "" && r.ZoneID != f.zoneID,
		f.vSwitchID != "" && r.VSwitchID != f.vSwitchID,
		f.securityGroupID != "" && r.SecurityGroupID != f.securityGroupID,
		f.resourceGroupID != "" && r.ResourceGroupID != f.resourceGroupID,
		f.computeCategory != "" && !slices.Contains(r.ComputeCategory, f.computeCategory):
		return false
	}
	return hasTags(r.Tag, f.tags)
}

// selectGroups returns the groups that match f, newest first (then by id),
// the order pages are cut in.
func (s *Server) selectGroups(f filter) []runtime.GroupStatus {
	var out []runtime.GroupStatus
	for _, st := range s.candidates(f.ids) {
		if st.Request != nil && f.match(&st) {
			out = append(out, st)
		}
	}
	slices.SortFunc(out, func(a, b runtime.GroupStatus) int { return compareKeys(keyOf(&a), keyOf(&b)) })
	return out
}

// candidates returns the groups named by ids, or every group when none is
// named. A describe of one group (what the SDKs' waiters poll) then copies
// that group's status, not every group's.
func (s *Server) candidates(ids []string) []runtime.GroupStatus {
	if len(ids) == 0 {
		return s.opts.Groups.List()
	}
	out := make([]runtime.GroupStatus, 0, len(ids))
	for _, id := range slices.Compact(slices.Sorted(slices.Values(ids))) {
		if st, err := s.opts.Groups.Get(id); err == nil {
			out = append(out, st)
		}
	}
	return out
}

// pageKey is a group's place in the listing order; a NextToken encodes the
// key of the last group of a page, so that pages stay right while groups
// come and go.
type pageKey struct {
	created int64
	id      string
}

func keyOf(st *runtime.GroupStatus) pageKey {
	return pageKey{created: st.CreatedAt.UnixNano(), id: st.ID}
}

// compareKeys orders newest first, then by id.
func compareKeys(a, b pageKey) int {
	switch {
	case a.created > b.created:
		return -1
	case a.created < b.created:
		return 1
	}
	return strings.Compare(a.id, b.id)
}

func (k pageKey) token() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(k.created, 10) + "/" + k.id))
}

func parseToken(tok string) (pageKey, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return pageKey{}, false
	}
	created, id, ok := strings.Cut(string(raw), "/")
	if !ok || id == "" {
		return pageKey{}, false
	}
	n, err := strconv.ParseInt(created, 10, 64)
	if err != nil {
		return pageKey{}, false
	}
	return pageKey{created: n, id: id}, true
}

// page cuts one page of limit groups after nextToken out of groups (in
// listing order) and returns it with the token of the next page ("" on the
// last page).
func page(groups []runtime.GroupStatus, nextToken string, limit int) ([]runtime.GroupStatus, string, error) {
	start := 0
	if nextToken != "" {
		after, ok := parseToken(nextToken)
		if !ok {
			return nil, "", invalidParameter("NextToken", "is not a token leci returned")
		}
		start = len(groups)
		for i := range groups {
			if compareKeys(keyOf(&groups[i]), after) > 0 {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(groups))
	next := ""
	if end < len(groups) {
		next = keyOf(&groups[end-1]).token()
	}
	return groups[start:end], next, nil
}

// pageLimit is Limit with its default applied; a Limit above max is capped.
func pageLimit(limit, def, max int) (int, error) {
	switch {
	case limit < 0:
		return 0, invalidParameter("Limit", "must be 1 or more, got %d", limit)
	case limit == 0:
		return def, nil
	case limit > max:
		return max, nil
	}
	return limit, nil
}

// ---------------------------------------------------------------------------
// DescribeContainerGroups

func (s *Server) describeContainerGroups(c *call) (any, error) {
	var req api.DescribeContainerGroupsRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	ids, err := req.IDs()
	if err != nil {
		return nil, invalidParameter("ContainerGroupIds", "%v", err)
	}
	if req.Status != "" && !req.Status.Known() {
		return nil, invalidParameter("Status", "%q is not a container group status", req.Status)
	}
	limit, err := pageLimit(req.Limit, api.DescribeGroupsLimitDefault, api.DescribeGroupsLimitMax)
	if err != nil {
		return nil, err
	}
	groups := s.selectGroups(filter{
		ids: ids, region: req.RegionID, name: req.ContainerGroupName, status: req.Status, tags: req.Tag,
		zoneID: req.ZoneID, vSwitchID: req.VSwitchID, securityGroupID: req.SecurityGroupID,
		resourceGroupID: req.ResourceGroupID, computeCategory: req.ComputeCategory,
	})
	pg, next, err := page(groups, req.NextToken, limit)
	if err != nil {
		return nil, err
	}
	resp := api.DescribeContainerGroupsResponse{RequestID: c.requestID, TotalCount: len(groups), NextToken: next}
	resp.ContainerGroups = make([]api.ContainerGroupDetail, 0, len(pg))
	for _, st := range pg {
		d := runtime.Describe(st)
		if !req.IncludeEvents() {
			d.Events = nil
		}
		resp.ContainerGroups = append(resp.ContainerGroups, d)
	}
	return resp, nil
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupStatus

func (s *Server) describeContainerGroupStatus(c *call) (any, error) {
	var req api.DescribeContainerGroupStatusRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	ids, err := req.IDs()
	if err != nil {
		return nil, invalidParameter("ContainerGroupIds", "%v", err)
	}
	if req.SinceSecond < 0 {
		return nil, invalidParameter("SinceSecond", "must be 0 or more, got %d", req.SinceSecond)
	}
	limit, err := pageLimit(req.Limit, api.StatusLimitDefault, api.StatusLimitDefault)
	if err != nil {
		return nil, err
	}
	groups := s.selectGroups(filter{ids: ids, region: req.RegionID, tags: req.Tag, zoneID: req.ZoneID, vSwitchID: req.VSwitchID, resourceGroupID: req.ResourceGroupID})
	if req.SinceSecond > 0 {
		since := s.opts.Now().Add(-time.Duration(req.SinceSecond) * time.Second)
		groups = slices.DeleteFunc(groups, func(st runtime.GroupStatus) bool { return lastChange(&st).Before(since) })
	}
	pg, next, err := page(groups, req.NextToken, limit)
	if err != nil {
		return nil, err
	}
	resp := api.DescribeContainerGroupStatusResponse{RequestID: c.requestID, TotalCount: len(groups), NextToken: next}
	for _, st := range pg {
		resp.Data = append(resp.Data, statusData(&st))
	}
	return resp, nil
}

// lastChange is the latest time the group is known to have changed.
func lastChange(st *runtime.GroupStatus) time.Time {
	t := st.CreatedAt
	for _, u := range []time.Time{st.StartedAt, st.SucceededAt, st.FailedAt} {
		if u.After(t) {
			t = u
		}
	}
	for _, e := range st.Events {
		if e.Last.After(t) {
			t = e.Last
		}
	}
	for _, c := range append(append([]runtime.ContainerStatus(nil), st.InitContainers...), st.Containers...) {
		for _, u := range []time.Time{c.Current.StartedAt, c.Current.FinishedAt} {
			if u.After(t) {
				t = u
			}
		}
	}
	return t
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// podPhase is the Kubernetes phase of an ECI status.
func podPhase(s api.GroupStatus) string {
	switch s {
	case api.GroupPending, api.GroupScheduling, api.GroupRestarting:
		return "Pending"
	case api.GroupRunning, api.GroupUpdating, api.GroupTerminating:
		return "Running"
	case api.GroupSucceeded:
		return "Succeeded"
	case api.GroupFailed, api.GroupScheduleFailed, api.GroupExpired:
		return "Failed"
	}
	return "Unknown"
}

func condition(typ string, ok bool, at time.Time) api.PodCondition {
	status := "False"
	if ok {
		status = "True"
	}
	return api.PodCondition{Type: typ, Status: status, LastTransitionTime: timeText(at)}
}

func podState(s runtime.ContainerState, containerID string) api.PodContainerState {
	switch s.State {
	case api.StateRunning:
		return api.PodContainerState{Running: &api.PodStateRunning{StartedAt: timeText(s.StartedAt)}}
	case api.StateTerminated:
		return api.PodContainerState{Terminated: &api.PodStateTerminated{
			ContainerID: containerID, ExitCode: s.ExitCode, Signal: s.Signal, Reason: s.Reason, Message: s.Message,
			StartedAt: timeText(s.StartedAt), FinishedAt: timeText(s.FinishedAt),
		}}
	case api.StateWaiting:
		return api.PodContainerState{Waiting: &api.PodStateWaiting{Reason: s.Reason, Message: s.Message}}
	}
	return api.PodContainerState{}
}

// statusData is a group as DescribeContainerGroupStatus shows it.
func statusData(st *runtime.GroupStatus) api.ContainerGroupStatusData {
	name := ""
	if st.Request != nil {
		name = st.Request.ContainerGroupName
	}
	initialized := true
	for _, c := range st.InitContainers {
		if c.Current.State != api.StateTerminated || c.Current.ExitCode != 0 {
			initialized = false
		}
	}
	ready := len(st.Containers) > 0
	var statuses []api.PodContainerStatus
	for i, c := range st.Containers {
		ready = ready && c.Ready
		image := ""
		if st.Request != nil && i < len(st.Request.Container) {
			image = st.Request.Container[i].Image
		}
		ps := api.PodContainerStatus{
			Name: c.Name, Image: image, Ready: c.Ready, Started: c.Current.State == api.StateRunning,
			RestartCount: c.RestartCount, State: podState(c.Current, c.ID),
		}
		if c.Previous != nil {
			ps.LastState = podState(*c.Previous, "")
		}
		statuses = append(statuses, ps)
	}
	pod := api.PodStatusDetail{
		Phase: podPhase(st.Phase),
		Conditions: []api.PodCondition{
			condition("PodScheduled", true, st.CreatedAt),
			condition("Initialized", initialized, st.StartedAt),
			condition("ContainersReady", ready, st.StartedAt),
			condition("Ready", ready, st.StartedAt),
		},
		ContainerStatuses: statuses,
		PodIP:             st.IPv4,
		StartTime:         timeText(st.StartedAt),
	}
	for _, ip := range []string{st.IPv4, st.IPv6} {
		if ip != "" {
			pod.PodIPs = append(pod.PodIPs, api.PodIPDetail{IP: ip})
		}
	}
	return api.ContainerGroupStatusData{
		ContainerGroupID: st.ID, Status: st.Phase, Name: name, UUID: st.ID, Annotations: "{}", PodStatus: pod,
	}
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupEvents

func (s *Server) describeContainerGroupEvents(c *call) (any, error) {
	var req api.DescribeContainerGroupEventsRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	ids, err := req.IDs()
	if err != nil {
		return nil, invalidParameter("ContainerGroupIds", "%v", err)
	}
	switch req.EventSource {
	case "", api.EventSourceEciService, api.EventSourceK8sAgent:
	default:
		return nil, invalidParameter("EventSource", "must be %s or %s, got %q", api.EventSourceEciService, api.EventSourceK8sAgent, req.EventSource)
	}
	if req.SinceSecond < 0 {
		return nil, invalidParameter("SinceSecond", "must be 0 or more, got %d", req.SinceSecond)
	}
	limit, err := pageLimit(req.Limit, api.EventsLimitDefault, api.EventsLimitDefault)
	if err != nil {
		return nil, err
	}
	groups := s.selectGroups(filter{ids: ids, region: req.RegionID, tags: req.Tag, zoneID: req.ZoneID, vSwitchID: req.VSwitchID, resourceGroupID: req.ResourceGroupID})
	pg, _, err := page(groups, req.NextToken, limit)
	if err != nil {
		return nil, err
	}
	var since time.Time
	if req.SinceSecond > 0 {
		since = s.opts.Now().Add(-time.Duration(req.SinceSecond) * time.Second)
	}
	resp := api.DescribeContainerGroupEventsResponse{RequestID: c.requestID, TotalCount: len(pg)}
	for _, st := range pg {
		d := api.ContainerGroupEventsData{ContainerGroupID: st.ID, UUID: st.ID, Annotations: "{}", Events: []api.ContainerGroupEvent{}}
		if st.Request != nil {
			d.Name = st.Request.ContainerGroupName
		}
		// Every event leci records is its own (the ECI service's); the
		// K8sAgent source has none.
		if req.EventSource != api.EventSourceK8sAgent {
			for i, e := range st.Events {
				if e.Last.Before(since) {
					continue
				}
				d.Events = append(d.Events, groupEvent(&st, d.Name, i, e))
			}
		}
		resp.Data = append(resp.Data, d)
	}
	return resp, nil
}

// groupEvent is an event as DescribeContainerGroupEvents shows it.
func groupEvent(st *runtime.GroupStatus, name string, i int, e runtime.Event) api.ContainerGroupEvent {
	object := name
	if e.Object != "" {
		object = name + "/" + e.Object
	}
	return api.ContainerGroupEvent{
		Count: e.Count, Type: e.Type, Reason: e.Reason, Message: e.Message,
		FirstTimestamp: timeText(e.First), LastTimestamp: timeText(e.Last),
		ReportingComponent: "leci", ReportingInstance: st.ID,
		Metadata:       api.EventMetadata{Name: st.ID + "." + strconv.Itoa(i+1)},
		Source:         api.EventSourceDetail{Component: api.EventSourceEciService},
		InvolvedObject: api.InvolvedObjectRef{Kind: "Pod", Name: object, UID: st.ID, APIVersion: "v1"},
	}
}
