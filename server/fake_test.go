package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"leci/api"
	"leci/pod"
	"leci/runtime"
	"leci/store"
)

// fakeGroups is an in-memory engine: groups are Running at once, with one
// run (attempt 1) of every container.
type fakeGroups struct {
	mu      sync.Mutex
	groups  map[string]*runtime.GroupStatus
	n       int
	base    time.Time
	creates int

	deletes    []string
	restarts   []string
	restartErr error
	execs      []fakeExec
	execResult pod.ExecResult
	execErr    error
	createErr  error
	// attach runs the commands of ExecAttach; nil answers exit code 0.
	attach   func(ctx context.Context, eio pod.ExecIO) (int, error)
	attaches []fakeExec

	metricRecords []api.MetricRecord
	metricCalls   []fakeMetricCall
	updates       int
}

type fakeMetricCall struct {
	id         string
	start, end time.Time
	period     time.Duration
}

type fakeExec struct {
	id, container string
	cmd           []string
	maxOutput     int
}

var _ Groups = (*fakeGroups)(nil)

func newFakeGroups() *fakeGroups {
	return &fakeGroups{groups: map[string]*runtime.GroupStatus{}, base: time.Date(2026, 11, 27, 15, 0, 0, 0, time.UTC)}
}

func (f *fakeGroups) Create(_ context.Context, req *api.CreateContainerGroupRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.createErr != nil {
		return "", f.createErr
	}
	f.n++
	f.creates++
	id := fmt.Sprintf("eci-fake%016d", f.n)
	at := f.base.Add(time.Duration(f.n) * time.Second)
	st := &runtime.GroupStatus{
		ID: id, Request: req, Phase: api.GroupRunning, CreatedAt: at, StartedAt: at, IPv4: fmt.Sprintf("10.89.0.%d", f.n+1),
		Events: []runtime.Event{{Type: "Normal", Reason: "Started", Object: "", Message: "group started", Count: 1, First: at, Last: at}},
	}
	for _, c := range req.InitContainer {
		st.InitContainers = append(st.InitContainers, runtime.ContainerStatus{Name: c.Name, Init: true, Attempt: 1, ID: id + "-" + c.Name,
			Current: runtime.ContainerState{State: api.StateTerminated, Reason: runtime.ReasonCompleted, StartedAt: at, FinishedAt: at}})
	}
	for _, c := range req.Container {
		st.Containers = append(st.Containers, runtime.ContainerStatus{Name: c.Name, Attempt: 1, ID: id + "-" + c.Name, Ready: true, Started: true,
			Current: runtime.ContainerState{State: api.StateRunning, StartedAt: at}})
	}
	f.groups[id] = st
	return id, nil
}

func (f *fakeGroups) Get(id string) (runtime.GroupStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, ok := f.groups[id]
	if !ok {
		return runtime.GroupStatus{}, fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	return *st, nil
}

func (f *fakeGroups) List() []runtime.GroupStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.GroupStatus
	for _, st := range f.groups {
		out = append(out, *st)
	}
	return out
}

func (f *fakeGroups) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[id]; !ok {
		return fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	delete(f.groups, id)
	f.deletes = append(f.deletes, id)
	return nil
}

func (f *fakeGroups) Restart(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.restartErr != nil {
		return f.restartErr
	}
	f.restarts = append(f.restarts, id)
	return nil
}

func (f *fakeGroups) Exec(_ context.Context, id, container string, cmd []string, maxOutput int) (pod.ExecResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, fakeExec{id: id, container: container, cmd: cmd, maxOutput: maxOutput})
	return f.execResult, f.execErr
}

func (f *fakeGroups) Metrics(_ context.Context, id string, start, end time.Time, period time.Duration) ([]api.MetricRecord, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[id]; !ok {
		return nil, fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	f.metricCalls = append(f.metricCalls, fakeMetricCall{id: id, start: start, end: end, period: period})
	return f.metricRecords, nil
}

func (f *fakeGroups) ExecAttach(ctx context.Context, id, container string, eio pod.ExecIO) (int, error) {
	f.mu.Lock()
	f.attaches = append(f.attaches, fakeExec{id: id, container: container, cmd: eio.Cmd})
	attach := f.attach
	f.mu.Unlock()
	if attach == nil {
		return 0, nil
	}
	return attach(ctx, eio)
}

// mutate changes a group's status in place.
func (f *fakeGroups) mutate(id string, fn func(*runtime.GroupStatus)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f.groups[id])
}

