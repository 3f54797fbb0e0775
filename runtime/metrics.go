package runtime

import (
	"context"
	"fmt"
	"math"
	goruntime "runtime"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"leci/api"
	"leci/pod"
)

// DescribeContainerGroupMetric is served from samples: every
// MetricsInterval the engine reads the usage of each running group (its
// cgroup, its containers' cgroups, the counters of its interfaces) into a
// ring per group that holds the samples of the last MetricsHistory, by
// default an hour (240 samples), the longest window worth asking for at
// ECI's largest period. Metrics then folds them into one record per
// period. A ring's slots are taken with its group's first sample; the
// rings are dropped with their groups.
const (
	DefaultMetricsInterval = 15 * time.Second
	DefaultMetricsHistory  = time.Hour
	// metricsWindow is the range asked for when no start is given, as ECI
	// answers without StartTime and EndTime.
	metricsWindow = 5 * time.Minute
)

// metricSample is one reading of a group's usage.
type metricSample struct {
	Time       time.Time
	Group      pod.Usage
	Containers []containerSample
	Interfaces []pod.InterfaceUsage
}

// containerSample is one container's part of a sample. ID tells one run
// of a container from the next, whose CPU counter starts again at 0 at
// Started.
type containerSample struct {
	Name    string
	ID      string
	Started time.Time
	Usage   pod.Usage
}

// metricsSamples is how many samples a ring holds: history's worth at
// interval, at least one. An engine that never samples on its own (a
// negative interval: samples are taken by hand) keeps as many as at the
// default interval.
func metricsSamples(interval, history time.Duration) int {
	if interval <= 0 {
		interval = DefaultMetricsInterval
	}
	return max(1, int(history/interval))
}

// metricRing keeps a group's latest samples, oldest first.
type metricRing struct {
	buf   []metricSample // its capacity is the ring's size
	start int            // index of the oldest sample once buf is full
}

func newMetricRing(size int) *metricRing {
	return &metricRing{buf: make([]metricSample, 0, size)}
}

func (r *metricRing) add(s metricSample) {
	if len(r.buf) < cap(r.buf) {
		r.buf = append(r.buf, s)
		return
	}
	r.buf[r.start] = s
	r.start = (r.start + 1) % len(r.buf)
}

func (r *metricRing) samples() []metricSample {
	out := make([]metricSample, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// metricStore holds the rings of every group, by group ID, each of size
// samples.
type metricStore struct {
	size  int
	mu    sync.Mutex
	rings map[string]*metricRing
}

func newMetricStore(size int) *metricStore {
	return &metricStore{size: size, rings: map[string]*metricRing{}}
}

func (m *metricStore) add(id string, s metricSample) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rings[id]
	if !ok {
		r = newMetricRing(m.size)
		m.rings[id] = r
	}
	r.add(s)
}

func (m *metricStore) samples(id string) []metricSample {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.rings[id]; ok {
		return r.samples()
	}
	return nil
}

func (m *metricStore) drop(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.rings, id)
}

// keepOnly drops the rings of groups that live does not hold: those of
// groups deleted while they were being sampled.
func (m *metricStore) keepOnly(live map[string]bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.rings {
		if !live[id] {
			delete(m.rings, id)
		}
	}
}

// sampleMetricsLoop samples every running group each interval, for as
// long as the engine lives.
func (e *Engine) sampleMetricsLoop(interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-e.ctx.Done():
			return
		case <-t.C:
			e.sampleMetrics(e.ctx)
		}
	}
}

// sampleMetrics takes one sample of every group that has a sandbox and is
// not being deleted. A group that cannot be read is skipped until the
// next round: it may be going away.
func (e *Engine) sampleMetrics(ctx context.Context) {
	e.mu.Lock()
	groups := make([]*group, 0, len(e.groups))
	live := make(map[string]bool, len(e.groups))
	for id, g := range e.groups {
		groups = append(groups, g)
		live[id] = true
	}
	e.mu.Unlock()
	for _, g := range groups {
		st := g.snapshot()
		if !sampled(st) {
			continue
		}
		s, err := e.sample(ctx, st)
		if err != nil {
			g.log.Debug("sample usage", "err", err)
			continue
		}
		e.metrics.add(st.ID, s)
	}
	e.metrics.keepOnly(live)
}

// sampled tells whether a group has something to measure: a sandbox, and
// processes that are not being stopped for good.
func sampled(st GroupStatus) bool {
	return st.Host.SetUp && st.Phase != api.GroupTerminating && !st.Terminal()
}

