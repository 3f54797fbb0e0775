//go:build integration

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// daemonBenchGroups is how many idle groups BenchmarkDescribe100Groups runs.
const daemonBenchGroups = 100

// BenchmarkDescribe100Groups runs 100 idle one-container groups (busybox
// sleep with a TERM trap) through a real `leci daemon`, created 10 at a
// time, then measures over the unix socket, 200 times each:
//
//   - page: one DescribeContainerGroups call with Limit=100 (the server
//     clamps it to ECI's maximum page, 20) — ms/page-median, ms/page-p99;
//   - all: every group, following NextToken (5 calls of 20) —
//     ms/all-median, ms/all-p99;
//
// and the daemon's VmRSS (/proc/PID/status) once the groups are idle
// (MiB/rss-idle) and after the measurements (MiB/rss-after), and the CPU
// the host spends while the groups idle, before the measurements, in ms a
// second (ms/s-cpu-idle). Everything is
// deleted afterwards. Run it once: -bench Describe100Groups -benchtime=1x.
func BenchmarkDescribe100Groups(b *testing.B) {
	bh := newBenchHost(b)
	d := startTCPDaemon(b, bh.cfg.Root, globalFlags(bh.cfg))
	rc := newRPCClient(d.sock)

	var (
		idsMu sync.Mutex
		ids   []string
	)
	// Registered after the daemon's stop: runs before it.
	b.Cleanup(func() {
		start := time.Now()
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := rc.call("DeleteContainerGroup", url.Values{"ContainerGroupId": {id}}); err != nil && !strings.Contains(err.Error(), "NotFound") {
					b.Errorf("delete %s: %v", id, err)
				}
			}()
		}
		wg.Wait()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			n, err := rc.countAll()
			if err == nil && n == 0 {
				break
			}
			if time.Now().After(deadline) {
				b.Errorf("%d groups left after deleting (%v)", n, err)
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		b.Logf("deleted %d groups in %s", len(ids), time.Since(start).Round(time.Millisecond))
	})

	start := time.Now()
	failedCreates := 0
	const batch = 10
	for first := 0; first < daemonBenchGroups; first += batch {
		var batchIDs []string
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := first; i < first+batch && i < daemonBenchGroups; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := rc.createIdle(fmt.Sprintf("idle-%03d", i))
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				batchIDs = append(batchIDs, id)
				mu.Unlock()
				idsMu.Lock()
				ids = append(ids, id)
				idsMu.Unlock()
			}()
		}
		wg.Wait()
		if b.Failed() {
			b.FailNow()
		}
		// A group whose setup failed is deleted and made again, at most
		// three times; the failures are reported (failed-creates).
		for attempt := 0; ; attempt++ {
			failed, err := rc.waitRunning(batchIDs, 45*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			if len(failed) == 0 {
				break
			}
			if attempt == 3 {
				b.Fatalf("groups still failing after 3 retries: %v", failed)
			}
			failedCreates += len(failed)
			batchIDs = slices.DeleteFunc(batchIDs, func(id string) bool { return slices.Contains(failed, id) })
			for _, id := range failed {
				b.Logf("group %s failed to start; deleting and creating another", id)
				if _, err := rc.call("DeleteContainerGroup", url.Values{"ContainerGroupId": {id}}); err != nil {
					b.Fatal(err)
				}
				nid, err := rc.createIdle(fmt.Sprintf("idle-retry-%s", id))
				if err != nil {
					b.Fatal(err)
				}
				batchIDs = append(batchIDs, nid)
				idsMu.Lock()
				ids = append(ids, nid)
				idsMu.Unlock()
			}
		}
	}
	// The failed groups' ids are in ids too: their deletion was asked
	// already; asking again at cleanup answers NotFound, which is ignored.
	b.Logf("%d groups running in %s (%d failed creates retried)", daemonBenchGroups, time.Since(start).Round(time.Millisecond), failedCreates)
	if n, err := rc.countAll(); err != nil || n != daemonBenchGroups {
		b.Fatalf("the daemon lists %d groups (%v), want %d", n, err, daemonBenchGroups)
	}
	time.Sleep(2 * time.Second) // let the creates' garbage settle
	rssIdle := vmRSS(b, d.cmd.Process.Pid)
	idleCPU := hostBusy(b, idleCPUWindow)

	const samples = 200
	var page, all durations
	for range samples {
		t0 := time.Now()
		resp, err := rc.describe(url.Values{"Limit": {"100"}})
		if err != nil {
			b.Fatal(err)
		}
		page = append(page, time.Since(t0))
		if len(resp.ContainerGroups) != 20 || resp.TotalCount != daemonBenchGroups {
			b.Fatalf("a page of %d groups of %d", len(resp.ContainerGroups), resp.TotalCount)
		}
	}
	for range samples {
		t0 := time.Now()
		n, err := rc.countAll()
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, time.Since(t0))
		if n != daemonBenchGroups {
			b.Fatalf("listed %d groups, want %d", n, daemonBenchGroups)
		}
	}
	rssAfter := vmRSS(b, d.cmd.Process.Pid)

	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(ms(page.percentile(50)), "ms/page-median")
	b.ReportMetric(ms(page.percentile(99)), "ms/page-p99")
	b.ReportMetric(ms(all.percentile(50)), "ms/all-median")
	b.ReportMetric(ms(all.percentile(99)), "ms/all-p99")
	b.ReportMetric(float64(rssIdle)/1024, "MiB/rss-idle")
	b.ReportMetric(float64(rssAfter)/1024, "MiB/rss-after")
	b.ReportMetric(float64(failedCreates), "failed-creates")
	b.ReportMetric(idleCPU, "ms/s-cpu-idle")
	fmt.Printf("DescribeContainerGroups with %d groups over the unix socket, %d samples each:\n", daemonBenchGroups, samples)
	fmt.Printf("  one page (Limit=100, clamped to 20): median %.2f ms, p99 %.2f ms\n", ms(page.percentile(50)), ms(page.percentile(99)))
	fmt.Printf("  all %d groups (5 pages by NextToken): median %.2f ms, p99 %.2f ms\n", daemonBenchGroups, ms(all.percentile(50)), ms(all.percentile(99)))
	fmt.Printf("daemon VmRSS: %d KiB with %d idle groups, %d KiB after the describes\n", rssIdle, daemonBenchGroups, rssAfter)
	fmt.Printf("creates whose setup failed and were retried: %d\n", failedCreates)
	fmt.Printf("host CPU with the groups idle: %.1f ms a second (%.1f%% of a core) over %s, the groups' usage sampled every 15 s\n",
		idleCPU, idleCPU/10, idleCPUWindow)
}

