package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	eci "github.com/alibabacloud-go/eci-20180808/v3/client"

	"leci/api"
	"leci/commit"
	"leci/imagecache"
	"leci/internal/hostcap"
	"leci/pod"
	"leci/runtime"
	"leci/runtime/containerd"
)

// The fake engine's side of tags, events and updates.

func (f *fakeGroups) SetTags(id string, tags []api.Tag) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.groups[id]
	if !ok {
		return fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	req := *st.Request
	req.Tag = slices.Clone(tags)
	st.Request = &req
	return nil
}

func (f *fakeGroups) AddEvent(id, typ, reason, message string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.groups[id]
	if !ok {
		return fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	st.Events = append(st.Events, runtime.Event{Type: typ, Reason: reason, Message: message, Count: 1})
	return nil
}

func (f *fakeGroups) Update(_ context.Context, id string, req *api.CreateContainerGroupRequest) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.groups[id]
	if !ok {
		return fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	st.Request = req
	f.updates++
	return nil
}

var (
	_ Tagger  = (*fakeGroups)(nil)
	_ Eventer = (*fakeGroups)(nil)
	_ Updater = (*fakeGroups)(nil)
)

// TestEverySDKActionIsServedOrUnsupported walks the official SDK's client:
// each of its actions is served or answered as unsupported, and has a row
// in the README's table.
func TestEverySDKActionIsServedOrUnsupported(t *testing.T) {
	e := newTestEnv(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	ct := reflect.TypeFor[*eci.Client]()
	n := 0
	for i := 0; i < ct.NumMethod(); i++ {
		name, ok := strings.CutSuffix(ct.Method(i).Name, "WithOptions")
		if !ok || name == "" {
			continue
		}
		n++
		_, served := e.srv.actions[name]
		_, refused := unsupportedActions[name]
		if served == refused {
			t.Errorf("%s: served %v, unsupported %v: want exactly one", name, served, refused)
		}
		row := "| " + name + " |"
		if !strings.Contains(string(readme), row) {
			t.Errorf("README has no row %q", row)
		}
	}
	if n != 36 {
		t.Errorf("the SDK has %d actions; the table was made for 36", n)
	}
}

func TestUnsupportedActionAnswersNotSupportNamingIt(t *testing.T) {
	e := newTestEnv(t)
	er := e.wantError(t, action("CreateDataCache", "Name", "x"), http.StatusBadRequest, "CreateDataCache.NotSupport")
	if !strings.Contains(er.Message, "CreateDataCache") || !strings.Contains(er.Message, "cloud disk") {
		t.Errorf("message %q", er.Message)
	}
	e.wantError(t, action("NoSuchAction"), http.StatusNotFound, "InvalidAction.NotFound")
}

func fixedCapacity(cpus int, memGiB int64) func(*Options) {
	return func(o *Options) {
		o.Capacity = func() hostcap.Capacity { return hostcap.Capacity{CPUs: cpus, MemoryBytes: memGiB << 30, GPUs: 1} }
	}
}

func TestRegionsUsageResourcesPrice(t *testing.T) {
	e := newTestEnv(t, fixedCapacity(4, 8))
	var regions api.DescribeRegionsResponse
	e.call(t, action("DescribeRegions"), &regions)
	if len(regions.Regions) != 1 || regions.Regions[0].RegionID != "cn-hangzhou" || regions.Regions[0].Zones[0] != LocalZone {
		t.Errorf("DescribeRegions: %+v", regions)
	}
	p := action("DescribeRegions")
	p.Del("RegionId")
	e.call(t, p, &regions)
	if regions.Regions[0].RegionID != LocalRegion {
		t.Errorf("DescribeRegions without RegionId: %+v", regions)
	}

	e.create(t, webRequest("ga", "Cpu", "1", "Memory", "2"))
	e.create(t, webRequest("gb", "Container.1.Cpu", "0.5", "Container.1.Memory", "1", "Container.2.Cpu", "0.25"))
	var usage api.ListUsageResponse
	e.call(t, action("ListUsage"), &usage)
	a := usage.Attributes
	if a["UsedCpu"] != 1.75 || a["MaxCpu"] != 4.0 || a["UsedMemory"] != 3.0 || a["MaxMemory"] != 8.0 ||
		a["UsedContainerGroupCount"] != 2.0 || a["MaxGpu"] != 1.0 || a["MaxImageCacheCount"] != float64(MaxImageCaches) {
		t.Errorf("ListUsage: %v", a)
	}

	stock := func(cores, mem string) string {
		var r api.DescribeAvailableResourceResponse
		e.call(t, action("DescribeAvailableResource", "DestinationResource.Category", "InstanceType",
			"DestinationResource.Value", "ecs.c6.large", "DestinationResource.Cores", cores, "DestinationResource.Memory", mem), &r)
		z := r.AvailableZones.AvailableZone
		if len(z) != 1 || len(z[0].AvailableResources.AvailableResource) != 1 {
			t.Fatalf("DescribeAvailableResource: %+v", r)
		}
		sr := z[0].AvailableResources.AvailableResource[0].SupportedResources.SupportedResource
		if len(sr) != 1 || sr[0].Value != "ecs.c6.large" {
			t.Fatalf("DescribeAvailableResource: %+v", r)
		}
		return sr[0].StatusCategory
	}
	if got := stock("1", "4"); got != api.WithStock {
		t.Errorf("1 core, 4 GiB free of 2.25 and 5: %s", got)
	}
	if got := stock("3", "1"); got != api.WithoutStock {
		t.Errorf("3 cores of 2.25 free: %s", got)
	}
	e.wantError(t, action("DescribeAvailableResource"), http.StatusBadRequest, api.CodeMissingParameter)
	e.wantError(t, action("DescribeAvailableResource", "DestinationResource.Category", "Zone"), http.StatusBadRequest, api.CodeInvalidParameter)

	var price api.DescribeContainerGroupPriceResponse
	e.call(t, action("DescribeContainerGroupPrice", "Cpu", "2", "Memory", "4"), &price)
	if price.PriceInfo.Price.TradePrice != 0 || price.PriceInfo.Price.Currency != Currency || price.PriceInfo.Price.DetailInfos != nil {
		t.Errorf("DescribeContainerGroupPrice: %+v", price)
	}
}

func TestMultiContainerGroupMetric(t *testing.T) {
	e := newTestEnv(t)
	e.groups.metricRecords = []api.MetricRecord{{Timestamp: "2026-11-27T15:00:00.000Z"}, {Timestamp: "2026-11-27T15:00:15.000Z"}}
	a, b := e.create(t, webRequest("ga")), e.create(t, webRequest("gb"))
	var resp api.DescribeMultiContainerGroupMetricResponse
	e.call(t, action("DescribeMultiContainerGroupMetric", "ContainerGroupIds", `["`+a+`","`+b+`"]`), &resp)
	if len(resp.MonitorDatas) != 2 || resp.MonitorDatas[1].ContainerGroupID != b || len(resp.MonitorDatas[0].Records) != 1 ||
		resp.MonitorDatas[0].Records[0].Timestamp != "2026-11-27T15:00:15.000Z" {
		t.Errorf("DescribeMultiContainerGroupMetric: %+v", resp)
	}
	e.wantError(t, action("DescribeMultiContainerGroupMetric"), http.StatusBadRequest, api.CodeMissingParameter)
	e.wantError(t, action("DescribeMultiContainerGroupMetric", "ContainerGroupIds", `["eci-none"]`), http.StatusNotFound, CodeGroupNotFound)
}

func (e *testEnv) tagsOf(t *testing.T, typ string, ids ...string) map[string]string {
	t.Helper()
	p := action("ListTagResources", "ResourceType", typ)
	for i, id := range ids {
		p.Set(fmt.Sprintf("ResourceId.%d", i+1), id)
	}
	var resp api.ListTagResourcesResponse
	e.call(t, p, &resp)
	out := map[string]string{}
	for _, tr := range resp.TagResources {
		out[tr.ResourceID+"/"+tr.TagKey] = tr.TagValue
	}
	return out
}

func TestTagsOnGroups(t *testing.T) {
	e := newTestEnv(t)
	a := e.create(t, webRequest("ga", "Tag.1.Key", "app", "Tag.1.Value", "web"))
	b := e.create(t, webRequest("gb"))
	e.call(t, action("TagResources", "ResourceType", "ContainerGroup", "ResourceId.1", a, "ResourceId.2", b,
		"Tag.1.Key", "env", "Tag.1.Value", "test", "Tag.2.Key", "app", "Tag.2.Value", "api"), &api.ResponseMeta{})
	want := map[string]string{a + "/app": "api", a + "/env": "test", b + "/app": "api", b + "/env": "test"}
	if got := e.tagsOf(t, "ContainerGroup", a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("after TagResources: %v, want %v", got, want)
	}
	// DescribeContainerGroups filters on the new tags.
	var d api.DescribeContainerGroupsResponse
	e.call(t, action("DescribeContainerGroups", "Tag.1.Key", "env", "Tag.1.Value", "test"), &d)
	if d.TotalCount != 2 {
		t.Errorf("groups tagged env=test: %d", d.TotalCount)
	}
	// ListTagResources by tag, without ids.
	var lr api.ListTagResourcesResponse
	e.call(t, action("ListTagResources", "ResourceType", "ContainerGroup", "Tag.1.Key", "env"), &lr)
	if len(lr.TagResources) != 4 {
		t.Errorf("ListTagResources by tag: %+v", lr)
	}
	e.call(t, action("ListTagResources", "ResourceType", "ContainerGroup", "Limit", "3"), &lr)
	if len(lr.TagResources) != 3 || lr.NextToken == "" {
		t.Errorf("first page of 3: %+v", lr)
	}
	e.call(t, action("ListTagResources", "ResourceType", "ContainerGroup", "Limit", "3", "NextToken", lr.NextToken), &lr)
	if len(lr.TagResources) != 1 || lr.NextToken != "" {
		t.Errorf("last page: %+v", lr)
	}

	e.call(t, action("UntagResources", "ResourceType", "ContainerGroup", "ResourceId.1", a, "TagKey.1", "env"), &api.ResponseMeta{})
	e.call(t, action("UntagResources", "ResourceType", "ContainerGroup", "ResourceId.1", b, "All", "true"), &api.ResponseMeta{})
	want = map[string]string{a + "/app": "api"}
	if got := e.tagsOf(t, "ContainerGroup", a, b); !reflect.DeepEqual(got, want) {
		t.Errorf("after UntagResources: %v, want %v", got, want)
	}
}

func TestTagLimitsChangeNothing(t *testing.T) {
	e := newTestEnv(t)
	a := e.create(t, webRequest("ga"))
	tag := func(kv ...string) {
		t.Helper()
		e.call(t, action("TagResources", append([]string{"ResourceType", "ContainerGroup", "ResourceId.1", a}, kv...)...), &api.ResponseMeta{})
	}
	tag("Tag.1.Key", "keep", "Tag.1.Value", "1")
	before := e.tagsOf(t, "ContainerGroup", a)
	for _, tc := range []struct {
		name   string
		params []string
		status int
		code   string
	}{
		{"no type", []string{"ResourceId.1", a, "Tag.1.Key", "k"}, 400, api.CodeMissingParameter},
		{"bad type", []string{"ResourceType", "Disk", "ResourceId.1", a, "Tag.1.Key", "k"}, 400, api.CodeInvalidParameter},
		{"data cache", []string{"ResourceType", "DataCache", "ResourceId.1", a, "Tag.1.Key", "k"}, 400, "DataCache.NotSupport"},
		{"no ids", []string{"ResourceType", "ContainerGroup", "Tag.1.Key", "k"}, 400, api.CodeMissingParameter},
		{"no tags", []string{"ResourceType", "ContainerGroup", "ResourceId.1", a}, 400, api.CodeMissingParameter},
		{"aliyun key", []string{"ResourceType", "ContainerGroup", "ResourceId.1", a, "Tag.1.Key", "aliyun:x"}, 400, api.CodeInvalidParameter},
		{"url value", []string{"ResourceType", "ContainerGroup", "ResourceId.1", a, "Tag.1.Key", "k", "Tag.1.Value", "see https://x"}, 400, api.CodeInvalidParameter},
		{"long key", []string{"ResourceType", "ContainerGroup", "ResourceId.1", a, "Tag.1.Key", strings.Repeat("k", 129)}, 400, api.CodeInvalidParameter},
		{"one unknown id", []string{"ResourceType", "ContainerGroup", "ResourceId.1", a, "ResourceId.2", "eci-none", "Tag.1.Key", "k"}, 404, CodeGroupNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.wantError(t, action("TagResources", tc.params...), tc.status, tc.code)
		})
	}
	// 20 tags at most on a resource: 19 more fit, 20 do not.
	var kv []string
	for i := 1; i <= 20; i++ {
		kv = append(kv, fmt.Sprintf("Tag.%d.Key", i), fmt.Sprintf("k%d", i))
	}
	e.wantError(t, action("TagResources", append([]string{"ResourceType", "ContainerGroup", "ResourceId.1", a}, kv...)...),
		http.StatusBadRequest, CodeTagQuotaExceeded)
	if got := e.tagsOf(t, "ContainerGroup", a); !reflect.DeepEqual(got, before) {
		t.Errorf("refused calls changed the tags: %v, want %v", got, before)
	}
	tag(kv[:38]...)
	if got := len(e.tagsOf(t, "ContainerGroup", a)); got != 20 {
		t.Errorf("%d tags, want 20", got)
	}
}

// fakePuller pulls instantly; images named in fail do not pull. gate, when
// set, holds each pull until it is closed.
type fakePuller struct {
	mu     sync.Mutex
	pulled []string
	fail   map[string]bool
}

func (p *fakePuller) EnsureImage(_ context.Context, ref, policy string, _ pod.ImageAuth) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail[ref] {
		return fmt.Errorf("%s: %w", ref, pod.ErrImagePull)
	}
	p.pulled = append(p.pulled, ref+" "+policy)
	return nil
}

