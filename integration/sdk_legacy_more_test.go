//go:build integration

package integration

import (
	"strings"
	"testing"
	"time"

	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	legacy "github.com/aliyun/alibaba-cloud-sdk-go/services/eci"
)

// TestLegacySDKMoreActions drives the actions beyond the lifecycle that the
// older SDK has: DescribeRegions, DescribeContainerGroupPrice,
// DescribeMultiContainerGroupMetric, the image caches and
// UpdateContainerGroup (RenewUpdate, the only kind it sends).
func TestLegacySDKMoreActions(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client, point := d.legacyClient(t)

	regions := legacy.CreateDescribeRegionsRequest()
	point(regions)
	rr, err := client.DescribeRegions(regions)
	if err != nil || len(rr.Regions) != 1 || rr.Regions[0].RegionId != "cn-hangzhou" {
		t.Errorf("DescribeRegions: %v %+v", err, rr)
	}
	price := legacy.CreateDescribeContainerGroupPriceRequest()
	point(price)
	price.Cpu, price.Memory = requests.NewFloat(1), requests.NewFloat(2)
	pr, err := client.DescribeContainerGroupPrice(price)
	if err != nil || pr.PriceInfo.Price.TradePrice != 0 || pr.PriceInfo.Price.Currency == "" {
		t.Errorf("DescribeContainerGroupPrice: %v %+v", err, pr)
	}

	cache := legacy.CreateCreateImageCacheRequest()
	point(cache)
	cache.ImageCacheName, cache.Image = "legacy-cache", []string{image}
	cr, err := client.CreateImageCache(cache)
	if err != nil || !strings.HasPrefix(cr.ImageCacheId, "imc-") {
		t.Fatalf("CreateImageCache: %v %+v", err, cr)
	}
	describeCache := legacy.CreateDescribeImageCachesRequest()
	point(describeCache)
	describeCache.ImageCacheId = cr.ImageCacheId
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		dr, err := client.DescribeImageCaches(describeCache)
		if err != nil {
			t.Fatalf("DescribeImageCaches: %v", err)
		}
		if len(dr.ImageCaches) == 1 && dr.ImageCaches[0].Status == "Ready" && dr.ImageCaches[0].Progress == "100%" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeImageCaches: %+v", dr.ImageCaches)
		}
	}
	del := legacy.CreateDeleteImageCacheRequest()
	point(del)
	del.ImageCacheId = cr.ImageCacheId
	if _, err := client.DeleteImageCache(del); err != nil {
		t.Fatalf("DeleteImageCache: %v", err)
	}

	// A group (made with the tea SDK's helper), its metric, its update.
	g := sdkCreate(t, d.sdkClient(t, nil), "legacy-more", loop)
	ip := tea.StringValue(g.waitFor("running", 60*time.Second, running).IntranetIp)
	metric := legacy.CreateDescribeMultiContainerGroupMetricRequest()
	point(metric)
	metric.ContainerGroupIds = `["` + g.id + `"]`
	mr, err := client.DescribeMultiContainerGroupMetric(metric)
	if err != nil || len(mr.MonitorDatas) != 1 || mr.MonitorDatas[0].ContainerGroupId != g.id {
		t.Errorf("DescribeMultiContainerGroupMetric: %v %+v", err, mr)
	}
	update := legacy.CreateUpdateContainerGroupRequest()
	point(update)
	update.ContainerGroupId = g.id
	update.Container = &[]legacy.UpdateContainerGroupContainer{{
		Name: "app", Image: image, Command: []string{"sh", "-c", "echo legacy-updated > /tmp/mark; " + loop},
		VolumeMount: nil,
	}}
	if _, err := client.UpdateContainerGroup(update); err != nil {
		t.Fatalf("UpdateContainerGroup: %v", err)
	}
	updated := g.waitFor("running the new spec", 60*time.Second, func(d *eci.DescribeContainerGroupsResponseBodyContainerGroups) bool {
		return running(d) && hasEvent(d, "Updated", "")
	})
	if tea.StringValue(updated.IntranetIp) != ip {
		t.Errorf("IP %s after the update, want %s", tea.StringValue(updated.IntranetIp), ip)
	}
	if out := g.exec("app", "cat /tmp/mark"); out != "legacy-updated\n" {
		t.Errorf("the updated container: %q", out)
	}
}
