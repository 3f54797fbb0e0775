//go:build integration

package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/containerd/containerd/v2/core/images"
)

// sdkGroup is a helper over the tea SDK for the tests of the actions
// beyond the lifecycle.
type sdkGroup struct {
	t       *testing.T
	client  *eci.Client
	id      string
	deleted bool
}

var region = tea.String("cn-hangzhou")

// sdkCreate creates a group of one container running script (in sh), with
// an EmptyDir volume at /data, and waits for it to run.
func sdkCreate(t *testing.T, client *eci.Client, name, script string, edit ...func(*eci.CreateContainerGroupRequest)) *sdkGroup {
	t.Helper()
	req := &eci.CreateContainerGroupRequest{
		RegionId: region, ContainerGroupName: tea.String(name), RestartPolicy: tea.String("Always"),
		TerminationGracePeriodSeconds: tea.Int64(1),
		Volume: []*eci.CreateContainerGroupRequestVolume{{
			Name: tea.String("data"), Type: tea.String("EmptyDirVolume"),
			EmptyDirVolume: &eci.CreateContainerGroupRequestVolumeEmptyDirVolume{},
		}},
		Container: []*eci.CreateContainerGroupRequestContainer{{
			Name: tea.String("app"), Image: tea.String(image),
			Command:     []*string{tea.String("sh"), tea.String("-c"), tea.String(script)},
			VolumeMount: []*eci.CreateContainerGroupRequestContainerVolumeMount{{Name: tea.String("data"), MountPath: tea.String("/data")}},
		}},
	}
	for _, f := range edit {
		f(req)
	}
	resp, err := client.CreateContainerGroup(req)
	if err != nil {
		t.Fatalf("CreateContainerGroup: %v", err)
	}
	g := &sdkGroup{t: t, client: client, id: tea.StringValue(resp.Body.ContainerGroupId)}
	t.Cleanup(g.delete)
	return g
}

// delete deletes the group, once, and waits for it to be gone.
func (g *sdkGroup) delete() {
	if g.deleted {
		return
	}
	g.deleted = true
	g.client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(g.id)})
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if g.describeOrNil() == nil {
			return
		}
	}
	g.t.Errorf("%s was not deleted", g.id)
}

func (g *sdkGroup) describeOrNil() *eci.DescribeContainerGroupsResponseBodyContainerGroups {
	resp, err := g.client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{
		RegionId: region, ContainerGroupIds: tea.String(`["` + g.id + `"]`),
	})
	if err != nil {
		g.t.Fatalf("DescribeContainerGroups: %v", err)
	}
	if len(resp.Body.ContainerGroups) == 0 {
		return nil
	}
	return resp.Body.ContainerGroups[0]
}

// waitFor describes the group until cond holds.
func (g *sdkGroup) waitFor(what string, timeout time.Duration, cond func(*eci.DescribeContainerGroupsResponseBodyContainerGroups) bool) *eci.DescribeContainerGroupsResponseBodyContainerGroups {
	g.t.Helper()
	var d *eci.DescribeContainerGroupsResponseBodyContainerGroups
	for deadline := time.Now().Add(timeout); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if d = g.describeOrNil(); d != nil && cond(d) {
			return d
		}
	}
	g.t.Fatalf("%s: not %s within %s: %s", g.id, what, timeout, d)
	return nil
}

func running(d *eci.DescribeContainerGroupsResponseBodyContainerGroups) bool {
	if tea.StringValue(d.Status) != "Running" || len(d.Containers) == 0 {
		return false
	}
	for _, c := range d.Containers {
		if tea.StringValue(c.CurrentState.State) != "Running" {
			return false
		}
	}
	return true
}

// exec runs a command in the group's first container.
func (g *sdkGroup) exec(container string, cmd string) string {
	g.t.Helper()
	resp, err := g.client.ExecContainerCommand(&eci.ExecContainerCommandRequest{
		RegionId: region, ContainerGroupId: tea.String(g.id), ContainerName: tea.String(container),
		Command: tea.String(`["sh","-c",` + jsonString(cmd) + `]`), Sync: tea.Bool(true), TTY: tea.Bool(false), Stdin: tea.Bool(false),
	})
	if err != nil {
		g.t.Fatalf("exec %q: %v", cmd, err)
	}
	return tea.StringValue(resp.Body.SyncResponse)
}

