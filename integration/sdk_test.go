//go:build integration

package integration

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	openapi "github.com/alibabacloud-go/darabonba-openapi/v2/client"
	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"

	"leci/internal/testutil"
	"leci/server"
)

// The access key the SDK tests' daemons accept on TCP.
const (
	sdkAccessKeyID     = "testak"
	sdkAccessKeySecret = "testsecret"
)

// tcpDaemon is `leci daemon` serving a unix socket and a loopback TCP port.
type tcpDaemon struct {
	cmd  *exec.Cmd
	sock string // unix socket path
	addr string // 127.0.0.1:PORT
	out  *lockedOutput
	// caPEM is the certificate the TCP port serves HTTPS with; empty for
	// plain HTTP.
	caPEM string
}

type lockedOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (o *lockedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.Write(p)
}

func (o *lockedOutput) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.b.String()
}

// freeLoopbackPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freeLoopbackPort(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// startTCPDaemon starts `leci daemon` with a unix socket under root and a
// TCP listener on loopback accepting sdkAccessKeyID (given as users are
// told to, in LECI_ACCESS_KEY). global are leci's global flags (root,
// containerd, namespace, bridge, ...), daemonFlags more flags of the
// daemon. The daemon is stopped (SIGTERM) when the test ends, before the
// harness's own checks.
func startTCPDaemon(tb testing.TB, root string, global []string, daemonFlags ...string) *tcpDaemon {
	tb.Helper()
	d := &tcpDaemon{sock: filepath.Join(root, "leci.sock"), addr: freeLoopbackPort(tb), out: &lockedOutput{}}
	args := append(append([]string{}, global...), "--log-level", "info", "daemon",
		"--listen", "unix://"+d.sock, "--listen", "tcp://"+d.addr)
	d.cmd = exec.Command(leciBinary, append(args, daemonFlags...)...)
	d.cmd.Env = append(os.Environ(), "LECI_ACCESS_KEY="+sdkAccessKeyID+":"+sdkAccessKeySecret)
	d.cmd.Stdout, d.cmd.Stderr = d.out, d.out
	if err := d.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		d.stop()
		if tb.Failed() {
			tb.Logf("daemon output:\n%s", d.out.String())
		}
	})
	for i := 0; i < 400; i++ {
		c1, err1 := net.Dial("unix", d.sock)
		c2, err2 := net.Dial("tcp", d.addr)
		if err1 == nil {
			c1.Close()
		}
		if err2 == nil {
			c2.Close()
		}
		if err1 == nil && err2 == nil {
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("the daemon did not listen:\n%s", d.out.String())
	return nil
}

func (d *tcpDaemon) stop() {
	if d.cmd.ProcessState == nil {
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.cmd.Wait()
	}
}

// sdkClient is the official tea SDK pointed at the daemon's TCP listener,
// over HTTPS trusting the daemon's certificate when it has one.
// algorithm nil signs v3 (ACS3-HMAC-SHA256); "v2" signs the RPC HMAC-SHA1 (v1).
func (d *tcpDaemon) sdkClient(tb testing.TB, algorithm *string) *eci.Client {
	tb.Helper()
	cfg := &openapi.Config{
		AccessKeyId:        tea.String(sdkAccessKeyID),
		AccessKeySecret:    tea.String(sdkAccessKeySecret),
		RegionId:           tea.String("cn-hangzhou"),
		Endpoint:           tea.String(d.addr),
		Protocol:           tea.String("http"),
		SignatureAlgorithm: algorithm,
		ReadTimeout:        tea.Int(90000),
		ConnectTimeout:     tea.Int(5000),
	}
	if d.caPEM != "" {
		cfg.Protocol, cfg.Ca = tea.String("https"), tea.String(d.caPEM)
	}
	client, err := eci.NewClient(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// TestSDKEndToEnd drives real groups through the real daemon with the
// official SDK (github.com/alibabacloud-go/eci-20180808/v3), signed with
// v3 and with v1: create, describe until Running, logs, exec, restart,
// events, delete.
func TestSDKEndToEnd(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	for _, tc := range []struct {
		name      string
		algorithm *string
	}{
		{"v3", nil},
		{"v1", tea.String("v2")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sdkLifecycle(t, d.sdkClient(t, tc.algorithm), "sdk-"+tc.name)
		})
	}
	// Prometheus metrics on the TCP listener: signed, as every request there.
	res, err := http.Get("http://" + d.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("unsigned /metrics over TCP: %d, want 400", res.StatusCode)
	}
	r, _ := http.NewRequest(http.MethodGet, "http://"+d.addr+"/metrics", nil)
	server.SignV3(r, nil, sdkAccessKeyID, sdkAccessKeySecret, time.Now(), "")
	res, err = http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`leci_api_requests_total{action="CreateContainerGroup",code="200"} 2`,
		`leci_api_requests_total{action="RestartContainerGroup",code="200"} 2`,
		`leci_api_request_duration_seconds_count{action="DescribeContainerGroups"}`,
		`leci_container_groups{status="Running"} 0`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics: no %q in\n%s", want, body)
		}
	}
}

