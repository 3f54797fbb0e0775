package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"

	"leci/pod"
	"leci/runtime"
)

// TestOfficialSDK drives the server over TCP with the official tea SDK
// (github.com/alibabacloud-go/eci-20180808/v3), signing with v3
// (ACS3-HMAC-SHA256, the default) and v1 (SignatureAlgorithm "v2", RPC
// HMAC-SHA1). Every answer must decode without error.
func TestOfficialSDK(t *testing.T) {
	for _, tc := range []struct {
		name      string
		algorithm *string
		signedBy  func(*http.Request) bool
	}{
		{"v3", nil, func(r *http.Request) bool {
			return strings.HasPrefix(r.Header.Get("Authorization"), "ACS3-HMAC-SHA256 ")
		}},
		{"v1", tea.String("v2"), func(r *http.Request) bool {
			return r.Header.Get("Authorization") == "" && r.URL.Query().Get("SignatureMethod") == "HMAC-SHA1"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t)
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !tc.signedBy(r) {
					t.Errorf("%s request not signed as expected: %s %v", tc.name, r.URL, r.Header)
				}
				e.srv.ServeHTTP(w, r)
			}))
			defer ts.Close()
			u, _ := url.Parse(ts.URL)
			client, err := eci.NewClient(&openapi.Config{
				AccessKeyId:        tea.String("testak"),
				AccessKeySecret:    tea.String("testsecret"),
				RegionId:           tea.String("cn-hangzhou"),
				Endpoint:           tea.String(u.Host),
				Protocol:           tea.String("http"),
				SignatureAlgorithm: tc.algorithm,
			})
			if err != nil {
				t.Fatal(err)
			}
			sdkFlow(t, e, client)
		})
	}
}

