//go:build integration

package integration

import (
	"net"
	"strings"
	"testing"
	"time"

	legacy "github.com/aliyun/alibaba-cloud-sdk-go/services/eci"
)

// TestLegacySDKEndToEnd drives a group through the daemon with the older
// official SDK (github.com/aliyun/alibaba-cloud-sdk-go/services/eci), which
// signs RPC HMAC-SHA1 as the aliyun CLI does: create, describe until
// Running, logs, an exec session (this SDK knows only the WebSocket form),
// restart, the events in the describe answer, delete.
func TestLegacySDKEndToEnd(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client, point := d.legacyClient(t)

	create := legacy.CreateCreateContainerGroupRequest()
	point(create)
	create.RegionId = "cn-hangzhou"
	create.ContainerGroupName = "sdk-legacy"
	create.RestartPolicy = "Always"
	create.TerminationGracePeriodSeconds = "1"
	create.Container = &[]legacy.CreateContainerGroupContainer{{
		Name: "app", Image: image,
		Command: []string{"sh", "-c", "trap 'exit 0' TERM; echo hello-from-legacy; while true; do sleep 0.2; done"},
	}}
	created, err := client.CreateContainerGroup(create)
	if err != nil {
		t.Fatalf("CreateContainerGroup: %v", err)
	}
	id := created.ContainerGroupId
	if !strings.HasPrefix(id, "eci-") || created.RequestId == "" {
		t.Fatalf("CreateContainerGroup answered %s", created.GetHttpContentString())
	}
	deleted := false
	defer func() {
		if !deleted {
			req := legacy.CreateDeleteContainerGroupRequest()
			point(req)
			req.ContainerGroupId = id
			client.DeleteContainerGroup(req)
		}
	}()

	describe := func() *legacy.DescribeContainerGroupsContainerGroup0 {
		t.Helper()
		req := legacy.CreateDescribeContainerGroupsRequest()
		point(req)
		req.RegionId = "cn-hangzhou"
		req.ContainerGroupIds = `["` + id + `"]`
		resp, err := client.DescribeContainerGroups(req)
		if err != nil {
			t.Fatalf("DescribeContainerGroups: %v", err)
		}
		if len(resp.ContainerGroups) == 0 {
			return nil
		}
		return &resp.ContainerGroups[0]
	}
	waitRunning := func(restarts int) *legacy.DescribeContainerGroupsContainerGroup0 {
		t.Helper()
		var g *legacy.DescribeContainerGroupsContainerGroup0
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			g = describe()
			if g != nil && g.Status == "Running" && len(g.Containers) == 1 &&
				g.Containers[0].CurrentState.State == "Running" && g.Containers[0].RestartCount == restarts {
				return g
			}
		}
		t.Fatalf("%s did not run with %d restarts: %+v", id, restarts, g)
		return nil
	}
	g := waitRunning(0)
	if g.ContainerGroupName != "sdk-legacy" || net.ParseIP(g.IntranetIp) == nil {
		t.Errorf("group %+v", g)
	}

	logs := legacy.CreateDescribeContainerLogRequest()
	point(logs)
	logs.ContainerGroupId, logs.ContainerName = id, "app"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got, err := client.DescribeContainerLog(logs)
		if err != nil {
			t.Fatalf("DescribeContainerLog: %v", err)
		}
		if strings.Contains(got.Content, "hello-from-legacy") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeContainerLog answered %q", got.Content)
		}
	}

	ex := legacy.CreateExecContainerCommandRequest()
	point(ex)
	ex.ContainerGroupId, ex.ContainerName, ex.Command = id, "app", `["echo","hi"]`
	session, err := client.ExecContainerCommand(ex)
	if err != nil {
		t.Fatalf("ExecContainerCommand: %v", err)
	}
	if want := "ws://" + d.addr + "/exec/"; !strings.HasPrefix(session.WebSocketUri, want) {
		t.Errorf("ExecContainerCommand: WebSocketUri %q, want %s…", session.WebSocketUri, want)
	}

	restart := legacy.CreateRestartContainerGroupRequest()
	point(restart)
	restart.ContainerGroupId = id
	if _, err := client.RestartContainerGroup(restart); err != nil {
		t.Fatalf("RestartContainerGroup: %v", err)
	}
	g = waitRunning(1)
	started := 0
	for _, e := range g.Events {
		if e.Reason == "Started" {
			started++
		}
	}
	if started == 0 {
		t.Errorf("no Started event in %+v", g.Events)
	}

	del := legacy.CreateDeleteContainerGroupRequest()
	point(del)
	del.ContainerGroupId = id
	if _, err := client.DeleteContainerGroup(del); err != nil {
		t.Fatalf("DeleteContainerGroup: %v", err)
	}
	deleted = true
	for deadline := time.Now().Add(60 * time.Second); describe() != nil; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not deleted", id)
		}
	}
}

// legacyClient is the older SDK with the test's AccessKey, and the function
// that points a request at the daemon's loopback listener over HTTP.
func (d *tcpDaemon) legacyClient(t *testing.T) (*legacy.Client, func(pointable)) {
	t.Helper()
	client, err := legacy.NewClientWithAccessKey("cn-hangzhou", sdkAccessKeyID, sdkAccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	return client, func(r pointable) {
		r.SetDomain(d.addr)
		r.SetScheme("HTTP")
	}
}

// pointable is a request of the older SDK.
type pointable interface {
	SetDomain(string)
	SetScheme(string)
}