// idleCPUWindow is how long BenchmarkDescribe100Groups measures the CPU
// that idle groups cost: two rounds of the daemon's usage sampling (every
// 15 s by default) and more.
const idleCPUWindow = 31 * time.Second

// hostBusy is the CPU time the whole host spends over window, in ms a
// second: what the daemon, containerd or dockerd, the shims and the
// groups' processes use while nothing is asked of them (the machine is
// otherwise quiet while a benchmark runs).
func hostBusy(tb testing.TB, window time.Duration) float64 {
	tb.Helper()
	busy := func() (jiffies uint64) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			tb.Fatal(err)
		}
		// "cpu  user nice system idle iowait irq softirq steal ...", in
		// USER_HZ (100) ticks; idle and iowait are not busy.
		line, _, _ := strings.Cut(string(b), "\n")
		for i, f := range strings.Fields(line)[1:] {
			if i == 3 || i == 4 || i >= 8 {
				continue
			}
			n, err := strconv.ParseUint(f, 10, 64)
			if err != nil {
				tb.Fatalf("/proc/stat: %q: %v", line, err)
			}
			jiffies += n
		}
		return jiffies
	}
	start, began := busy(), time.Now()
	time.Sleep(window)
	ms := float64(busy()-start) * 10
	return ms / time.Since(began).Seconds()
}