func withCaches(t *testing.T, p *fakePuller) func(*Options) {
	return func(o *Options) {
		m, err := imagecache.Open(imagecache.Options{Store: o.Tokens.(imagecache.Store), Puller: p, Normalize: containerd.NormalizeRef})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(m.Close)
		o.Caches = m
	}
}

func (e *testEnv) cache(t *testing.T, id string) api.ImageCacheDetail {
	t.Helper()
	var resp api.DescribeImageCachesResponse
	e.call(t, action("DescribeImageCaches", "ImageCacheId", id), &resp)
	if len(resp.ImageCaches) != 1 {
		t.Fatalf("DescribeImageCaches %s: %+v", id, resp)
	}
	return resp.ImageCaches[0]
}

func TestImageCachesAndMatchAtCreate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakePuller{fail: map[string]bool{"docker.io/library/nginx:broken": true}}
		e := newTestEnv(t, withCaches(t, p))
		var created api.CreateImageCacheResponse
		e.call(t, action("CreateImageCache", "ImageCacheName", "web", "Image.1", "busybox:1.35", "Image.2", "redis:7",
			"RetentionDays", "7", "Tag.1.Key", "team", "Tag.1.Value", "a", "ClientToken", "c1"), &created)
		if !strings.HasPrefix(created.ImageCacheID, "imc-") {
			t.Fatalf("CreateImageCache: %+v", created)
		}
		var again api.CreateImageCacheResponse
		e.call(t, action("CreateImageCache", "ImageCacheName", "web", "Image.1", "busybox:1.35", "ClientToken", "c1"), &again)
		if again.ImageCacheID != created.ImageCacheID {
			t.Errorf("a ClientToken used again made %s, not %s", again.ImageCacheID, created.ImageCacheID)
		}
		synctest.Wait()
		d := e.cache(t, created.ImageCacheID)
		if d.Status != api.CacheReady || d.Progress != "100%" || len(d.Images) != 2 || d.ExpireDateTime == "" ||
			len(d.Tags) != 1 || len(d.Events) == 0 {
			t.Errorf("cache: %+v", d)
		}
		if !slices.Contains(p.pulled, "docker.io/library/busybox:1.35 IfNotPresent") {
			t.Errorf("pulls: %v", p.pulled)
		}

		// A create that matches the cache: its image is taken as it is,
		// and the group says which cache it hit.
		id := e.create(t, webRequest("gg", "AutoMatchImageCache", "true", "Container.1.ImagePullPolicy", "Always"))
		st, _ := e.groups.Get(id)
		if st.Request.Container[0].ImagePullPolicy != api.PullIfNotPresent {
			t.Errorf("pull policy of a cached image: %s", st.Request.Container[0].ImagePullPolicy)
		}
		if !slices.ContainsFunc(st.Events, func(ev runtime.Event) bool {
			return ev.Reason == ReasonHitImageCache && strings.Contains(ev.Message, created.ImageCacheID)
		}) {
			t.Errorf("no %s event: %+v", ReasonHitImageCache, st.Events)
		}
		d = e.cache(t, created.ImageCacheID)
		if d.LastMatchedTime == "" {
			t.Errorf("LastMatchedTime not set: %+v", d)
		}
		e.create(t, webRequest("gs", "ImageSnapshotId", d.SnapshotID))
		e.wantError(t, webRequest("gx", "ImageSnapshotId", "s-none"), http.StatusNotFound, CodeSnapshotNotFound)

		// A cache whose pull fails is Failed and is not matched.
		var broken api.CreateImageCacheResponse
		e.call(t, action("CreateImageCache", "ImageCacheName", "broken", "Image.1", "nginx:broken"), &broken)
		synctest.Wait()
		if d := e.cache(t, broken.ImageCacheID); d.Status != api.CacheFailed || d.Progress != "0%" {
			t.Errorf("broken cache: %+v", d)
		}
		e.wantError(t, webRequest("gx", "ImageSnapshotId", broken.ImageCacheID), http.StatusBadRequest, CodeSnapshotIncorrectState)

		// Update, describe by image, tag, delete.
		e.call(t, action("UpdateImageCache", "ImageCacheId", broken.ImageCacheID, "Image.1", "nginx:1.25"), &api.ResponseMeta{})
		synctest.Wait()
		if d := e.cache(t, broken.ImageCacheID); d.Status != api.CacheReady || d.Images[0] != "nginx:1.25" || d.ImageCacheName != "broken" {
			t.Errorf("updated cache: %+v", d)
		}
		var list api.DescribeImageCachesResponse
		e.call(t, action("DescribeImageCaches", "Image", "redis"), &list)
		if list.TotalCount != 1 || list.ImageCaches[0].ImageCacheID != created.ImageCacheID {
			t.Errorf("caches holding redis: %+v", list)
		}
		e.call(t, action("TagResources", "ResourceType", "ImageCache", "ResourceId.1", broken.ImageCacheID, "Tag.1.Key", "team", "Tag.1.Value", "b"), &api.ResponseMeta{})
		e.call(t, action("DescribeImageCaches", "Tag.1.Key", "team", "Tag.1.Value", "b"), &list)
		if list.TotalCount != 1 || list.ImageCaches[0].ImageCacheID != broken.ImageCacheID {
			t.Errorf("caches tagged team=b: %+v", list)
		}
		e.call(t, action("DeleteImageCache", "ImageCacheId", broken.ImageCacheID), &api.ResponseMeta{})
		e.wantError(t, action("DeleteImageCache", "ImageCacheId", broken.ImageCacheID), http.StatusNotFound, CodeCacheNotFound)
		e.wantError(t, action("CreateImageCache", "ImageCacheName", "xx"), http.StatusBadRequest, api.CodeMissingParameter)
		e.wantError(t, action("CreateImageCache", "ImageCacheName", "y", "Image.1", "Bad Ref!"), http.StatusBadRequest, api.CodeInvalidParameter)
	})
}

