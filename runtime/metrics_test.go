package runtime

import (
	"context"
	"errors"
	"log/slog"
	goruntime "runtime"
	"sync"
	"testing"
	"time"

	"leci/api"
	"leci/pod"
)

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// usageSamples are a group observed every 15 s for two minutes: half a
// core until 12:00:45, then a whole core. Its container
// "web" is restarted at 12:01:25 (a new run, web-2, whose counter starts
// again), and memory and traffic grow by the sample.
func usageSamples() []metricSample {
	var out []metricSample
	var cpu, webCPU uint64
	webID, webStarted := "web-1", t0
	for i := 1; i <= 8; i++ {
		at := t0.Add(time.Duration(i) * 15 * time.Second)
		rate := uint64(5e8)
		if i >= 4 {
			rate = 1e9
		}
		cpu += rate * 15
		webCPU += rate * 15
		if at.Equal(t0.Add(105 * time.Second)) { // the first sample of web-2
			webID, webStarted = "web-2", t0.Add(85*time.Second)
			webCPU = 10e9
		}
		mem := uint64(i) << 20
		out = append(out, metricSample{
			Time:       at,
			Group:      pod.Usage{CPUNanos: cpu, MemoryUsage: mem, MemoryWorkingSet: mem / 2, MemoryRSS: mem / 4, MemoryCache: mem / 8, MemoryLimit: 64 << 20},
			Containers: []containerSample{{Name: "web", ID: webID, Started: webStarted, Usage: pod.Usage{CPUNanos: webCPU, MemoryUsage: mem / 2, MemoryWorkingSet: mem / 4}}},
			Interfaces: []pod.InterfaceUsage{{Name: "eth0", RxBytes: uint64(i) * 1000, TxBytes: uint64(i) * 500, RxPackets: uint64(i), TxPackets: uint64(i)}},
		})
	}
	return out
}

var testLimits = metricLimits{groupCPU: 500, containerCPU: map[string]int64{"web": 250}, hostMemory: 1 << 30}

func TestAggregateByPeriod(t *testing.T) {
	got := aggregate(usageSamples(), t0, t0, t0.Add(2*time.Minute), time.Minute, testLimits)
	if len(got) != 3 {
		t.Fatalf("%d records, want 3 (12:00, 12:01, 12:02): %+v", len(got), got)
	}
	for i, want := range []string{"2026-11-27T12:00:00.000Z", "2026-11-27T12:01:00.000Z", "2026-11-27T12:02:00.000Z"} {
		if got[i].Timestamp != want {
			t.Errorf("record %d at %s, want %s", i, got[i].Timestamp, want)
		}
	}

	// 12:00: three samples of half a core, measured from the group's start.
	r := got[0]
	if r.CPU != (api.CPUMetric{Limit: 500, Load: 500, UsageCoreNanoSeconds: 22.5e9, UsageNanoCores: 5e8}) {
		t.Errorf("12:00 CPU = %+v", r.CPU)
	}
	// Memory is the period's last sample (12:00:45, the third).
	if want := (api.MemoryMetric{UsageBytes: 3 << 20, WorkingSet: 3 << 19, Rss: 3 << 18, Cache: 3 << 17, AvailableBytes: 64<<20 - 3<<19}); r.Memory != want {
		t.Errorf("12:00 memory = %+v, want %+v", r.Memory, want)
	}
	if len(r.Network.Interfaces) != 1 || r.Network.Interfaces[0] != (api.NetworkInterfaceMetric{Name: "eth0", RxBytes: 3000, TxBytes: 1500, RxPackets: 3, TxPackets: 3}) {
		t.Errorf("12:00 network = %+v", r.Network)
	}
	if len(r.Disk)+len(r.Filesystem) != 0 {
		t.Errorf("disk %v, filesystem %v: want none", r.Disk, r.Filesystem)
	}

	// 12:01: a whole core, measured from 12:00:45, the sample before.
	r = got[1]
	if r.CPU.UsageNanoCores != 1e9 || r.CPU.Load != 1000 || r.CPU.UsageCoreNanoSeconds != 22.5e9+60e9 {
		t.Errorf("12:01 CPU = %+v, want a whole core", r.CPU)
	}
	// web was restarted: its new run has used 10 s of CPU in the 20 s
	// since it started.
	if len(r.Containers) != 1 {
		t.Fatalf("12:01 containers = %+v", r.Containers)
	}
	c := r.Containers[0]
	if c.Name != "web" || c.CPU != (api.CPUMetric{Limit: 250, Load: 500, UsageCoreNanoSeconds: 10e9, UsageNanoCores: 5e8}) {
		t.Errorf("12:01 web = %+v", c)
	}
	// A container without a memory limit of its own has the group's.
	if c.Memory.AvailableBytes != 64<<20-c.Memory.WorkingSet {
		t.Errorf("12:01 web memory = %+v", c.Memory)
	}
	// 12:02: the same run, from the sample before.
	if c := got[2].Containers[0]; c.CPU.UsageNanoCores != 1e9 {
		t.Errorf("12:02 web CPU = %+v, want a whole core", c.CPU)
	}
}

