package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"

	"leci/api"
)

// testRecord is a record as the engine makes it: no disk, no file system.
var testRecord = api.MetricRecord{
	Timestamp: "2026-11-27T15:00:00.000Z",
	CPU:       api.CPUMetric{Limit: 500, Load: 480, UsageCoreNanoSeconds: 9e9, UsageNanoCores: 48e7},
	Memory:    api.MemoryMetric{AvailableBytes: 100 << 20, UsageBytes: 30 << 20, WorkingSet: 28 << 20, Rss: 20 << 20, Cache: 10 << 20},
	Network:   api.NetworkMetric{Interfaces: []api.NetworkInterfaceMetric{{Name: "eth0", RxBytes: 1000, TxBytes: 500, RxPackets: 10, TxPackets: 5}}},
	Containers: []api.ContainerMetric{{Name: "web", CPU: api.CPUMetric{Limit: 500, UsageNanoCores: 48e7},
		Memory: api.MemoryMetric{UsageBytes: 29 << 20}}},
}

func TestDescribeContainerGroupMetric(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("metric"))
	e.groups.metricRecords = []api.MetricRecord{testRecord}

	status, body := e.local(t, action("DescribeContainerGroupMetric", "ContainerGroupId", id))
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	if got := objectKeys(t, body); got != "ContainerGroupId,Records,RequestId" {
		t.Errorf("keys %s", got)
	}
	var raw struct{ Records []json.RawMessage }
	if err := json.Unmarshal(body, &raw); err != nil || len(raw.Records) != 1 {
		t.Fatalf("records %s: %v", body, err)
	}
	if got := objectKeys(t, raw.Records[0]); got != "CPU,Containers,Disk,Filesystem,Memory,Network,Timestamp" {
		t.Errorf("record keys %s", got)
	}
	// Lists the engine leaves empty are still lists, for the SDKs.
	if !strings.Contains(string(raw.Records[0]), `"Disk":[]`) || !strings.Contains(string(raw.Records[0]), `"Filesystem":[]`) {
		t.Errorf("empty lists not sent as []: %s", raw.Records[0])
	}
	var resp api.DescribeContainerGroupMetricResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.ContainerGroupID != id || resp.Records[0].CPU != testRecord.CPU || resp.Records[0].Network.Interfaces[0].RxBytes != 1000 {
		t.Errorf("answer %+v", resp)
	}

	// Without a range: the engine's defaults (the last 5 minutes) at 15 s,
	// whatever Period says.
	e.groups.metricCalls = nil
	e.call(t, action("DescribeContainerGroupMetric", "ContainerGroupId", id, "Period", "600"), &resp)
	start := time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)
	// With one: Period, 60 s unless given; times in any zone.
	e.call(t, action("DescribeContainerGroupMetric", "ContainerGroupId", id, "StartTime", "2026-11-27T15:00:00.000Z"), &resp)
	e.call(t, action("DescribeContainerGroupMetric", "ContainerGroupId", id,
		"StartTime", "2026-11-27T23:00:00+08:00", "EndTime", "2026-11-27T15:10:00Z", "Period", "30"), &resp)
	want := []fakeMetricCall{
		{id: id, period: 15 * time.Second},
		{id: id, start: start, period: time.Minute},
		{id: id, start: start, end: start.Add(10 * time.Minute), period: 30 * time.Second},
	}
	if len(e.groups.metricCalls) != len(want) {
		t.Fatalf("calls %+v, want %+v", e.groups.metricCalls, want)
	}
	for i, got := range e.groups.metricCalls {
		if got.id != want[i].id || !got.start.Equal(want[i].start) || !got.end.Equal(want[i].end) || got.period != want[i].period {
			t.Errorf("call %d: %+v, want %+v", i, got, want[i])
		}
	}
}