func sdkFlow(t *testing.T, e *testEnv, client *eci.Client) {
	region := tea.String("cn-hangzhou")

	// Create, twice with one ClientToken.
	create := &eci.CreateContainerGroupRequest{
		RegionId:           region,
		ContainerGroupName: tea.String("sdk-web"),
		ClientToken:        tea.String("sdk-token"),
		RestartPolicy:      tea.String("Always"),
		Cpu:                tea.Float32(1),
		Memory:             tea.Float32(2),
		OwnerId:            tea.Int64(1234),
		Tag:                []*eci.CreateContainerGroupRequestTag{{Key: tea.String("app"), Value: tea.String("web")}},
		Container: []*eci.CreateContainerGroupRequestContainer{{
			Name:    tea.String("web"),
			Image:   tea.String("busybox:1.35"),
			Command: []*string{tea.String("sh"), tea.String("-c"), tea.String("httpd -f -p 8080")},
			Cpu:     tea.Float32(0.5),
			Memory:  tea.Float32(1),
			EnvironmentVar: []*eci.CreateContainerGroupRequestContainerEnvironmentVar{
				{Key: tea.String("GREETING"), Value: tea.String("hello world & more=1")},
			},
			Port: []*eci.CreateContainerGroupRequestContainerPort{{Port: tea.Int32(8080), Protocol: tea.String("TCP")}},
		}},
	}
	created, err := client.CreateContainerGroup(create)
	if err != nil {
		t.Fatalf("CreateContainerGroup: %v", err)
	}
	id := tea.StringValue(created.Body.ContainerGroupId)
	if id == "" || tea.StringValue(created.Body.RequestId) == "" {
		t.Fatalf("create answered %s", created.Body)
	}
	again, err := client.CreateContainerGroup(create)
	if err != nil || tea.StringValue(again.Body.ContainerGroupId) != id {
		t.Fatalf("create with the same ClientToken: %v, %v", again, err)
	}
	// DryRun is an error the SDK reports with its code.
	create.DryRun, create.ClientToken = tea.Bool(true), nil
	_, err = client.CreateContainerGroup(create)
	wantSDKError(t, err, "DryRunOperation", http.StatusBadRequest)
	create.DryRun = nil

	// Describe, with every filter the SDK sends.
	described, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{
		RegionId:          region,
		ContainerGroupIds: tea.String(`["` + id + `"]`),
		Limit:             tea.Int32(20),
		Tag:               []*eci.DescribeContainerGroupsRequestTag{{Key: tea.String("app"), Value: tea.String("web")}},
		OwnerId:           tea.Int64(1234),
	})
	if err != nil {
		t.Fatalf("DescribeContainerGroups: %v", err)
	}
	b := described.Body
	if tea.Int32Value(b.TotalCount) != 1 || len(b.ContainerGroups) != 1 {
		t.Fatalf("describe answered %s", b)
	}
	g := b.ContainerGroups[0]
	if tea.StringValue(g.ContainerGroupId) != id || tea.StringValue(g.Status) != "Running" || tea.StringValue(g.ContainerGroupName) != "sdk-web" ||
		len(g.Containers) != 1 || tea.StringValue(g.Containers[0].Name) != "web" || tea.StringValue(g.Containers[0].CurrentState.State) != "Running" ||
		tea.Float32Value(g.Memory) != 2 || len(g.Tags) != 1 || len(g.Containers[0].EnvironmentVars) != 1 ||
		tea.StringValue(g.Containers[0].EnvironmentVars[0].Value) != "hello world & more=1" {
		t.Errorf("group %s", g)
	}

	// Status.
	status, err := client.DescribeContainerGroupStatus(&eci.DescribeContainerGroupStatusRequest{RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`)})
	if err != nil {
		t.Fatalf("DescribeContainerGroupStatus: %v", err)
	}
	if len(status.Body.Data) != 1 || tea.StringValue(status.Body.Data[0].Status) != "Running" ||
		tea.StringValue(status.Body.Data[0].PodStatus.ContainerStatuses[0].State.Running.StartedAtstartedAt) == "" {
		t.Errorf("status %s", status.Body)
	}

	// Logs.
	writeLog(t, e.root, id, "web", 1, "first", "second")
	logs, err := client.DescribeContainerLog(&eci.DescribeContainerLogRequest{
		RegionId: region, ContainerGroupId: tea.String(id), ContainerName: tea.String("web"),
		Tail: tea.Int32(100), Timestamps: tea.Bool(false),
	})
	if err != nil {
		t.Fatalf("DescribeContainerLog: %v", err)
	}
	if tea.StringValue(logs.Body.Content) != "first\nsecond\n" || tea.StringValue(logs.Body.ContainerName) != "web" {
		t.Errorf("logs %s", logs.Body)
	}

	// Exec.
	e.groups.execResult = pod.ExecResult{Output: []byte("hello\n")}
	exec, err := client.ExecContainerCommand(&eci.ExecContainerCommandRequest{
		RegionId: region, ContainerGroupId: tea.String(id), ContainerName: tea.String("web"),
		Command: tea.String(`["sh","-c","echo hello"]`), Sync: tea.Bool(true), TTY: tea.Bool(false), Stdin: tea.Bool(false),
	})
	if err != nil {
		t.Fatalf("ExecContainerCommand: %v", err)
	}
	if tea.StringValue(exec.Body.SyncResponse) != "hello\n" {
		t.Errorf("exec %s", exec.Body)
	}
	if x := e.groups.execs[len(e.groups.execs)-1]; strings.Join(x.cmd, "|") != "sh|-c|echo hello" {
		t.Errorf("exec ran %q", x.cmd)
	}

	// Restart.
	if _, err := client.RestartContainerGroup(&eci.RestartContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)}); err != nil {
		t.Fatalf("RestartContainerGroup: %v", err)
	}

	// Events.
	events, err := client.DescribeContainerGroupEvents(&eci.DescribeContainerGroupEventsRequest{RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`)})
	if err != nil {
		t.Fatalf("DescribeContainerGroupEvents: %v", err)
	}
	if len(events.Body.Data) != 1 || len(events.Body.Data[0].Events) == 0 || tea.StringValue(events.Body.Data[0].Events[0].Reason) != "Started" ||
		tea.StringValue(events.Body.Data[0].Events[0].InvolvedObject.Kind) != "Pod" {
		t.Errorf("events %s", events.Body)
	}

	// Delete; then the group is gone, and a second delete is a 404.
	if _, err := client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id), Force: tea.Bool(true)}); err != nil {
		t.Fatalf("DeleteContainerGroup: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := e.groups.Get(id); errors.Is(err, runtime.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the group was not deleted")
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)})
	wantSDKError(t, err, CodeGroupNotFound, http.StatusNotFound)
}

func wantSDKError(t *testing.T, err error, code string, status int) {
	t.Helper()
	var se *tea.SDKError
	if !errors.As(err, &se) {
		t.Fatalf("got %v (%T), want a *tea.SDKError", err, err)
	}
	if tea.StringValue(se.Code) != code || tea.IntValue(se.StatusCode) != status {
		t.Errorf("got code %s status %d (%s), want %s %d", tea.StringValue(se.Code), tea.IntValue(se.StatusCode), tea.StringValue(se.Message), code, status)
	}
}