func TestAggregateWindow(t *testing.T) {
	samples := usageSamples()
	// 15 s periods from 12:01:10 to 12:01:40: the samples of 12:01:15 and
	// 12:01:30, each measured from the one before.
	got := aggregate(samples, t0, t0.Add(70*time.Second), t0.Add(100*time.Second), 15*time.Second, testLimits)
	if len(got) != 2 || got[0].Timestamp != "2026-11-27T12:01:15.000Z" || got[1].Timestamp != "2026-11-27T12:01:30.000Z" {
		t.Fatalf("records = %+v, want 12:01:15 and 12:01:30", got)
	}
	for _, r := range got {
		if r.CPU.UsageNanoCores != 1e9 {
			t.Errorf("%s: %d nanocores, want 1e9", r.Timestamp, r.CPU.UsageNanoCores)
		}
	}
	// 600 s: one record, of the last sample.
	got = aggregate(samples, t0, t0, t0.Add(time.Hour), 10*time.Minute, testLimits)
	if len(got) != 1 || got[0].Timestamp != "2026-11-27T12:00:00.000Z" || got[0].Memory.UsageBytes != 8<<20 {
		t.Fatalf("600 s records = %+v", got)
	}
	if want := int64((22.5e9 + 75e9) / 120); got[0].CPU.UsageNanoCores != want {
		t.Errorf("600 s: %d nanocores, want %d, the average since the start", got[0].CPU.UsageNanoCores, want)
	}
	// Before the first sample: nothing.
	if got := aggregate(samples, t0, t0.Add(-time.Hour), t0, time.Minute, testLimits); len(got) != 0 {
		t.Errorf("records before any sample: %+v", got)
	}
}

func TestRateOfResetCounter(t *testing.T) {
	// A counter that went back is a cgroup made again: no negative rate.
	if got := rate(10e9, 1e9, t0, t0.Add(time.Second)); got != 0 {
		t.Errorf("rate of a reset counter = %d, want 0", got)
	}
	if got := rate(0, 1e9, t0, t0); got != 0 {
		t.Errorf("rate with no time = %d, want 0", got)
	}
}

func TestMetricRingIsBounded(t *testing.T) {
	const size = 240
	r := newMetricRing(size)
	for i := range size + 5 {
		r.add(metricSample{Time: t0.Add(time.Duration(i) * time.Second)})
	}
	got := r.samples()
	if len(got) != size {
		t.Fatalf("%d samples kept, want %d", len(got), size)
	}
	if !got[0].Time.Equal(t0.Add(5*time.Second)) || !got[len(got)-1].Time.Equal(t0.Add(time.Duration(size+4)*time.Second)) {
		t.Errorf("kept %s to %s, want the newest, oldest first", got[0].Time, got[len(got)-1].Time)
	}
}