func jsonString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

func hasEvent(d *eci.DescribeContainerGroupsResponseBodyContainerGroups, reason, text string) bool {
	for _, e := range d.Events {
		if tea.StringValue(e.Reason) == reason && strings.Contains(tea.StringValue(e.Message), text) {
			return true
		}
	}
	return false
}

func sdkCode(err error) string {
	var se *tea.SDKError
	if errors.As(err, &se) {
		return tea.StringValue(se.Code)
	}
	return ""
}

const loop = "trap 'exit 0' TERM; while true; do sleep 0.2; done"

// TestSDKDescribesTagsAndUnsupported drives DescribeRegions,
// DescribeAvailableResource, ListUsage, DescribeContainerGroupPrice,
// DescribeMultiContainerGroupMetric, the tag actions and an unsupported
// action through the official tea SDK (v3 signature) against the daemon.
func TestSDKDescribesTagsAndUnsupported(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client := d.sdkClient(t, nil)

	regions, err := client.DescribeRegions(&eci.DescribeRegionsRequest{RegionId: region})
	if err != nil {
		t.Fatalf("DescribeRegions: %v", err)
	}
	if len(regions.Body.Regions) != 1 || tea.StringValue(regions.Body.Regions[0].RegionId) != "cn-hangzhou" ||
		tea.StringValue(regions.Body.Regions[0].RegionEndpoint) != d.addr {
		t.Errorf("DescribeRegions: %s", regions.Body)
	}

	g := sdkCreate(t, client, "sdk-more", loop, func(r *eci.CreateContainerGroupRequest) {
		r.Cpu, r.Memory = tea.Float32(0.25), tea.Float32(0.5)
	})
	g.waitFor("running", 60*time.Second, running)

	usage, err := client.ListUsage(&eci.ListUsageRequest{RegionId: region})
	if err != nil {
		t.Fatalf("ListUsage: %v", err)
	}
	// The SDK decodes Attributes' numbers as it likes: compare their text.
	a := map[string]string{}
	for k, v := range usage.Body.Attributes {
		a[k] = fmt.Sprint(v)
	}
	if a["UsedCpu"] != "0.25" || a["UsedMemory"] != "0.5" || a["UsedContainerGroupCount"] != "1" ||
		a["MaxCpu"] != strconv.Itoa(goruntime.NumCPU()) || a["MaxMemory"] == "0" || a["MaxImageCacheCount"] != "50" {
		t.Errorf("ListUsage: %v", a)
	}
	res, err := client.DescribeAvailableResource(&eci.DescribeAvailableResourceRequest{RegionId: region,
		DestinationResource: &eci.DescribeAvailableResourceRequestDestinationResource{
			Category: tea.String("InstanceType"), Value: tea.String("ecs.c6.large"), Cores: tea.Float32(100000), Memory: tea.Float32(1),
		}})
	if err != nil {
		t.Fatalf("DescribeAvailableResource: %v", err)
	}
	zones := res.Body.AvailableZones.AvailableZone
	if len(zones) != 1 || tea.StringValue(zones[0].AvailableResources.AvailableResource[0].SupportedResources.SupportedResource[0].StatusCategory) != "WithoutStock" {
		t.Errorf("DescribeAvailableResource for 100000 cores: %s", res.Body)
	}
	price, err := client.DescribeContainerGroupPrice(&eci.DescribeContainerGroupPriceRequest{RegionId: region, Cpu: tea.Float32(2), Memory: tea.Float32(4)})
	if err != nil {
		t.Fatalf("DescribeContainerGroupPrice: %v", err)
	}
	if p := price.Body.PriceInfo.Price; tea.Float32Value(p.TradePrice) != 0 || tea.StringValue(p.Currency) == "" {
		t.Errorf("DescribeContainerGroupPrice: %s", price.Body)
	}
	var metric *eci.DescribeMultiContainerGroupMetricResponse
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		metric, err = client.DescribeMultiContainerGroupMetric(&eci.DescribeMultiContainerGroupMetricRequest{
			RegionId: region, ContainerGroupIds: tea.String(`["` + g.id + `"]`)})
		if err != nil {
			t.Fatalf("DescribeMultiContainerGroupMetric: %v", err)
		}
		m := metric.Body.MonitorDatas
		if len(m) == 1 && tea.StringValue(m[0].ContainerGroupId) == g.id && len(m[0].Records) == 1 &&
			tea.Int64Value(m[0].Records[0].Memory.WorkingSet) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeMultiContainerGroupMetric: %s", metric.Body)
		}
	}

	// Tags.
	if _, err := client.TagResources(&eci.TagResourcesRequest{RegionId: region, ResourceType: tea.String("ContainerGroup"),
		ResourceId: []*string{tea.String(g.id)},
		Tag:        []*eci.TagResourcesRequestTag{{Key: tea.String("team"), Value: tea.String("a")}, {Key: tea.String("env"), Value: tea.String("ci")}},
	}); err != nil {
		t.Fatalf("TagResources: %v", err)
	}
	list := func() map[string]string {
		t.Helper()
		resp, err := client.ListTagResources(&eci.ListTagResourcesRequest{RegionId: region, ResourceType: tea.String("ContainerGroup"),
			ResourceId: []*string{tea.String(g.id)}})
		if err != nil {
			t.Fatalf("ListTagResources: %v", err)
		}
		out := map[string]string{}
		for _, tr := range resp.Body.TagResources {
			out[tea.StringValue(tr.TagKey)] = tea.StringValue(tr.TagValue)
		}
		return out
	}
	if got := list(); got["team"] != "a" || got["env"] != "ci" || len(got) != 2 {
		t.Errorf("tags after TagResources: %v", got)
	}
	if _, err := client.UntagResources(&eci.UntagResourcesRequest{RegionId: region, ResourceType: tea.String("ContainerGroup"),
		ResourceId: []*string{tea.String(g.id)}, TagKey: []*string{tea.String("env")}}); err != nil {
		t.Fatalf("UntagResources: %v", err)
	}
	if got := list(); len(got) != 1 || got["team"] != "a" {
		t.Errorf("tags after UntagResources: %v", got)
	}
	if got := g.describeOrNil(); len(got.Tags) != 1 || tea.StringValue(got.Tags[0].Key) != "team" {
		t.Errorf("DescribeContainerGroups' tags: %s", got.Tags)
	}
	_, err = client.TagResources(&eci.TagResourcesRequest{RegionId: region, ResourceType: tea.String("ContainerGroup"),
		ResourceId: []*string{tea.String(g.id)}, Tag: []*eci.TagResourcesRequestTag{{Key: tea.String("aliyun-x"), Value: tea.String("1")}}})
	if sdkCode(err) != "InvalidParameter" {
		t.Errorf("a tag key starting with aliyun: %v", err)
	}

	// An action that has no meaning here.
	_, err = client.CreateDataCache(&eci.CreateDataCacheRequest{RegionId: region, Name: tea.String("dc"), Bucket: tea.String("default"), Path: tea.String("/x")})
	if sdkCode(err) != "CreateDataCache.NotSupport" || !strings.Contains(err.Error(), "CreateDataCache") {
		t.Errorf("CreateDataCache: %v", err)
	}
}