// TestSDKOverTLS drives a group through `leci daemon --tls-cert --tls-key`
// with the official SDK over HTTPS, trusting the daemon's self-signed
// certificate; plain HTTP to the same port is refused.
func TestSDKOverTLS(t *testing.T) {
	hr := newHarness(t)
	cert, key, _ := testutil.SelfSignedCert(t, t.TempDir())
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:], "--tls-cert", cert, "--tls-key", key)
	pem, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	d.caPEM = string(pem)
	sdkLifecycle(t, d.sdkClient(t, nil), "sdk-tls")

	res, err := http.Post("http://"+d.addr+"/?Action=DescribeContainerGroups", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
		t.Errorf("plain HTTP to the TLS port: %d %s", res.StatusCode, body)
	}
}

func sdkLifecycle(t *testing.T, client *eci.Client, name string) {
	region := tea.String("cn-hangzhou")
	marker := "hello-from-" + name
	created, err := client.CreateContainerGroup(&eci.CreateContainerGroupRequest{
		RegionId:                      region,
		ContainerGroupName:            tea.String(name),
		RestartPolicy:                 tea.String("Always"),
		TerminationGracePeriodSeconds: tea.Int64(1),
		Tag:                           []*eci.CreateContainerGroupRequestTag{{Key: tea.String("suite"), Value: tea.String("sdk")}},
		Container: []*eci.CreateContainerGroupRequestContainer{{
			Name:  tea.String("app"),
			Image: tea.String(image),
			Command: []*string{tea.String("sh"), tea.String("-c"),
				tea.String("trap 'exit 0' TERM; echo " + marker + "; while true; do sleep 0.2; done")},
		}},
	})
	if err != nil {
		t.Fatalf("CreateContainerGroup: %v", err)
	}
	id := tea.StringValue(created.Body.ContainerGroupId)
	if !strings.HasPrefix(id, "eci-") || tea.StringValue(created.Body.RequestId) == "" {
		t.Fatalf("CreateContainerGroup answered %s", created.Body)
	}
	deleted := false
	defer func() {
		if !deleted {
			client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)})
		}
	}()

	describe := func() *eci.DescribeContainerGroupsResponseBodyContainerGroups {
		t.Helper()
		resp, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{
			RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`), Limit: tea.Int32(10),
		})
		if err != nil {
			t.Fatalf("DescribeContainerGroups: %v", err)
		}
		if tea.StringValue(resp.Body.RequestId) == "" {
			t.Fatalf("DescribeContainerGroups answered %s", resp.Body)
		}
		if len(resp.Body.ContainerGroups) == 0 {
			return nil
		}
		return resp.Body.ContainerGroups[0]
	}
	waitRunning := func(restarts int32) *eci.DescribeContainerGroupsResponseBodyContainerGroups {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		var g *eci.DescribeContainerGroupsResponseBodyContainerGroups
		for time.Now().Before(deadline) {
			g = describe()
			if g != nil && tea.StringValue(g.Status) == "Running" && tea.StringValue(g.IntranetIp) != "" && len(g.Containers) == 1 &&
				tea.StringValue(g.Containers[0].CurrentState.State) == "Running" && tea.Int32Value(g.Containers[0].RestartCount) == restarts {
				return g
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s did not run with %d restarts: %s", id, restarts, g)
		return nil
	}

	g := waitRunning(0)
	if tea.StringValue(g.ContainerGroupName) != name || len(g.Tags) != 1 || net.ParseIP(tea.StringValue(g.IntranetIp)) == nil {
		t.Errorf("group %s", g)
	}
	t.Logf("%s runs at %s", id, tea.StringValue(g.IntranetIp))

	// Logs: the container's echo.
	deadline := time.Now().Add(20 * time.Second)
	for {
		logs, err := client.DescribeContainerLog(&eci.DescribeContainerLogRequest{
			RegionId: region, ContainerGroupId: tea.String(id), ContainerName: tea.String("app"), Tail: tea.Int32(10),
		})
		if err != nil {
			t.Fatalf("DescribeContainerLog: %v", err)
		}
		if strings.Contains(tea.StringValue(logs.Body.Content), marker) && tea.StringValue(logs.Body.ContainerName) == "app" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("DescribeContainerLog answered %s", logs.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Exec.
	ex, err := client.ExecContainerCommand(&eci.ExecContainerCommandRequest{
		RegionId: region, ContainerGroupId: tea.String(id), ContainerName: tea.String("app"),
		Command: tea.String(`["echo","hi"]`), Sync: tea.Bool(true), TTY: tea.Bool(false), Stdin: tea.Bool(false),
	})
	if err != nil {
		t.Fatalf("ExecContainerCommand: %v", err)
	}
	if tea.StringValue(ex.Body.SyncResponse) != "hi\n" {
		t.Errorf("ExecContainerCommand answered %s", ex.Body)
	}

	// Restart: Running again, with one restart.
	rs, err := client.RestartContainerGroup(&eci.RestartContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)})
	if err != nil {
		t.Fatalf("RestartContainerGroup: %v", err)
	}
	if tea.StringValue(rs.Body.RequestId) == "" {
		t.Errorf("RestartContainerGroup answered %s", rs.Body)
	}
	waitRunning(1)

	// Events.
	ev, err := client.DescribeContainerGroupEvents(&eci.DescribeContainerGroupEventsRequest{RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`)})
	if err != nil {
		t.Fatalf("DescribeContainerGroupEvents: %v", err)
	}
	started := 0
	if len(ev.Body.Data) == 1 {
		for _, e := range ev.Body.Data[0].Events {
			if tea.StringValue(e.Reason) == "Started" {
				started++
			}
		}
	}
	if started == 0 || tea.StringValue(ev.Body.Data[0].ContainerGroupId) != id {
		t.Errorf("DescribeContainerGroupEvents answered %s", ev.Body)
	}

	// Delete; then the group disappears.
	del, err := client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)})
	if err != nil {
		t.Fatalf("DeleteContainerGroup: %v", err)
	}
	deleted = true
	if tea.StringValue(del.Body.RequestId) == "" {
		t.Errorf("DeleteContainerGroup answered %s", del.Body)
	}
	deadline = time.Now().Add(60 * time.Second)
	for describe() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("%s was not deleted", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err = client.DescribeContainerGroupStatus(&eci.DescribeContainerGroupStatusRequest{RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`)})
	if err != nil {
		t.Errorf("DescribeContainerGroupStatus after delete: %v", err)
	}
}