func TestMetricsSamplesHoldTheHistory(t *testing.T) {
	for _, c := range []struct {
		interval, history time.Duration
		want              int
	}{
		{15 * time.Second, time.Hour, 240}, // the defaults: an hour
		{time.Second, 30 * time.Second, 30},
		{time.Minute, 90 * time.Second, 1}, // what fits whole
		{time.Minute, time.Second, 1},      // never less than the latest
		{-1, time.Hour, 240},               // sampled by hand
	} {
		if got := metricsSamples(c.interval, c.history); got != c.want {
			t.Errorf("metricsSamples(%v, %v) = %d, want %d", c.interval, c.history, got, c.want)
		}
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// TestEngineMetrics samples groups on a fake clock whose containers use
// one core each.
func TestEngineMetrics(t *testing.T) {
	clock := &fakeClock{now: t0}
	b := newFakeBackend()
	n := &fakeNet{}
	e := New(b, n, fakeVolumes{}, Options{Root: t.TempDir(), Backoff: fastBackoff, Now: clock.Now, MetricsInterval: -1}, slog.New(slog.DiscardHandler))
	created := map[string]time.Time{}
	var createdMu sync.Mutex
	b.usage = func(groupID string) (pod.GroupUsage, error) {
		createdMu.Lock()
		began, ok := created[groupID]
		createdMu.Unlock()
		if !ok {
			return pod.GroupUsage{}, errors.New("no cgroup")
		}
		cpu := uint64(clock.Now().Sub(began))
		u := pod.GroupUsage{Group: pod.Usage{CPUNanos: cpu, MemoryUsage: 8 << 20, MemoryLimit: 1 << 30}, Containers: map[string]pod.Usage{}}
		cs, _ := b.ListContainers(context.Background(), groupID)
		for _, c := range cs {
			u.Containers[c.ID] = pod.Usage{CPUNanos: cpu}
		}
		return u, nil
	}
	n.usage = func(groupID string) ([]pod.InterfaceUsage, error) {
		return []pod.InterfaceUsage{{Name: "eth0", RxBytes: 42}}, nil
	}
	create := func() string {
		req := testRequest(api.RestartAlways, nil, []string{"web"})
		req.Cpu = 2
		id, err := e.Create(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, e, id, func(st GroupStatus) bool {
			return st.Phase == api.GroupRunning && st.Containers[0].Current.State == api.StateRunning
		})
		createdMu.Lock()
		created[id] = clock.Now()
		createdMu.Unlock()
		return id
	}

	id := create()
	for range 3 {
		clock.Advance(15 * time.Second)
		e.sampleMetrics(context.Background())
	}
	clock.Advance(15 * time.Second)
	// Three samples and the one taken at the call.
	got, err := e.Metrics(context.Background(), id, time.Time{}, time.Time{}, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("%d records, want 4: %+v", len(got), got)
	}
	for i, r := range got {
		if want := t0.Add(time.Duration(i+1) * 15 * time.Second).Format(metricTimestamp); r.Timestamp != want {
			t.Errorf("record %d at %s, want %s", i, r.Timestamp, want)
		}
		if r.CPU.UsageNanoCores != 1e9 || r.CPU.Limit != 2000 {
			t.Errorf("record %d CPU = %+v, want one core of a limit of 2000", i, r.CPU)
		}
		if len(r.Containers) != 1 || r.Containers[0].Name != "web" || r.Containers[0].CPU.UsageNanoCores != 1e9 || r.Containers[0].CPU.Limit != 2000 {
			t.Errorf("record %d containers = %+v", i, r.Containers)
		}
		if len(r.Network.Interfaces) != 1 || r.Network.Interfaces[0].RxBytes != 42 {
			t.Errorf("record %d network = %+v", i, r.Network)
		}
	}
	if n := len(e.metrics.samples(id)); n != 3 {
		t.Errorf("%d samples kept, want 3: the one taken for the call is not kept", n)
	}

	// A group never sampled yet answers with the sample taken at the call,
	// measured from its creation.
	young := create()
	clock.Advance(5 * time.Second)
	got, err = e.Metrics(context.Background(), young, time.Time{}, time.Time{}, 60*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].CPU.UsageNanoCores != 1e9 || got[0].CPU.UsageCoreNanoSeconds != 5e9 {
		t.Errorf("young group: %+v, want one record of one core", got)
	}

	// A range that ends before the group began holds nothing.
	got, err = e.Metrics(context.Background(), id, t0.Add(-time.Hour), t0.Add(-time.Minute), time.Minute)
	if err != nil || len(got) != 0 {
		t.Errorf("range before the group: %+v, %v", got, err)
	}
	if _, err := e.Metrics(context.Background(), id, t0, t0.Add(-time.Minute), time.Minute); err == nil {
		t.Error("a range that ends before it starts: no error")
	}

	// Deleted, the group's samples go with it.
	if err := e.Delete(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Metrics(context.Background(), id, time.Time{}, time.Time{}, time.Minute); !errors.Is(err, ErrNotFound) {
		t.Errorf("metrics of a deleted group: %v, want ErrNotFound", err)
	}
	if s := e.metrics.samples(id); s != nil {
		t.Errorf("deleted group still has %d samples", len(s))
	}
}

func TestGroupCPULimit(t *testing.T) {
	req := func(group float64, apps ...float64) *api.CreateContainerGroupRequest {
		r := &api.CreateContainerGroupRequest{Cpu: group}
		for _, c := range apps {
			r.Container = append(r.Container, api.Container{ContainerCommon: api.ContainerCommon{Cpu: c}})
		}
		return r
	}
	host := int64(goruntime.NumCPU()) * 1000
	for _, tc := range []struct {
		name string
		req  *api.CreateContainerGroupRequest
		want int64
	}{
		{"the group's", req(2, 0.5), 2000},
		{"the apps' sum", req(0, 0.5, 0.25), 750},
		{"an app without a limit", req(0, 0.5, 0), host},
		{"none", req(0), host},
	} {
		if got := groupCPULimit(tc.req); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