func TestImageCacheActionsWithoutCachesAreUnsupported(t *testing.T) {
	e := newTestEnv(t)
	e.wantError(t, action("DescribeImageCaches"), http.StatusBadRequest, "DescribeImageCaches.NotSupport")
	e.create(t, webRequest("auto", "AutoMatchImageCache", "true")) // nothing to match: created as is
}

func TestUpdateContainerGroup(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("gu", "Tag.1.Key", "app", "Tag.1.Value", "web"))
	// Incremental: the web container's image changes, side stays.
	e.call(t, action("UpdateContainerGroup", "ContainerGroupId", id, "UpdateType", "IncrementalUpdate",
		"Container.1.Name", "web", "Container.1.Image", "busybox:1.36", "Container.1.EnvironmentVar.1.Key", "V",
		"Container.1.EnvironmentVar.1.Value", "2", "ClientToken", "u1"), &api.UpdateContainerGroupResponse{})
	st, _ := e.groups.Get(id)
	r := st.Request
	if len(r.Container) != 2 || r.Container[0].Image != "busybox:1.36" || r.Container[0].Command[0] != "httpd" ||
		len(r.Container[0].EnvironmentVar) != 1 || r.Container[1].Image != "busybox:1.35" || len(r.Tag) != 1 {
		t.Errorf("after an incremental update: %+v", r)
	}
	// The same token and parameters: done before, not again.
	e.call(t, action("UpdateContainerGroup", "ContainerGroupId", id, "UpdateType", "IncrementalUpdate",
		"Container.1.Name", "web", "Container.1.Image", "busybox:1.36", "Container.1.EnvironmentVar.1.Key", "V",
		"Container.1.EnvironmentVar.1.Value", "2", "ClientToken", "u1"), &api.UpdateContainerGroupResponse{})
	if e.groups.updates != 1 {
		t.Errorf("%d updates, want 1", e.groups.updates)
	}
	e.wantError(t, action("UpdateContainerGroup", "ContainerGroupId", id, "RestartPolicy", "Never", "ClientToken", "u1"),
		http.StatusBadRequest, CodeTokenMismatch)
	// Renew: the container list given replaces the group's.
	e.call(t, action("UpdateContainerGroup", "ContainerGroupId", id,
		"Container.1.Name", "only", "Container.1.Image", "busybox:1.36"), &api.UpdateContainerGroupResponse{})
	st, _ = e.groups.Get(id)
	if len(st.Request.Container) != 1 || st.Request.Container[0].Name != "only" {
		t.Errorf("after a renew update: %+v", st.Request.Container)
	}
	// Invalid updates change nothing.
	before := e.groups.updates
	e.wantError(t, action("UpdateContainerGroup", "ContainerGroupId", id, "RestartPolicy", "Sometimes"), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("UpdateContainerGroup", "ContainerGroupId", id, "UpdateType", "Partial"), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("UpdateContainerGroup", "ContainerGroupId", id, "Container.1.Name", "a", "Container.1.Image", "x",
		"Container.2.Name", "a", "Container.2.Image", "x"), http.StatusBadRequest, api.CodeDuplicatedName)
	e.wantError(t, action("UpdateContainerGroup"), http.StatusBadRequest, api.CodeMissingParameter)
	e.wantError(t, action("UpdateContainerGroup", "ContainerGroupId", "eci-none"), http.StatusNotFound, CodeGroupNotFound)
	if e.groups.updates != before {
		t.Errorf("refused updates reached the engine")
	}
}

