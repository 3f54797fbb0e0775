package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMetrics(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("m1"))
	e.wantError(t, action("DeleteContainerGroup"), http.StatusBadRequest, "MissingParameter")
	e.local(t, action("NoSuchAction"))

	// Over TCP, unsigned: /metrics needs no signature.
	r := httptest.NewRequest(http.MethodGet, MetricsPath, nil)
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
