package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"leci/api"
	"leci/pod"
	"leci/runtime"
)

func TestResponseShapes(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("shapes"))
	writeLog(t, e.root, id, "web", 1, "hello")

	for _, tc := range []struct {
		params url.Values
		keys   string
	}{
		{webRequest("shapes2"), "ContainerGroupId,RequestId"},
		{action("DescribeContainerGroups"), "ContainerGroups,NextToken,RequestId,TotalCount"},
		{action("DescribeContainerGroupStatus"), "Data,NextToken,RequestId,TotalCount"},
		{action("DescribeContainerLog", "ContainerGroupId", id, "ContainerName", "web"), "ContainerName,Content,RequestId"},
		{action("ExecContainerCommand", "ContainerGroupId", id, "ContainerName", "web", "Command", `["ls"]`, "Sync", "true"), "HttpUrl,RequestId,SyncResponse,WebSocketUri"},
		{action("DescribeContainerGroupEvents", "ContainerGroupIds", `["`+id+`"]`), "Data,RequestId,TotalCount"},
		{action("RestartContainerGroup", "ContainerGroupId", id), "RequestId"},
		{action("DeleteContainerGroup", "ContainerGroupId", id), "RequestId"},
	} {
		status, body := e.local(t, tc.params)
		if status != http.StatusOK {
			t.Errorf("%s: status %d: %s", tc.params.Get("Action"), status, body)
			continue
		}
		if got := objectKeys(t, body); got != tc.keys {
			t.Errorf("%s: keys %s, want %s", tc.params.Get("Action"), got, tc.keys)
		}
	}
}

func TestCreate(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("web", "OwnerId", "12345", "ResourceOwnerAccount", "someone"))
	st, err := e.groups.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	// The request reaches the engine normalized.
	if st.Request.RestartPolicy != api.DefaultRestartPolicy || st.Request.Container[0].ImagePullPolicy == "" {
		t.Errorf("request not normalized: %+v", st.Request)
	}
}

func TestCreateInvalid(t *testing.T) {
	e := newTestEnv(t)
	p := webRequest("bad", "Container.2.Name", "web", "Bogus", "1")
	er := e.wantError(t, p, http.StatusBadRequest, api.CodeInvalidParameter)
	if !strings.Contains(er.Message, "Bogus") {
		t.Errorf("message %q does not name the unknown parameter", er.Message)
	}
	// Validation after decoding: a duplicated container name.
	e.wantError(t, webRequest("dup", "Container.2.Name", "web"), http.StatusBadRequest, api.CodeDuplicatedName)
	if e.groups.creates != 0 {
		t.Errorf("%d groups created by invalid requests", e.groups.creates)
	}
}

func TestCreateCheck(t *testing.T) {
	e := newTestEnv(t, func(o *Options) {
		o.Check = func(*api.CreateContainerGroupRequest) error {
			return &api.Error{Code: "NFSVolume.NotSupport", Status: http.StatusBadRequest, Message: "no"}
		}
	})
	e.wantError(t, webRequest("web"), http.StatusBadRequest, "NFSVolume.NotSupport")
	e.wantError(t, webRequest("web", "DryRun", "true"), http.StatusBadRequest, "NFSVolume.NotSupport")
}

func TestDryRun(t *testing.T) {
	e := newTestEnv(t)
	er := e.wantError(t, webRequest("web", "DryRun", "true"), http.StatusBadRequest, "DryRunOperation")
	if er.Message != api.ErrDryRunOperation.Message {
		t.Errorf("message %q", er.Message)
	}
	// An invalid request with DryRun gets its validation errors.
	e.wantError(t, webRequest("web", "DryRun", "true", "Container.2.Name", "web"), http.StatusBadRequest, api.CodeDuplicatedName)
	// DryRun with a ClientToken claims nothing.
	e.wantError(t, webRequest("web", "DryRun", "true", "ClientToken", "tok"), http.StatusBadRequest, "DryRunOperation")
	if e.groups.creates != 0 {
		t.Errorf("DryRun created %d groups", e.groups.creates)
	}
	if tokens, _ := e.store.ClientTokens(); len(tokens) != 0 {
		t.Errorf("DryRun claimed tokens %v", tokens)
	}
}