// sample reads a group's usage. Only the cgroups are required: without
// its interfaces' counters a sample still tells CPU and memory.
func (e *Engine) sample(ctx context.Context, st GroupStatus) (metricSample, error) {
	u, err := e.backend.Usage(ctx, st.ID)
	if err != nil {
		return metricSample{}, err
	}
	s := metricSample{Time: e.opts.Now(), Group: u.Group}
	if ifs, err := e.net.Usage(ctx, st.ID); err == nil {
		s.Interfaces = ifs
	} else {
		e.log.Debug("sample network usage", "group", st.ID, "err", err)
	}
	for _, c := range append(st.Containers, st.InitContainers...) {
		if cu, ok := u.Containers[c.ID]; ok && c.ID != "" {
			s.Containers = append(s.Containers, containerSample{Name: c.Name, ID: c.ID, Started: c.Current.StartedAt, Usage: cu})
		}
	}
	return s, nil
}

// Metrics answers DescribeContainerGroupMetric: the group's usage as one
// record per period between start and end (a zero end is now, a zero
// start metricsWindow before end), for the periods that hold samples.
// Periods are aligned to multiples of period, and a record's Timestamp is
// the start of its period. A group with a sandbox is also sampled at the
// call, so that a group younger than one interval has a record.
//
// In a record:
//   - CPU.UsageCoreNanoSeconds is the CPU time used since the group began,
//     at the period's last sample; UsageNanoCores the CPU used from the
//     sample before the period to that last one, per second of that time
//     (a group's first sample is measured from its creation);
//   - CPU.Load is the same average in thousandths of a vCPU, the unit of
//     CPU.Limit (a busy single thread is 1000): cgroups keep no load average;
//   - CPU.Limit is the group's Cpu × 1000, else the sum of its app
//     containers' when each has one, else the host's cores × 1000; a
//     container's is its own Cpu, else the group's;
//   - Memory is the period's last sample; AvailableBytes is the limit (the
//     cgroup's, else the host's memory) less the working set;
//   - Network has the counters of the group's interfaces, loopback left out;
//   - Containers has the running containers, by name;
//   - Disk and Filesystem are empty: a group's disk I/O and volumes go
//     through the host's file systems, which it shares with everything else.
func (e *Engine) Metrics(ctx context.Context, id string, start, end time.Time, period time.Duration) ([]api.MetricRecord, error) {
	if period <= 0 {
		return nil, fmt.Errorf("metric period %v: must be positive", period)
	}
	g, err := e.group(id)
	if err != nil {
		return nil, err
	}
	if !start.IsZero() && !end.IsZero() && start.After(end) {
		return nil, fmt.Errorf("metric range starts at %s, after its end %s", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	st := g.snapshot()
	samples := e.metrics.samples(id)
	if sampled(st) {
		s, err := e.sample(ctx, st)
		switch {
		case err != nil && ctx.Err() != nil:
			return nil, ctx.Err()
		case err != nil:
			g.log.Debug("sample usage", "err", err)
		case len(samples) == 0 || s.Time.After(samples[len(samples)-1].Time):
			samples = append(samples, s)
		}
	}
	// Now is after the sample just taken, which it must include.
	if end.IsZero() {
		end = e.opts.Now()
	}
	if start.IsZero() {
		start = end.Add(-metricsWindow)
	}
	lim := metricLimits{groupCPU: groupCPULimit(st.Request), hostMemory: hostMemory(), containerCPU: map[string]int64{}}
	for _, c := range st.Request.Container {
		lim.containerCPU[c.Name] = cpuLimit(c.Cpu, lim.groupCPU)
	}
	for _, c := range st.Request.InitContainer {
		lim.containerCPU[c.Name] = cpuLimit(c.Cpu, lim.groupCPU)
	}
	return aggregate(samples, st.CreatedAt, start, end, period, lim), nil
}

// metricLimits are the limits that records state.
type metricLimits struct {
	groupCPU     int64            // vCPU × 1000
	containerCPU map[string]int64 // by container name
	hostMemory   uint64           // bytes; the memory of a cgroup without limit
}

// groupCPULimit is the group's CPU limit in vCPU × 1000: its Cpu, else the
// sum of its app containers' when each has one (they run together; init
// containers run before them), else the host's cores.
func groupCPULimit(req *api.CreateContainerGroupRequest) int64 {
	if req.Cpu > 0 || len(req.Container) == 0 {
		return cpuLimit(req.Cpu, 0)
	}
	var sum float64
	for _, c := range req.Container {
		if c.Cpu <= 0 {
			return cpuLimit(0, 0)
		}
		sum += c.Cpu
	}
	return cpuLimit(sum, 0)
}

// cpuLimit is cores × 1000; no cores is fallback, or the host's cores when
// fallback is 0.
func cpuLimit(cores float64, fallback int64) int64 {
	switch {
	case cores > 0:
		return int64(math.Round(cores * 1000))
	case fallback > 0:
		return fallback
	}
	return int64(goruntime.NumCPU()) * 1000
}

// hostMemory is the host's RAM in bytes, 0 if unknown.
func hostMemory() uint64 {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// metricTimestamp is how records write their time: RFC 3339 in UTC with
// milliseconds, as ECI does.
const metricTimestamp = "2006-01-02T15:04:05.000Z07:00"

// aggregate folds samples (oldest first) into one record per period of
// [start, end] that holds samples; origin is when the group's CPU
// counters were 0. See Engine.Metrics for what each figure is.
func aggregate(samples []metricSample, origin, start, end time.Time, period time.Duration, lim metricLimits) []api.MetricRecord {
	var out []api.MetricRecord
	prev := metricSample{Time: origin} // what the first period is measured from
	for i := 0; i < len(samples); {
		// Samples [i, j) share a period.
		bucket := samples[i].Time.Truncate(period)
		j := i + 1
		for j < len(samples) && samples[j].Time.Truncate(period).Equal(bucket) {
			j++
		}
		last := samples[j-1]
		in := false
		for _, s := range samples[i:j] {
			if !s.Time.Before(start) && !s.Time.After(end) {
				in = true
				last = s
			}
		}
		if in {
			out = append(out, record(bucket, prev, last, lim))
		}
		prev = samples[j-1]
		i = j
	}
	return out
}

// record is one period's record: last is its latest sample, prev the
// sample before the period.
func record(at time.Time, prev, last metricSample, lim metricLimits) api.MetricRecord {
	nanoCores := rate(prev.Group.CPUNanos, last.Group.CPUNanos, prev.Time, last.Time)
	r := api.MetricRecord{
		Timestamp: at.UTC().Format(metricTimestamp),
		CPU: api.CPUMetric{
			Limit:                lim.groupCPU,
			Load:                 nanoCores / 1e6,
			UsageCoreNanoSeconds: clampInt64(last.Group.CPUNanos),
			UsageNanoCores:       nanoCores,
		},
		Memory: memoryMetric(last.Group, lim.hostMemory),
	}
	for _, i := range last.Interfaces {
		r.Network.Interfaces = append(r.Network.Interfaces, api.NetworkInterfaceMetric{
			Name:    i.Name,
			RxBytes: clampInt64(i.RxBytes), RxPackets: clampInt64(i.RxPackets), RxErrors: clampInt64(i.RxErrors), RxDrops: clampInt64(i.RxDropped),
			TxBytes: clampInt64(i.TxBytes), TxPackets: clampInt64(i.TxPackets), TxErrors: clampInt64(i.TxErrors), TxDrops: clampInt64(i.TxDropped),
		})
	}
	for _, c := range last.Containers {
		// The same run in the sample before, or else the run's start,
		// when its counter was 0.
		from, fromNanos := c.Started, uint64(0)
		for _, p := range prev.Containers {
			if p.ID == c.ID {
				from, fromNanos = prev.Time, p.Usage.CPUNanos
			}
		}
		nc := rate(fromNanos, c.Usage.CPUNanos, from, last.Time)
		limit := lim.containerCPU[c.Name]
		if limit == 0 {
			limit = lim.groupCPU
		}
		memLimit := c.Usage
		if memLimit.MemoryLimit == 0 {
			// A container without a limit of its own has the group's.
			memLimit.MemoryLimit = last.Group.MemoryLimit
		}
		r.Containers = append(r.Containers, api.ContainerMetric{
			Name:   c.Name,
			CPU:    api.CPUMetric{Limit: limit, Load: nc / 1e6, UsageCoreNanoSeconds: clampInt64(c.Usage.CPUNanos), UsageNanoCores: nc},
			Memory: memoryMetric(memLimit, lim.hostMemory),
		})
	}
	return r
}

// rate is the CPU used between two readings in nanoseconds per second:
// nanocores. A counter that went back (a cgroup made again) or a reading
// with no time between gives 0.
func rate(fromNanos, toNanos uint64, from, to time.Time) int64 {
	dt := to.Sub(from)
	if from.IsZero() || dt <= 0 || toNanos < fromNanos {
		return 0
	}
	return int64(float64(toNanos-fromNanos) / dt.Seconds())
}

func memoryMetric(u pod.Usage, hostMemory uint64) api.MemoryMetric {
	limit := u.MemoryLimit
	if limit == 0 {
		limit = hostMemory
	}
	return api.MemoryMetric{
		AvailableBytes: clampInt64(limit - min(limit, u.MemoryWorkingSet)),
		UsageBytes:     clampInt64(u.MemoryUsage),
		Cache:          clampInt64(u.MemoryCache),
		WorkingSet:     clampInt64(u.MemoryWorkingSet),
		Rss:            clampInt64(u.MemoryRSS),
	}
}

// clampInt64 converts a counter for the wire, whose integers are int64.
func clampInt64(n uint64) int64 {
	return int64(min(n, math.MaxInt64))
}