// percentile is the p-th percentile (nearest rank) of the durations.
func (d durations) percentile(p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := (len(s)*p + 99) / 100
	if i < 1 {
		i = 1
	}
	return s[i-1]
}

// vmRSS is a process's resident set in KiB.
func vmRSS(tb testing.TB, pid int) int {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// rpcClient sends plain RPC requests over the daemon's unix socket, where
// no signature is needed.
type rpcClient struct{ hc *http.Client }

func newRPCClient(sock string) *rpcClient {
	return &rpcClient{hc: &http.Client{
		Timeout: 2 * time.Minute,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
			MaxIdleConnsPerHost: 32,
		},
	}}
}

func (c *rpcClient) call(action string, params url.Values) ([]byte, error) {
	q := url.Values{"Action": {action}, "Version": {"2018-08-08"}, "RegionId": {"cn-hangzhou"}}
	for k, v := range params {
		q[k] = v
	}
	resp, err := c.hc.Post("http://leci/?"+q.Encode(), "application/x-www-form-urlencoded", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", action, resp.Status, body)
	}
	return body, nil
}

func (c *rpcClient) createIdle(name string) (string, error) {
	body, err := c.call("CreateContainerGroup", url.Values{
		"ContainerGroupName":            {name},
		"TerminationGracePeriodSeconds": {"1"},
		"Cpu":                           {"0.25"},
		"Memory":                        {"0.5"},
		"Container.1.Name":              {"app"},
		"Container.1.Image":             {image},
		"Container.1.Command.1":         {"sh"},
		"Container.1.Command.2":         {"-c"},
		"Container.1.Command.3":         {"trap 'exit 0' TERM; sleep 3600 & wait"},
	})
	if err != nil {
		return "", err
	}
	var resp struct{ ContainerGroupId string }
	if err := json.Unmarshal(body, &resp); err != nil || resp.ContainerGroupId == "" {
		return "", fmt.Errorf("create answered %s (%v)", body, err)
	}
	return resp.ContainerGroupId, nil
}

type describeAnswer struct {
	TotalCount      int
	NextToken       string
	ContainerGroups []struct {
		ContainerGroupId string
		Status           string
	}
}

func (c *rpcClient) describe(params url.Values) (describeAnswer, error) {
	var resp describeAnswer
	body, err := c.call("DescribeContainerGroups", params)
	if err != nil {
		return resp, err
	}
	err = json.Unmarshal(body, &resp)
	return resp, err
}

// countAll lists every group, page by page.
func (c *rpcClient) countAll() (int, error) {
	n, token := 0, ""
	for {
		params := url.Values{"Limit": {"100"}}
		if token != "" {
			params.Set("NextToken", token)
		}
		resp, err := c.describe(params)
		if err != nil {
			return n, err
		}
		n += len(resp.ContainerGroups)
		if token = resp.NextToken; token == "" {
			return n, nil
		}
	}
}

// waitRunning waits until every group of ids is Running, and returns the
// ids of those that Failed instead, or were not running within timeout.
func (c *rpcClient) waitRunning(ids []string, timeout time.Duration) ([]string, error) {
	b, _ := json.Marshal(ids)
	deadline := time.Now().Add(timeout)
	for {
		resp, err := c.describe(url.Values{"ContainerGroupIds": {string(b)}, "Limit": {"20"}})
		if err != nil {
			return nil, err
		}
		running := 0
		var states, failed []string
		for _, g := range resp.ContainerGroups {
			states = append(states, g.ContainerGroupId+"="+g.Status)
			switch g.Status {
			case "Running":
				running++
			case "Failed":
				failed = append(failed, g.ContainerGroupId)
			}
		}
		if running+len(failed) == len(ids) {
			return failed, nil
		}
		if time.Now().After(deadline) {
			// What is not running by now is stuck (seen: a sandbox gone
			// before its container joined it): treated as failed.
			for _, g := range resp.ContainerGroups {
				if g.Status != "Running" && g.Status != "Failed" {
					failed = append(failed, g.ContainerGroupId)
				}
			}
			fmt.Fprintf(os.Stderr, "groups not running after %s: %v\n", timeout, states)
			return failed, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
}