func TestClientToken(t *testing.T) {
	e := newTestEnv(t)
	first := e.create(t, webRequest("web", "ClientToken", "tok-1"))
	again := e.create(t, webRequest("web", "ClientToken", "tok-1"))
	if again != first {
		t.Errorf("same token: got %s, want %s", again, first)
	}
	// Defaults given explicitly are the same request.
	explicit := e.create(t, webRequest("web", "ClientToken", "tok-1", "RestartPolicy", "Always"))
	if explicit != first {
		t.Errorf("same token, default given: got %s, want %s", explicit, first)
	}
	if e.groups.creates != 1 {
		t.Errorf("%d creates, want 1", e.groups.creates)
	}
	er := e.wantError(t, webRequest("other", "ClientToken", "tok-1"), http.StatusBadRequest, CodeTokenMismatch)
	if !strings.Contains(er.Message, "ClientToken") {
		t.Errorf("message %q does not name ClientToken", er.Message)
	}
	if other := e.create(t, webRequest("web", "ClientToken", "tok-2")); other == first {
		t.Error("another token gave the same group")
	}
	if got, _, err := e.store.ClientToken("tok-1"); err != nil || got != first {
		t.Errorf("store has %q, %v for tok-1", got, err)
	}
}

func TestClientTokenConcurrent(t *testing.T) {
	e := newTestEnv(t)
	ids := make(chan string, 8)
	for range 8 {
		go func() {
			status, body := e.local(t, webRequest("web", "ClientToken", "tok"))
			var resp api.CreateContainerGroupResponse
			json.Unmarshal(body, &resp)
			if status != http.StatusOK {
				t.Errorf("status %d: %s", status, body)
			}
			ids <- resp.ContainerGroupID
		}()
	}
	first := <-ids
	for range 7 {
		if id := <-ids; id != first {
			t.Errorf("got %s and %s for one token", first, id)
		}
	}
	if e.groups.creates != 1 {
		t.Errorf("%d creates, want 1", e.groups.creates)
	}
}

