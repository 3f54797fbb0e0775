package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestMetrics(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("m1"))
	e.wantError(t, action("DeleteContainerGroup"), http.StatusBadRequest, "MissingParameter")
	e.local(t, action("NoSuchAction"))

	// Through the unix socket /metrics needs no signature.
	r := httptest.NewRequest(http.MethodGet, MetricsPath, nil)
	r = r.WithContext(contextWithUnix(r.Context()))
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	text := string(body)
	for _, want := range []string{
		`leci_container_groups{status="Running"} 1`,
		`leci_container_groups{status="Failed"} 0`,
		`leci_container_restarts_total{group="` + id + `",container="web"} 0`,
		`leci_container_ready{group="` + id + `",container="web"} `,
		`leci_api_requests_total{action="CreateContainerGroup",code="200"} 1`,
		`leci_api_requests_total{action="DeleteContainerGroup",code="400"} 1`,
		`leci_api_requests_total{action="other",code="404"} 1`,
		`leci_api_request_duration_seconds_bucket{action="CreateContainerGroup",le="+Inf"} 1`,
		`leci_api_request_duration_seconds_count{action="CreateContainerGroup"} 1`,
		"# TYPE leci_api_request_duration_seconds histogram",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in\n%s", want, text)
		}
	}
}

// Over TCP /metrics names every group and container of the host, so it
// needs a signature there, as the API does; MetricsHandler serves it
// unsigned on a listener of its own.
func TestMetricsOverTCP(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("m2"))
	ts := httptest.NewTLSServer(e.srv)
	t.Cleanup(ts.Close)
	get := func(t *testing.T, sign func(*http.Request)) (int, []byte) {
		t.Helper()
		r, err := http.NewRequest(http.MethodGet, ts.URL+MetricsPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		sign(r)
		return sendWith(t, ts.Client(), r)
	}
	status, body := get(t, func(*http.Request) {})
	checkError(t, status, body, http.StatusBadRequest, "IncompleteSignature")
	status, body = get(t, func(r *http.Request) { SignV3(r, nil, "testak", "wrongsecret", time.Now(), "") })
	checkError(t, status, body, http.StatusBadRequest, "SignatureDoesNotMatch")
	status, body = get(t, func(r *http.Request) { SignV3(r, nil, "testak", "testsecret", time.Now(), "") })
	if want := `leci_container_running{group="` + id + `",container="web"}`; status != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("signed /metrics: %d, want 200 with %s in\n%s", status, want, body)
	}

	own := httptest.NewServer(e.srv.MetricsHandler())
	t.Cleanup(own.Close)
	res, err := http.Get(own.URL + MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `leci_container_groups{status="Running"}`) {
		t.Errorf("metrics listener: %d %s", res.StatusCode, body)
	}
	// The metrics listener serves nothing else.
	res, err = http.Post(own.URL+"/?"+action("DescribeContainerGroups").Encode(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("the API on the metrics listener: %d, want 404", res.StatusCode)
	}
}
