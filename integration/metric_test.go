//go:build integration

package integration

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"
)

// TestMetricThroughSDK asks the daemon for the usage of a real group with
// the official SDK: a container that burns CPU under a limit of half a core
// and holds 20 MiB in a memory EmptyDir, and that the host sends traffic to.
func TestMetricThroughSDK(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client := d.sdkClient(t, nil)
	region := tea.String("cn-hangzhou")

	created, err := client.CreateContainerGroup(&eci.CreateContainerGroupRequest{
		RegionId:                      region,
		ContainerGroupName:            tea.String("metric"),
		Cpu:                           tea.Float32(0.25),
		Memory:                        tea.Float32(0.5),
		TerminationGracePeriodSeconds: tea.Int64(1),
		Container: []*eci.CreateContainerGroupRequestContainer{{
			Name:  tea.String("burn"),
			Image: tea.String(image),
			Command: []*string{tea.String("sh"), tea.String("-c"),
				tea.String("dd if=/dev/zero of=/shm/blob bs=1M count=20 && while :; do :; done")},
			VolumeMount: []*eci.CreateContainerGroupRequestContainerVolumeMount{{Name: tea.String("shm"), MountPath: tea.String("/shm")}},
		}},
		Volume: []*eci.CreateContainerGroupRequestVolume{{
			Name: tea.String("shm"), Type: tea.String("EmptyDirVolume"),
			EmptyDirVolume: &eci.CreateContainerGroupRequestVolumeEmptyDirVolume{Medium: tea.String("Memory")},
		}},
	})
	if err != nil {
		t.Fatalf("CreateContainerGroup: %v", err)
	}
	id := tea.StringValue(created.Body.ContainerGroupId)
	defer deleteThroughSDK(t, client, id)

	ip := waitRunningThroughSDK(t, client, id)
	metric := func(req *eci.DescribeContainerGroupMetricRequest) *eci.DescribeContainerGroupMetricResponseBody {
		t.Helper()
		req.RegionId, req.ContainerGroupId = region, tea.String(id)
		resp, err := client.DescribeContainerGroupMetric(req)
		if err != nil {
			t.Fatalf("DescribeContainerGroupMetric: %v", err)
		}
		if tea.StringValue(resp.Body.ContainerGroupId) != id || tea.StringValue(resp.Body.RequestId) == "" || len(resp.Body.Records) == 0 {
			t.Fatalf("DescribeContainerGroupMetric answered %s", resp.Body)
		}
		return resp.Body
	}
	latest := func(b *eci.DescribeContainerGroupMetricResponseBody) *eci.DescribeContainerGroupMetricResponseBodyRecords {
		return b.Records[len(b.Records)-1]
	}

	// A group a moment old answers already, and its memory reaches what
	// the container wrote once dd is done.
	const written = 20 << 20
	deadline := time.Now().Add(60 * time.Second)
	for tea.Int64Value(latest(metric(&eci.DescribeContainerGroupMetricRequest{})).Memory.UsageBytes) < written {
		if time.Now().After(deadline) {
			t.Fatalf("memory never reached %d bytes: %s", written, latest(metric(&eci.DescribeContainerGroupMetricRequest{})))
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Traffic from the host to the group: a connection to a closed port
	// is a SYN in and a RST out.
	for range 3 {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "81"), 2*time.Second); err == nil {
			c.Close()
		}
	}
	// Let the loop burn for a while after dd.
	time.Sleep(2 * time.Second)

	from := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	b := metric(&eci.DescribeContainerGroupMetricRequest{StartTime: tea.String(from), Period: tea.String("15")})
	r := latest(b)
	t.Logf("latest record: %s", r)
	if _, err := time.Parse(time.RFC3339, tea.StringValue(r.Timestamp)); err != nil {
		t.Errorf("Timestamp: %v", err)
	}
	cpu := r.CPU
	if tea.Int64Value(cpu.Limit) != 250 {
		t.Errorf("CPU.Limit = %d, want 250 (0.25 vCPU)", tea.Int64Value(cpu.Limit))
	}
	if tea.Int64Value(cpu.UsageCoreNanoSeconds) <= 0 {
		t.Errorf("CPU.UsageCoreNanoSeconds = %d, want > 0", tea.Int64Value(cpu.UsageCoreNanoSeconds))
	}
	// Busy, and held to the limit by the CFS quota (with a margin for the
	// sampling).
	if n := tea.Int64Value(cpu.UsageNanoCores); n <= 0 || n > 3e8 {
		t.Errorf("CPU.UsageNanoCores = %d, want in (0, 0.3 cores]", n)
	}
	mem := r.Memory
	if tea.Int64Value(mem.UsageBytes) < written {
		t.Errorf("Memory.UsageBytes = %d, want at least the %d bytes written", tea.Int64Value(mem.UsageBytes), written)
	}
	if a := tea.Int64Value(mem.AvailableBytes); a <= 0 || a > 512<<20-written {
		t.Errorf("Memory.AvailableBytes = %d, want below the 512 MiB limit less what was written", a)
	}
	var eth0 *eci.DescribeContainerGroupMetricResponseBodyRecordsNetworkInterfaces
	for _, i := range r.Network.Interfaces {
		if tea.StringValue(i.Name) == "lo" {
			t.Error("loopback among the interfaces")
		}
		if tea.StringValue(i.Name) == "eth0" {
			eth0 = i
		}
	}
	if eth0 == nil || tea.Int64Value(eth0.RxBytes) <= 0 || tea.Int64Value(eth0.TxBytes) <= 0 {
		t.Errorf("eth0 = %s, want traffic both ways", eth0)
	}
	if len(r.Containers) != 1 || tea.StringValue(r.Containers[0].Name) != "burn" || tea.Int64Value(r.Containers[0].CPU.UsageNanoCores) <= 0 ||
		tea.Int64Value(r.Containers[0].Memory.UsageBytes) < written {
		t.Errorf("Containers = %s, want burn busy and holding the memory", r.Containers)
	}
	for _, rec := range b.Records {
		at, _ := time.Parse(time.RFC3339, tea.StringValue(rec.Timestamp))
		if at.Before(time.Now().Add(-2*time.Minute)) || at.Second()%15 != 0 {
			t.Errorf("record at %s: not a 15 s period since %s", tea.StringValue(rec.Timestamp), from)
		}
	}

	// leci top prints the latest record.
	top := hr.leci("", "top", id, "--host", "unix://"+d.sock)
	out, err := top.Output()
	if err != nil || !strings.Contains(string(out), "group/metric") || !strings.Contains(string(out), "\nburn ") || !strings.Contains(string(out), "\neth0 ") {
		t.Errorf("leci top: %v\n%s", err, out)
	}

	// An unknown group is a 404.
	_, err = client.DescribeContainerGroupMetric(&eci.DescribeContainerGroupMetricRequest{RegionId: region, ContainerGroupId: tea.String("eci-nothere")})
	var se *tea.SDKError
	if !errors.As(err, &se) || tea.IntValue(se.StatusCode) != 404 || tea.StringValue(se.Code) != "InvalidContainerGroup.NotFound" {
		t.Errorf("unknown group: %v", err)
	}
}

// waitRunningThroughSDK describes the group until it runs, and returns its IP.
func waitRunningThroughSDK(t *testing.T, client *eci.Client, id string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{
			RegionId: tea.String("cn-hangzhou"), ContainerGroupIds: tea.String(`["` + id + `"]`),
		})
		if err != nil {
			t.Fatalf("DescribeContainerGroups: %v", err)
		}
		if gs := resp.Body.ContainerGroups; len(gs) == 1 && tea.StringValue(gs[0].Status) == "Running" && tea.StringValue(gs[0].IntranetIp) != "" {
			return tea.StringValue(gs[0].IntranetIp)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not run: %s", id, resp.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deleteThroughSDK deletes the group and waits until it is gone, so that
// the harness finds nothing left.
func deleteThroughSDK(t *testing.T, client *eci.Client, id string) {
	t.Helper()
	region := tea.String("cn-hangzhou")
	if _, err := client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)}); err != nil {
		t.Errorf("DeleteContainerGroup: %v", err)
		return
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`)})
		if err == nil && len(resp.Body.ContainerGroups) == 0 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("%s was not deleted", id)
}