// TestSDKUpdateContainerGroup updates a running group in place with the
// tea SDK: an incremental update of the container's env and command
// recreates it in the same group with the same IP and the same EmptyDir
// contents; an update of tags only restarts nothing; an invalid update
// changes nothing.
func TestSDKUpdateContainerGroup(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client := d.sdkClient(t, nil)
	g := sdkCreate(t, client, "sdk-update", "echo kept > /data/mark; "+loop)
	before := g.waitFor("running", 60*time.Second, running)
	ip := tea.StringValue(before.IntranetIp)
	if net.ParseIP(ip) == nil {
		t.Fatalf("no IP: %s", before)
	}
	started := tea.StringValue(before.Containers[0].CurrentState.StartTime)

	// Tags only: the container keeps running, untouched.
	if _, err := client.UpdateContainerGroup(&eci.UpdateContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(g.id),
		UpdateType: tea.String("IncrementalUpdate"), Tag: []*eci.UpdateContainerGroupRequestTag{{Key: tea.String("v"), Value: tea.String("1")}}}); err != nil {
		t.Fatalf("UpdateContainerGroup of tags: %v", err)
	}
	after := g.describeOrNil()
	if len(after.Tags) != 1 || tea.StringValue(after.Containers[0].CurrentState.StartTime) != started || tea.StringValue(after.Status) != "Running" {
		t.Errorf("a tags-only update touched the group: %s", after)
	}

	// Invalid: nothing changes.
	_, err := client.UpdateContainerGroup(&eci.UpdateContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(g.id),
		RestartPolicy: tea.String("Sometimes")})
	if sdkCode(err) != "InvalidParameter" {
		t.Errorf("an invalid RestartPolicy: %v", err)
	}
	if now := g.describeOrNil(); tea.StringValue(now.Containers[0].CurrentState.StartTime) != started || tea.StringValue(now.RestartPolicy) != "Always" {
		t.Errorf("an invalid update changed the group: %s", now)
	}

	// Env and command: recreated in place.
	if _, err := client.UpdateContainerGroup(&eci.UpdateContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(g.id),
		UpdateType: tea.String("IncrementalUpdate"), ClientToken: tea.String("upd-1"),
		Container: []*eci.UpdateContainerGroupRequestContainer{{
			Name:           tea.String("app"),
			Command:        []*string{tea.String("sh"), tea.String("-c"), tea.String("echo updated-$V; " + loop)},
			EnvironmentVar: []*eci.UpdateContainerGroupRequestContainerEnvironmentVar{{Key: tea.String("V"), Value: tea.String("2")}},
		}}}); err != nil {
		t.Fatalf("UpdateContainerGroup: %v", err)
	}
	updated := g.waitFor("running the new spec", 60*time.Second, func(d *eci.DescribeContainerGroupsResponseBodyContainerGroups) bool {
		return running(d) && hasEvent(d, "Updated", "") && len(d.Containers[0].EnvironmentVars) == 1
	})
	if got := tea.StringValue(updated.IntranetIp); got != ip {
		t.Errorf("IP %s after the update, want %s", got, ip)
	}
	if tea.StringValue(updated.ContainerGroupId) != g.id || len(updated.Tags) != 1 {
		t.Errorf("after the update: %s", updated)
	}
	if out := g.exec("app", "echo $V; cat /data/mark"); out != "2\nkept\n" {
		t.Errorf("in the updated container: %q, want the new env and the volume's contents", out)
	}
}