// fakeCommitter commits instantly, or fails for refs in fail.
type fakeCommitter struct{ fail map[string]bool }

func (f fakeCommitter) Commit(_ context.Context, containerID, ref, _, _ string) (string, error) {
	if f.fail[ref] {
		return "", errors.New("no space left on device")
	}
	return "sha256:" + containerID, nil
}

func TestCommitContainer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e := newTestEnv(t, func(o *Options) {
			m, err := commit.Open(commit.Options{Store: o.Tokens.(commit.Store), Committer: fakeCommitter{fail: map[string]bool{"bad:1": true}}})
			if err != nil {
				t.Fatal(err)
			}
			o.Commits = m
		})
		id := e.create(t, webRequest("gc"))
		var ok, bad api.CommitContainerResponse
		e.call(t, action("CommitContainer", "ContainerGroupId", id, "ContainerName", "web", "Image.Repository", "mine/web", "Image.Tag", "v1"), &ok)
		e.call(t, action("CommitContainer", "ContainerGroupId", id, "ContainerName", "side", "Image.Repository", "bad", "Image.Tag", "1"), &bad)
		synctest.Wait()
		var tasks api.DescribeCommitContainerTaskResponse
		e.call(t, action("DescribeCommitContainerTask", "ContainerGroupId", id), &tasks)
		if tasks.TotalCount != 2 {
			t.Fatalf("tasks: %+v", tasks)
		}
		for _, task := range tasks.CommitTasks {
			want, progress := api.TaskSucceeded, "100%"
			if task.TaskID == bad.TaskID {
				want, progress = api.TaskFailed, "0%"
			}
			if task.TaskStatus != want || task.TaskProgress != progress || task.TaskFinishedTime == "" || len(task.CommitPhaseInfos) != 1 {
				t.Errorf("task %+v, want %s", task, want)
			}
		}
		e.call(t, action("DescribeCommitContainerTask", "ContainerGroupId", id, "TaskId.1", ok.TaskID), &tasks)
		if tasks.TotalCount != 1 || tasks.CommitTasks[0].ContainerName != "web" {
			t.Errorf("task by id: %+v", tasks)
		}
		e.wantError(t, action("CommitContainer", "ContainerGroupId", id, "ContainerName", "web"), http.StatusBadRequest, api.CodeMissingParameter)
		e.wantError(t, action("CommitContainer", "ContainerGroupId", id, "ContainerName", "nope", "Image.Repository", "x"), http.StatusNotFound, CodeContainerNotFound)
		e.wantError(t, action("DescribeCommitContainerTask", "ContainerGroupId", id, "TaskStatus", "Paused"), http.StatusBadRequest, api.CodeInvalidParameter)
	})
}