func TestDescribeContainerGroupMetricErrors(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("metric"))
	for _, tc := range []struct {
		name   string
		params url.Values
		status int
		code   string
		field  string
	}{
		{"unknown group", action("DescribeContainerGroupMetric", "ContainerGroupId", "eci-nothere"), http.StatusNotFound, CodeGroupNotFound, "ContainerGroupId"},
		{"no group", action("DescribeContainerGroupMetric"), http.StatusBadRequest, api.CodeMissingParameter, "ContainerGroupId"},
		{"start not RFC 3339", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "StartTime", "2026-11-27 15:00"), http.StatusBadRequest, api.CodeInvalidParameter, "StartTime"},
		{"end not RFC 3339", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "EndTime", "yesterday"), http.StatusBadRequest, api.CodeInvalidParameter, "EndTime"},
		{"period not offered", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "StartTime", "2026-11-27T15:00:00Z", "Period", "20"), http.StatusBadRequest, api.CodeInvalidParameter, "Period"},
		{"period not a number", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "Period", "often"), http.StatusBadRequest, api.CodeInvalidParameter, "Period"},
		{"start after end", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "StartTime", "2026-11-27T15:10:00Z", "EndTime", "2026-11-27T15:00:00Z"), http.StatusBadRequest, api.CodeInvalidParameter, "StartTime"},
		{"start in the future", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "StartTime", time.Now().Add(time.Hour).Format(time.RFC3339)), http.StatusBadRequest, api.CodeInvalidParameter, "StartTime"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			er := e.wantError(t, tc.params, tc.status, tc.code)
			if !strings.Contains(er.Message, tc.field) {
				t.Errorf("message %q does not name %s", er.Message, tc.field)
			}
		})
	}
	if len(e.groups.metricCalls) != 0 {
		t.Errorf("the engine was asked despite the errors: %+v", e.groups.metricCalls)
	}
}

// TestDescribeContainerGroupMetricSDK checks that the official tea SDK
// decodes the answer into its own model.
func TestDescribeContainerGroupMetricSDK(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("metric"))
	e.groups.metricRecords = []api.MetricRecord{testRecord}
	ts := httptest.NewServer(e.srv)
	defer ts.Close()
	u, _ := url.Parse(ts.URL)
	client, err := eci.NewClient(&openapi.Config{
		AccessKeyId: tea.String("testak"), AccessKeySecret: tea.String("testsecret"),
		RegionId: tea.String("cn-hangzhou"), Endpoint: tea.String(u.Host), Protocol: tea.String("http"),
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.DescribeContainerGroupMetric(&eci.DescribeContainerGroupMetricRequest{
		RegionId: tea.String("cn-hangzhou"), ContainerGroupId: tea.String(id),
		StartTime: tea.String("2026-11-27T15:00:00.000Z"), Period: tea.String("15"),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Body
	if tea.StringValue(b.ContainerGroupId) != id || len(b.Records) != 1 {
		t.Fatalf("body %v", b)
	}
	r := b.Records[0]
	if tea.Int64Value(r.CPU.UsageNanoCores) != 48e7 || tea.Int64Value(r.CPU.Limit) != 500 ||
		tea.Int64Value(r.Memory.UsageBytes) != 30<<20 || tea.StringValue(r.Network.Interfaces[0].Name) != "eth0" ||
		tea.Int64Value(r.Network.Interfaces[0].TxBytes) != 500 || tea.StringValue(r.Containers[0].Name) != "web" ||
		tea.Int64Value(r.Containers[0].Memory.UsageBytes) != 29<<20 || tea.StringValue(r.Timestamp) != testRecord.Timestamp {
		t.Errorf("record as the SDK reads it: %v", r)
	}
	e.groups.mu.Lock() // written by the HTTP server's goroutine
	defer e.groups.mu.Unlock()
	if last := e.groups.metricCalls[len(e.groups.metricCalls)-1]; last.period != 15*time.Second {
		t.Errorf("period %v, want the 15 s the SDK sent as a string", last.period)
	}
}