func TestDescribeContainerGroups(t *testing.T) {
	e := newTestEnv(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, e.create(t, webRequest(fmt.Sprintf("g%d", i), "Tag.1.Key", "app", "Tag.1.Value", map[bool]string{true: "web", false: "db"}[i%2 == 0])))
	}
	e.groups.mutate(ids[4], func(st *runtime.GroupStatus) { st.Phase = api.GroupSucceeded })

	describe := func(kv ...string) api.DescribeContainerGroupsResponse {
		t.Helper()
		var resp api.DescribeContainerGroupsResponse
		e.call(t, action("DescribeContainerGroups", kv...), &resp)
		return resp
	}
	names := func(resp api.DescribeContainerGroupsResponse) string {
		var out []string
		for _, g := range resp.ContainerGroups {
			out = append(out, g.ContainerGroupName)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		kv    []string
		names string
	}{
		{nil, "g4,g3,g2,g1,g0"}, // newest first
		{[]string{"ContainerGroupIds", `["` + ids[1] + `","` + ids[3] + `"]`}, "g3,g1"},
		{[]string{"ContainerGroupIds", `["eci-nothere"]`}, ""},
		{[]string{"ContainerGroupName", "g2"}, "g2"},
		{[]string{"Status", "Succeeded"}, "g4"},
		{[]string{"Tag.1.Key", "app", "Tag.1.Value", "web"}, "g4,g2,g0"},
		{[]string{"Tag.1.Key", "app"}, "g4,g3,g2,g1,g0"},
		{[]string{"Tag.1.Key", "app", "Tag.1.Value", "web", "Status", "Running"}, "g2,g0"},
	} {
		resp := describe(tc.kv...)
		if got := names(resp); got != tc.names {
			t.Errorf("%v: got %q, want %q", tc.kv, got, tc.names)
		}
		if resp.TotalCount != len(resp.ContainerGroups) || resp.NextToken != "" {
			t.Errorf("%v: TotalCount %d NextToken %q for %d groups", tc.kv, resp.TotalCount, resp.NextToken, len(resp.ContainerGroups))
		}
	}

	// Pages of 2, while a group is created between pages.
	var seen []string
	token := ""
	for i := 0; ; i++ {
		kv := []string{"Limit", "2"}
		if token != "" {
			kv = append(kv, "NextToken", token)
		}
		resp := describe(kv...)
		if resp.TotalCount < 5 {
			t.Fatalf("TotalCount %d", resp.TotalCount)
		}
		seen = append(seen, names(resp))
		if i == 0 {
			e.create(t, webRequest("late"))
		}
		if token = resp.NextToken; token == "" {
			break
		}
	}
	if got := strings.Join(seen, "|"); got != "g4,g3|g2,g1|g0" {
		t.Errorf("pages %s, want g4,g3|g2,g1|g0", got)
	}

	// A Limit over the maximum is capped.
	if resp := describe("Limit", "1000"); len(resp.ContainerGroups) != 6 {
		t.Errorf("Limit 1000: %d groups", len(resp.ContainerGroups))
	}
	// WithEvent=false leaves the events out, as [].
	status, body := e.local(t, action("DescribeContainerGroups", "WithEvent", "false", "ContainerGroupName", "g0"))
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"Events":[]`)) {
		t.Errorf("WithEvent=false: %d %s", status, body)
	}

	for _, kv := range [][]string{
		{"ContainerGroupIds", ids[0]}, // not a JSON array
		{"Status", "Sleeping"},
		{"NextToken", "garbage!"},
		{"Limit", "-1"},
	} {
		e.wantError(t, action("DescribeContainerGroups", kv...), http.StatusBadRequest, api.CodeInvalidParameter)
	}
}

func TestDescribeHidesSecrets(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("secret",
		"Container.1.EnvironmentVar.1.Key", "TOKEN",
		"Container.1.EnvironmentVar.1.Value", "env-secret-value",
		"Container.1.EnvironmentVarHide", "true",
		"ImageRegistryCredential.1.Server", "registry.example.com",
		"ImageRegistryCredential.1.UserName", "me",
		"ImageRegistryCredential.1.Password", "registry-secret-password",
	))
	for _, p := range []url.Values{
		action("DescribeContainerGroups"),
		action("DescribeContainerGroupStatus"),
		action("DescribeContainerGroupEvents", "ContainerGroupIds", `["`+id+`"]`),
	} {
		_, body := e.local(t, p)
		for _, secret := range []string{"env-secret-value", "registry-secret-password"} {
			if bytes.Contains(body, []byte(secret)) {
				t.Errorf("%s shows %s: %s", p.Get("Action"), secret, body)
			}
		}
	}
}

func TestDescribeContainerGroupStatus(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("st"))
	e.groups.mutate(id, func(st *runtime.GroupStatus) {
		st.Containers[1].Ready = false
		st.Containers[1].RestartCount = 2
		st.Containers[1].Current = runtime.ContainerState{State: api.StateWaiting, Reason: runtime.ReasonCrashLoopBackOff}
		st.Containers[1].Previous = &runtime.ContainerState{State: api.StateTerminated, ExitCode: 3, Reason: runtime.ReasonError}
	})
	var resp api.DescribeContainerGroupStatusResponse
	e.call(t, action("DescribeContainerGroupStatus", "ContainerGroupIds", `["`+id+`"]`), &resp)
	if resp.TotalCount != 1 || len(resp.Data) != 1 {
		t.Fatalf("got %+v", resp)
	}
	d := resp.Data[0]
	if d.ContainerGroupID != id || d.Status != api.GroupRunning || d.Name != "st" || d.PodStatus.Phase != "Running" || d.PodStatus.PodIP == "" {
		t.Errorf("got %+v", d)
	}
	cs := d.PodStatus.ContainerStatuses
	if len(cs) != 2 || cs[0].State.Running == nil || cs[1].State.Waiting == nil || cs[1].LastState.Terminated == nil ||
		cs[1].LastState.Terminated.ExitCode != 3 || cs[1].RestartCount != 2 || cs[0].Image != "busybox:1.35" {
		t.Errorf("container statuses %+v", cs)
	}
	for _, c := range d.PodStatus.Conditions {
		if c.Type == "Ready" && c.Status != "False" {
			t.Errorf("Ready is %s with a container not ready", c.Status)
		}
	}
}

func TestDescribeContainerGroupEvents(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("ev"))
	other := e.create(t, webRequest("other"))
	var resp api.DescribeContainerGroupEventsResponse
	e.call(t, action("DescribeContainerGroupEvents", "ContainerGroupIds", `["`+id+`"]`), &resp)
	if resp.TotalCount != 1 || len(resp.Data) != 1 || resp.Data[0].ContainerGroupID != id || len(resp.Data[0].Events) != 1 {
		t.Fatalf("got %+v", resp)
	}
	ev := resp.Data[0].Events[0]
	if ev.Reason != "Started" || ev.Count != 1 || ev.InvolvedObject.Kind != "Pod" || ev.FirstTimestamp == "" {
		t.Errorf("event %+v", ev)
	}
	_, body := e.local(t, action("DescribeContainerGroupEvents", "ContainerGroupIds", `["`+id+`"]`))
	for _, key := range []string{`"uuid"`, `"involvedObject"`} {
		if !bytes.Contains(body, []byte(key)) {
			t.Errorf("no %s in %s", key, body)
		}
	}
	e.call(t, action("DescribeContainerGroupEvents"), &resp)
	if resp.TotalCount != 2 {
		t.Errorf("all groups: %d", resp.TotalCount)
	}
	e.call(t, action("DescribeContainerGroupEvents", "ContainerGroupIds", `["`+other+`"]`, "EventSource", "K8sAgent"), &resp)
	if len(resp.Data) != 1 || len(resp.Data[0].Events) != 0 {
		t.Errorf("K8sAgent: %+v", resp.Data)
	}
	e.wantError(t, action("DescribeContainerGroupEvents", "EventSource", "Nope"), http.StatusBadRequest, api.CodeInvalidParameter)
}

// writeLog writes a CRI-format log file for one run of a container.
func writeLog(t *testing.T, root, id, container string, attempt int, lines ...string) {
	t.Helper()
	path := runtime.LogPath(root, id, container, attempt)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	at := time.Now().Add(-time.Duration(len(lines)) * time.Minute).UTC()
	for i, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", at.Add(time.Duration(i)*time.Minute).Format(time.RFC3339Nano), l)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDescribeContainerLog(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("logs"))
	e.groups.mutate(id, func(st *runtime.GroupStatus) { st.Containers[0].Attempt = 2 })
	writeLog(t, e.root, id, "web", 1, "old-1", "old-2")
	writeLog(t, e.root, id, "web", 2, "one", "two", "three", "four")

	content := func(kv ...string) string {
		t.Helper()
		var resp api.DescribeContainerLogResponse
		e.call(t, action("DescribeContainerLog", append([]string{"ContainerGroupId", id}, kv...)...), &resp)
		if resp.ContainerName == "" {
			t.Errorf("no ContainerName in %+v", resp)
		}
		return resp.Content
	}
	for _, tc := range []struct {
		kv   []string
		want string
	}{
		{[]string{"ContainerName", "web"}, "one\ntwo\nthree\nfour\n"},
		{nil, "one\ntwo\nthree\nfour\n"}, // the first app container
		{[]string{"Tail", "2"}, "three\nfour\n"},
		{[]string{"Tail", "0"}, ""},
		{[]string{"LastTime", "true"}, "old-1\nold-2\n"},
		{[]string{"LimitBytes", "8"}, "one\ntwo\n"},
		{[]string{"SinceSeconds", "150"}, "three\nfour\n"},
		{[]string{"ContainerName", "side"}, ""}, // no file yet
	} {
		if got := content(tc.kv...); got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.kv, got, tc.want)
		}
	}
	ts := content("Timestamps", "true", "Tail", "1")
	if !strings.HasSuffix(ts, " four\n") || !strings.Contains(ts, "T") {
		t.Errorf("Timestamps: got %q", ts)
	}
	e.wantError(t, action("DescribeContainerLog", "ContainerGroupId", id, "ContainerName", "nope"), http.StatusNotFound, CodeContainerNotFound)
	e.wantError(t, action("DescribeContainerLog", "ContainerGroupId", id, "Tail", "-1"), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("DescribeContainerLog", "ContainerGroupId", id, "StartTime", "yesterday"), http.StatusBadRequest, api.CodeInvalidParameter)
}

func TestExec(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("exec"))
	e.groups.execResult = pod.ExecResult{ExitCode: 0, Output: []byte("hello\n")}
	var resp api.ExecContainerCommandResponse
	e.call(t, action("ExecContainerCommand", "ContainerGroupId", id, "ContainerName", "side", "Command", `["sh","-c","echo hello"]`, "Sync", "true", "TTY", "false", "Stdin", "false"), &resp)
	if resp.SyncResponse != "hello\n" {
		t.Errorf("SyncResponse %q", resp.SyncResponse)
	}
	if len(e.groups.execs) != 1 {
		t.Fatalf("execs %+v", e.groups.execs)
	}
	x := e.groups.execs[0]
	if x.id != id || x.container != "side" || strings.Join(x.cmd, " ") != "sh -c echo hello" || x.maxOutput != MaxExecOutput {
		t.Errorf("exec %+v", x)
	}

	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Command", `["ls"]`, "Sync", "true", "TTY", "true"), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Sync", "true"), http.StatusBadRequest, api.CodeMissingParameter)
	// leci's Env, WorkingDir and User are for sessions; Env is KEY=VALUE.
	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Command", `["ls"]`, "Sync", "true", "WorkingDir", "/tmp"), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Command", `["ls"]`, "Env", `["NOEQUALS"]`), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Command", "ls", "Sync", "true"), http.StatusBadRequest, api.CodeInvalidParameter)
	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "ContainerName", "nope", "Command", `["ls"]`, "Sync", "true"), http.StatusNotFound, CodeContainerNotFound)

	e.groups.execErr = fmt.Errorf("%s/web: %w", id, runtime.ErrNotRunning)
	e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Command", `["ls"]`, "Sync", "true"), http.StatusBadRequest, "IncorrectStatus")
	e.groups.execErr = errors.New("containerd went away")
	er := e.wantError(t, action("ExecContainerCommand", "ContainerGroupId", id, "Command", `["ls"]`, "Sync", "true"), http.StatusInternalServerError, "InternalError")
	if !strings.Contains(er.Message, "containerd went away") {
		t.Errorf("message %q", er.Message)
	}
}

func TestDeleteAndRestart(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("del"))
	var resp api.RestartContainerGroupResponse
	e.call(t, action("RestartContainerGroup", "ContainerGroupId", id, "ClientToken", "x"), &resp)
	if len(e.groups.restarts) != 1 {
		t.Errorf("restarts %v", e.groups.restarts)
	}
	e.groups.restartErr = NotImplemented("RestartContainerGroup")
	e.wantError(t, action("RestartContainerGroup", "ContainerGroupId", id), http.StatusNotImplemented, CodeNotImplemented)

	var del api.DeleteContainerGroupResponse
	e.call(t, action("DeleteContainerGroup", "ContainerGroupId", id, "Force", "true", "ClientToken", "y"), &del)
	if err := e.srv.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.groups.Get(id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("group still there after delete: %v", err)
	}
	e.wantError(t, action("DeleteContainerGroup", "ContainerGroupId", id), http.StatusNotFound, CodeGroupNotFound)
}

func TestErrors(t *testing.T) {
	e := newTestEnv(t)
	id := e.create(t, webRequest("ee"))
	for _, tc := range []struct {
		name   string
		params url.Values
		status int
		code   string
	}{
		{"unknown action", action("RunInstances"), http.StatusNotFound, "InvalidAction.NotFound"},
		{"no action", url.Values{"RegionId": {"x"}}, http.StatusBadRequest, api.CodeMissingParameter},
		{"bad version", action("DescribeContainerGroups", "Version", "2014-05-26"), http.StatusBadRequest, "InvalidVersion"},
		{"unknown parameter", action("DescribeContainerGroups", "Colour", "red"), http.StatusBadRequest, api.CodeInvalidParameter},
		{"delete unknown", action("DeleteContainerGroup", "ContainerGroupId", "eci-nothere"), http.StatusNotFound, CodeGroupNotFound},
		{"delete without id", action("DeleteContainerGroup"), http.StatusBadRequest, api.CodeMissingParameter},
		{"restart unknown", action("RestartContainerGroup", "ContainerGroupId", "eci-nothere"), http.StatusNotFound, CodeGroupNotFound},
		{"logs unknown", action("DescribeContainerLog", "ContainerGroupId", "eci-nothere"), http.StatusNotFound, CodeGroupNotFound},
		{"exec unknown", action("ExecContainerCommand", "ContainerGroupId", "eci-nothere", "Command", `["ls"]`, "Sync", "true"), http.StatusNotFound, CodeGroupNotFound},
		{"metric unknown", action("DescribeContainerGroupMetric", "ContainerGroupId", "eci-nothere"), http.StatusNotFound, CodeGroupNotFound},
		{"metric bad period", action("DescribeContainerGroupMetric", "ContainerGroupId", id, "Period", "7"), http.StatusBadRequest, api.CodeInvalidParameter},
		{"owner params on other actions", action("DeleteContainerGroup", "OwnerId", "1", "OwnerAccount", "a", "ResourceOwnerId", "2", "ResourceOwnerAccount", "b", "ContainerGroupId", "eci-nothere"), http.StatusNotFound, CodeGroupNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) { e.wantError(t, tc.params, tc.status, tc.code) })
	}
}

func TestTransport(t *testing.T) {
	e := newTestEnv(t)
	unix := func(r *http.Request) *http.Request {
		return r.WithContext(contextWithUnix(r.Context()))
	}
	serve := func(r *http.Request) (int, []byte) {
		w := httptest.NewRecorder()
		e.srv.ServeHTTP(w, unix(r))
		return w.Code, w.Body.Bytes()
	}

	// GET with the action in the header, parameters in the query.
	r := httptest.NewRequest(http.MethodGet, "/?RegionId=cn-hangzhou", nil)
	r.Header.Set("x-acs-action", "DescribeContainerGroups")
	r.Header.Set("x-acs-version", APIVersion)
	if status, body := serve(r); status != http.StatusOK {
		t.Errorf("GET: %d %s", status, body)
	}
	// POST with the parameters in a form body.
	form := webRequest("form")
	r = httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, body := serve(r); status != http.StatusOK || !bytes.Contains(body, []byte("ContainerGroupId")) {
		t.Errorf("form POST: %d %s", status, body)
	}
	// Query and header disagree.
	r = httptest.NewRequest(http.MethodPost, "/?Action=DescribeContainerGroups", nil)
	r.Header.Set("x-acs-action", "DeleteContainerGroup")
	status, body := serve(r)
	checkError(t, status, body, http.StatusBadRequest, api.CodeInvalidParameter)
	// PUT.
	status, body = serve(httptest.NewRequest(http.MethodPut, "/?Action=DescribeContainerGroups", nil))
	checkError(t, status, body, http.StatusMethodNotAllowed, "UnsupportedHTTPMethod")
	// Another path.
	status, body = serve(httptest.NewRequest(http.MethodPost, "/v1/groups?Action=DescribeContainerGroups", nil))
	checkError(t, status, body, http.StatusNotFound, "InvalidAction.NotFound")
	// A body over the limit.
	big := strings.Repeat("x", DefaultMaxBodyBytes+1)
	r = httptest.NewRequest(http.MethodPost, "/?Action=DescribeContainerGroups", strings.NewReader("a="+big))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, body = serve(r)
	checkError(t, status, body, http.StatusRequestEntityTooLarge, "RequestTooLarge")
	// A JSON body.
	r = httptest.NewRequest(http.MethodPost, "/?Action=DescribeContainerGroups", strings.NewReader(`{}`))
	r.Header.Set("Content-Type", "application/json")
	status, body = serve(r)
	checkError(t, status, body, http.StatusBadRequest, api.CodeInvalidParameter)
	// Every answer carries x-acs-request-id equal to the body's RequestId.
	w := httptest.NewRecorder()
	e.srv.ServeHTTP(w, unix(httptest.NewRequest(http.MethodPost, "/?Action=DescribeContainerGroups", nil)))
	var meta api.ResponseMeta
	json.Unmarshal(w.Body.Bytes(), &meta)
	if meta.RequestID == "" || w.Header().Get("x-acs-request-id") != meta.RequestID {
		t.Errorf("RequestId %q, header %q", meta.RequestID, w.Header().Get("x-acs-request-id"))
	}
}

func TestMultipleErrorsInOneAnswer(t *testing.T) {
	e := newTestEnv(t)
	p := action("CreateContainerGroup", "ContainerGroupName", "xx")
	er := e.wantError(t, p, http.StatusBadRequest, api.CodeMissingParameter)
	if er.Message == "" {
		t.Error("empty message")
	}
	p = webRequest("two", "Container.1.Bogus", "1", "Container.2.Bogus", "2")
	er = e.wantError(t, p, http.StatusBadRequest, api.CodeInvalidParameter)
	if !strings.Contains(er.Message, "Container.1.Bogus") || !strings.Contains(er.Message, "Container.2.Bogus") {
		t.Errorf("message %q does not report both", er.Message)
	}
}