// TestSDKImageCacheAndCommit makes an image cache of the test image and
// creates a group on it, commits a container's change to a new image and
// runs a group of that image, all through the tea SDK.
func TestSDKImageCacheAndCommit(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client := d.sdkClient(t, nil)

	created, err := client.CreateImageCache(&eci.CreateImageCacheRequest{RegionId: region, ImageCacheName: tea.String("busybox-cache"),
		Image: []*string{tea.String(image)}, RetentionDays: tea.Int32(1),
		Tag: []*eci.CreateImageCacheRequestTag{{Key: tea.String("team"), Value: tea.String("a")}}})
	if err != nil {
		t.Fatalf("CreateImageCache: %v", err)
	}
	cacheID := tea.StringValue(created.Body.ImageCacheId)
	describeCache := func(id string) *eci.DescribeImageCachesResponseBodyImageCaches {
		t.Helper()
		resp, err := client.DescribeImageCaches(&eci.DescribeImageCachesRequest{RegionId: region, ImageCacheId: tea.String(id)})
		if err != nil {
			t.Fatalf("DescribeImageCaches: %v", err)
		}
		if len(resp.Body.ImageCaches) != 1 {
			t.Fatalf("DescribeImageCaches %s: %s", id, resp.Body)
		}
		return resp.Body.ImageCaches[0]
	}
	waitCache := func(id, status string) *eci.DescribeImageCachesResponseBodyImageCaches {
		t.Helper()
		var c *eci.DescribeImageCachesResponseBodyImageCaches
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			if c = describeCache(id); tea.StringValue(c.Status) == status {
				return c
			}
		}
		t.Fatalf("cache %s not %s: %s", id, status, c)
		return nil
	}
	c := waitCache(cacheID, "Ready")
	if tea.StringValue(c.Progress) != "100%" || tea.StringValue(c.ExpireDateTime) == "" || len(c.Tags) != 1 || len(c.Events) == 0 {
		t.Errorf("ready cache: %s", c)
	}
	// An image that cannot be pulled (the test registry is a closed port).
	broken, err := client.CreateImageCache(&eci.CreateImageCacheRequest{RegionId: region, ImageCacheName: tea.String("broken"),
		Image: []*string{tea.String("127.0.0.1:1/leci/nothing:1")}})
	if err != nil {
		t.Fatalf("CreateImageCache: %v", err)
	}
	waitCache(tea.StringValue(broken.Body.ImageCacheId), "Failed")

	// A group on the cache: its image is used as it is, not pulled again
	// (Always would fail: the registry is a closed port).
	g := sdkCreate(t, client, "on-cache", loop, func(r *eci.CreateContainerGroupRequest) {
		r.AutoMatchImageCache = tea.Bool(true)
		r.Container[0].ImagePullPolicy = tea.String("Always")
	})
	gd := g.waitFor("running", 60*time.Second, running)
	if !hasEvent(gd, "SuccessfulHitImageCache", cacheID) {
		t.Errorf("no SuccessfulHitImageCache event naming %s: %s", cacheID, gd.Events)
	}
	_, err = client.CreateContainerGroup(&eci.CreateContainerGroupRequest{RegionId: region, ContainerGroupName: tea.String("no-snap"),
		ImageSnapshotId: tea.String("s-none"),
		Container:       []*eci.CreateContainerGroupRequestContainer{{Name: tea.String("app"), Image: tea.String(image)}}})
	if sdkCode(err) != "ImageSnapshot.NotFound" {
		t.Errorf("an unknown ImageSnapshotId: %v", err)
	}

	// Tags and update of the cache, then its deletion.
	if _, err := client.TagResources(&eci.TagResourcesRequest{RegionId: region, ResourceType: tea.String("ImageCache"),
		ResourceId: []*string{tea.String(cacheID)}, Tag: []*eci.TagResourcesRequestTag{{Key: tea.String("env"), Value: tea.String("ci")}}}); err != nil {
		t.Fatalf("TagResources on a cache: %v", err)
	}
	if _, err := client.UpdateImageCache(&eci.UpdateImageCacheRequest{RegionId: region, ImageCacheId: tea.String(cacheID),
		ImageCacheName: tea.String("busybox-renamed")}); err != nil {
		t.Fatalf("UpdateImageCache: %v", err)
	}
	c = waitCache(cacheID, "Ready")
	if tea.StringValue(c.ImageCacheName) != "busybox-renamed" || len(c.Tags) != 2 {
		t.Errorf("updated cache: %s", c)
	}
	if _, err := client.DeleteImageCache(&eci.DeleteImageCacheRequest{RegionId: region, ImageCacheId: tea.String(cacheID)}); err != nil {
		t.Fatalf("DeleteImageCache: %v", err)
	}
	if _, err := client.DeleteImageCache(&eci.DeleteImageCacheRequest{RegionId: region, ImageCacheId: tea.String(cacheID)}); sdkCode(err) != "InvalidImageCache.NotFound" {
		t.Errorf("deleting a deleted cache: %v", err)
	}

	// Commit: a file written in the container is in the new image.
	g.exec("app", "echo committed-by-leci > /committed")
	commit, err := client.CommitContainer(&eci.CommitContainerRequest{RegionId: region, ContainerGroupId: tea.String(g.id),
		ContainerName: tea.String("app"), Image: &eci.CommitContainerRequestImage{
			Repository: tea.String("leci.local/committed"), Tag: tea.String("v1"), Author: tea.String("it"), Message: tea.String("a file")}})
	if err != nil {
		t.Fatalf("CommitContainer: %v", err)
	}
	taskID := tea.StringValue(commit.Body.TaskId)
	var task *eci.DescribeCommitContainerTaskResponseBodyCommitTasks
	for deadline := time.Now().Add(120 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		resp, err := client.DescribeCommitContainerTask(&eci.DescribeCommitContainerTaskRequest{RegionId: region,
			ContainerGroupId: tea.String(g.id), TaskId: []*string{tea.String(taskID)}})
		if err != nil {
			t.Fatalf("DescribeCommitContainerTask: %v", err)
		}
		if len(resp.Body.CommitTasks) == 1 {
			task = resp.Body.CommitTasks[0]
			if tea.StringValue(task.TaskStatus) != "Running" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("commit task: %s", resp.Body)
		}
	}
	if tea.StringValue(task.TaskStatus) != "Succeeded" || tea.StringValue(task.TaskProgress) != "100%" {
		t.Fatalf("commit task: %s", task)
	}
	if !running(g.describeOrNil()) {
		t.Errorf("the committed container is not running any more")
	}
	t.Cleanup(func() { removeImage(t, hr, "leci.local/committed:v1", "leci.local/committed:v1") })
	c2 := sdkCreate(t, client, "from-commit", "cat /committed; "+loop, func(r *eci.CreateContainerGroupRequest) {
		r.Container[0].Image, r.Container[0].ImagePullPolicy = tea.String("leci.local/committed:v1"), tea.String("Never")
	})
	c2.waitFor("running", 60*time.Second, running)
	if out := c2.exec("app", "cat /committed"); out != "committed-by-leci\n" {
		t.Errorf("in a group of the committed image: %q", out)
	}
}

