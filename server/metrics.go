package server

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"leci/api"
	"leci/runtime"
)

// MetricsPath is where every listener serves Prometheus metrics (GET). On
// the unix socket they need no signature; on TCP they need one, as every
// request there does: they name every group and container of the host.
// MetricsHandler serves them unsigned on a listener of their own.
const MetricsPath = "/metrics"

// MetricsHandler serves only MetricsPath, with no signature, for a listener
// given to metrics alone (a Prometheus scraper cannot sign ECI requests).
func (s *Server) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != MetricsPath {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "use GET", http.StatusMethodNotAllowed)
			return
		}
		s.serveMetrics(w)
	})
}

// serveSignedMetrics answers MetricsPath on the API's listeners: over TCP
// only with a valid signature (v3 signs the path; v1 signs the query).
func (s *Server) serveSignedMetrics(w http.ResponseWriter, r *http.Request) {
	if !fromUnixSocket(r) {
		query, err := url.ParseQuery(r.URL.RawQuery)
		if err == nil {
			err = s.auth.verify(r, query, url.Values{}, nil)
		} else {
			err = &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Message: "the query string is malformed: " + err.Error()}
		}
		if err != nil {
			reqID := newRequestID()
			w.Header().Set("x-acs-request-id", reqID)
			s.writeError(w, r, reqID, err)
			return
		}
	}
	s.serveMetrics(w)
}

// latencyBuckets are the upper bounds, in seconds, of the API latency
// histogram.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// apiMetrics counts the API's requests by action and status code, and
// their latency by action.
type apiMetrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64 // {action, code} → count
	latency  map[string]*histogram
}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newAPIMetrics() *apiMetrics {
	return &apiMetrics{requests: map[[2]string]uint64{}, latency: map[string]*histogram{}}
}

// observe records one answered request. Actions leci does not serve are
// counted as "other", so that the label's values stay few.
func (m *apiMetrics) observe(action string, known bool, status int, took time.Duration) {
	if !known {
		action = "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{action, strconv.Itoa(status)}]++
	h := m.latency[action]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[action] = h
	}
	sec := took.Seconds()
	i, _ := slices.BinarySearch(latencyBuckets, sec)
	h.counts[i]++
	h.sum += sec
	h.n++
}

// serveMetrics writes the Prometheus text exposition format (0.0.4):
//
//	leci_container_groups{status}                   groups by status (every status, 0 included)
//	leci_container_restarts_total{group,container}  restarts of each container (RestartCount)
//	leci_container_ready{group,container}           1 when the container is ready (readiness probe passing, or none)
//	leci_container_running{group,container}         1 when the container runs
//	leci_api_requests_total{action,code}            API requests answered, by HTTP status
//	leci_api_request_duration_seconds{action}       API latency histogram
func (s *Server) serveMetrics(w http.ResponseWriter) {
	var b strings.Builder
	groups := s.opts.Groups.List()
	byStatus := map[api.GroupStatus]int{}
	for _, st := range groups {
		byStatus[st.Phase]++
	}
	b.WriteString("# HELP leci_container_groups Container groups by status.\n# TYPE leci_container_groups gauge\n")
	for _, status := range []api.GroupStatus{api.GroupScheduling, api.GroupPending, api.GroupRunning, api.GroupSucceeded,
		api.GroupFailed, api.GroupRestarting, api.GroupUpdating, api.GroupTerminating, api.GroupExpired} {
		fmt.Fprintf(&b, "leci_container_groups{status=%q} %d\n", status, byStatus[status])
		delete(byStatus, status)
	}
	for status, n := range byStatus {
		fmt.Fprintf(&b, "leci_container_groups{status=%q} %d\n", status, n)
	}
	slices.SortFunc(groups, func(a, b2 runtime.GroupStatus) int { return strings.Compare(a.ID, b2.ID) })
	type series struct{ name, help, typ string }
	for _, m := range []series{
		{"leci_container_restarts_total", "Restarts of each container (RestartCount).", "counter"},
		{"leci_container_ready", "1 when the container is ready: its readiness probe passes, or it has none and runs.", "gauge"},
		{"leci_container_running", "1 when the container runs.", "gauge"},
	} {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, st := range groups {
			for _, c := range append(st.InitContainers, st.Containers...) {
				v := 0
				switch m.name {
				case "leci_container_restarts_total":
					v = c.RestartCount
				case "leci_container_ready":
					v = b2i(c.Ready)
				case "leci_container_running":
					v = b2i(c.Current.State == api.StateRunning)
				}
				fmt.Fprintf(&b, "%s{group=%q,container=%q} %d\n", m.name, st.ID, c.Name, v)
			}
		}
	}
	s.metrics.write(&b)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	io.WriteString(w, b.String())
}

func b2i(v bool) int {
	if v {
		return 1
	}
	return 0
}

func (m *apiMetrics) write(b *strings.Builder) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b.WriteString("# HELP leci_api_requests_total ECI API requests answered, by action and HTTP status.\n# TYPE leci_api_requests_total counter\n")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, c [2]string) int { return strings.Compare(a[0]+" "+a[1], c[0]+" "+c[1]) })
	for _, k := range keys {
		fmt.Fprintf(b, "leci_api_requests_total{action=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	b.WriteString("# HELP leci_api_request_duration_seconds ECI API latency, by action.\n# TYPE leci_api_request_duration_seconds histogram\n")
	actions := make([]string, 0, len(m.latency))
	for a := range m.latency {
		actions = append(actions, a)
	}
	slices.Sort(actions)
	for _, a := range actions {
		h := m.latency[a]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(b, "leci_api_request_duration_seconds_bucket{action=%q,le=%q} %d\n", a, strconv.FormatFloat(le, 'g', -1, 64), cum)
		}
		cum += h.counts[len(latencyBuckets)]
		fmt.Fprintf(b, "leci_api_request_duration_seconds_bucket{action=%q,le=\"+Inf\"} %d\n", a, cum)
		fmt.Fprintf(b, "leci_api_request_duration_seconds_sum{action=%q} %s\n", a, strconv.FormatFloat(h.sum, 'g', -1, 64))
		fmt.Fprintf(b, "leci_api_request_duration_seconds_count{action=%q} %d\n", a, h.n)
	}
}