// testEnv is a server on a fake engine and a real store.
type testEnv struct {
	srv    *Server
	groups *fakeGroups
	store  *store.Store
	root   string
}

func newTestEnv(t *testing.T, mutate ...func(*Options)) *testEnv {
	t.Helper()
	root := t.TempDir()
	st, err := store.Open(filepath.Join(root, "leci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := newFakeGroups()
	opts := Options{Groups: g, Tokens: st, Root: root, AccessKeys: map[string]string{"testak": "testsecret", "LTAI_testak": "testsecret"}}
	for _, m := range mutate {
		m(&opts)
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return &testEnv{srv: srv, groups: g, store: st, root: root}
}

// local sends params as a POST query through the (pretend) unix socket,
// where no signature is needed, and returns the status and the body.
func (e *testEnv) local(t *testing.T, params url.Values) (int, []byte) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/?"+params.Encode(), nil)
	r = r.WithContext(contextWithUnix(r.Context()))
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, r)
	res := w.Result()
	body, _ := io.ReadAll(res.Body)
	if ct := res.Header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
		t.Errorf("Content-Type %q, want application/json;charset=utf-8", ct)
	}
	return res.StatusCode, body
}

// action builds the parameters of an action from key/value pairs.
func action(name string, kv ...string) url.Values {
	v := url.Values{"Action": {name}, "Version": {APIVersion}, "RegionId": {"cn-hangzhou"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// call sends an action and decodes a 200 answer into out.
func (e *testEnv) call(t *testing.T, params url.Values, out any) {
	t.Helper()
	status, body := e.local(t, params)
	if status != http.StatusOK {
		t.Fatalf("%s: status %d, body %s", params.Get("Action"), status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s: %v in %s", params.Get("Action"), err, body)
	}
}

// wantError sends an action and checks the error answer.
func (e *testEnv) wantError(t *testing.T, params url.Values, status int, code string) api.ErrorResponse {
	t.Helper()
	got, body := e.local(t, params)
	return checkError(t, got, body, status, code)
}

func checkError(t *testing.T, got int, body []byte, status int, code string) api.ErrorResponse {
	t.Helper()
	var er api.ErrorResponse
	if err := json.Unmarshal(body, &er); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if got != status || er.Code != code {
		t.Fatalf("got %d %s (%s), want %d %s", got, er.Code, er.Message, status, code)
	}
	keys := objectKeys(t, body)
	if want := "Code,HostId,Message,Recommend,RequestId"; keys != want {
		t.Errorf("error keys %s, want %s", keys, want)
	}
	if er.RequestID == "" || er.HostID == "" {
		t.Errorf("error without RequestId or HostId: %s", body)
	}
	return er
}

// objectKeys lists the keys of a JSON object, sorted, comma-separated.
func objectKeys(t *testing.T, data []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return strings.Join(keys, ",")
}

// webRequest is a small valid create request.
func webRequest(name string, kv ...string) url.Values {
	v := action("CreateContainerGroup",
		"ContainerGroupName", name,
		"Container.1.Name", "web",
		"Container.1.Image", "busybox:1.35",
		"Container.1.Command.1", "httpd",
		"Container.2.Name", "side",
		"Container.2.Image", "busybox:1.35",
	)
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// create makes a group through the API and returns its id.
func (e *testEnv) create(t *testing.T, params url.Values) string {
	t.Helper()
	var resp api.CreateContainerGroupResponse
	e.call(t, params, &resp)
	if resp.ContainerGroupID == "" || resp.RequestID == "" {
		t.Fatalf("create answered %+v", resp)
	}
	return resp.ContainerGroupID
}

// contextWithUnix marks a request as come through the unix socket.
func contextWithUnix(ctx context.Context) context.Context {
	return context.WithValue(ctx, http.LocalAddrContextKey, &net.UnixAddr{Name: "/run/leci/leci.sock", Net: "unix"})
}