// removeImage removes an image a test made (by its containerd and its
// Docker name), so that the harness finds only the test images.
func removeImage(t *testing.T, hr *harness, containerdName, dockerName string) {
	ctx := context.Background()
	if hr.h.Conn != nil {
		cctx := hr.h.Conn.WithNamespace(ctx)
		if err := hr.h.Conn.Client().ImageService().Delete(cctx, containerdName, images.SynchronousDelete()); err != nil {
			t.Errorf("remove image %s: %v", containerdName, err)
		}
	}
	if hr.h.Docker != nil {
		if err := hr.h.Docker.RemoveImage(ctx, dockerName); err != nil {
			t.Errorf("remove image %s: %v", dockerName, err)
		}
	}
}

// TestSDKUpdateSurvivesDaemonKill kills the daemon (SIGKILL) while an
// update stops the group's old container; the next daemon finishes the
// update: the group runs the new spec with the same IP.
func TestSDKUpdateSurvivesDaemonKill(t *testing.T) {
	hr := newHarness(t)
	global := hr.leci("").Args[1:]
	d := startTCPDaemon(t, hr.cfg.Root, global)
	g := sdkCreate(t, d.sdkClient(t, nil), "sdk-kill", "trap '' TERM; while true; do sleep 0.2; done", func(r *eci.CreateContainerGroupRequest) {
		// The old container ignores SIGTERM: the stop takes this long,
		// the daemon's kill a second into it leaving three to go.
		r.TerminationGracePeriodSeconds = tea.Int64(4)
	})
	ip := tea.StringValue(g.waitFor("running", 60*time.Second, running).IntranetIp)
	if _, err := g.client.UpdateContainerGroup(&eci.UpdateContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(g.id),
		UpdateType: tea.String("IncrementalUpdate"),
		Container: []*eci.UpdateContainerGroupRequestContainer{{
			Name: tea.String("app"), Command: []*string{tea.String("sh"), tea.String("-c"), tea.String(loop)},
			EnvironmentVar: []*eci.UpdateContainerGroupRequestContainerEnvironmentVar{{Key: tea.String("V"), Value: tea.String("after-kill")}},
		}}}); err != nil {
		t.Fatalf("UpdateContainerGroup: %v", err)
	}
	g.waitFor("Updating", 10*time.Second, func(d *eci.DescribeContainerGroupsResponseBodyContainerGroups) bool {
		return tea.StringValue(d.Status) == "Updating"
	})
	time.Sleep(time.Second) // in the middle of the old container's grace period
	d.cmd.Process.Kill()
	d.cmd.Wait()

	d2 := startTCPDaemon(t, hr.cfg.Root, global)
	g.client = d2.sdkClient(t, nil)
	updated := g.waitFor("running the new spec", 90*time.Second, func(d *eci.DescribeContainerGroupsResponseBodyContainerGroups) bool {
		return running(d) && hasEvent(d, "Updated", "")
	})
	if got := tea.StringValue(updated.IntranetIp); got != ip {
		t.Errorf("IP %s after the update, want %s", got, ip)
	}
	if out := g.exec("app", "echo $V"); out != "after-kill\n" {
		t.Errorf("the updated container's V: %q", out)
	}
	g.delete() // while d2 runs: its cleanup stops it before the group's
}
