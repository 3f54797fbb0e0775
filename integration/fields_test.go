//go:build integration

package integration

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	eci "github.com/alibabacloud-go/eci-20180808/v3/client"
	"github.com/alibabacloud-go/tea/tea"

	"leci/api"
	"leci/runtime"
)

// groupMemoryLimit reads the memory limit of a group's cgroup, on cgroup
// v1 or v2.
func (hr *harness) groupMemoryLimit(id string) string {
	hr.t.Helper()
	p := filepath.Join("/sys/fs/cgroup", "memory", hr.cgroupRoot, id, "memory.limit_in_bytes")
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		p = filepath.Join("/sys/fs/cgroup", hr.cgroupRoot, id, "memory.max")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		hr.t.Fatalf("group memory limit: %v", err)
	}
	return strings.TrimSpace(string(b))
}

// An InstanceType sizes the group's cgroup; every cloud-only field the
// request sets is a warning event on the group.
func TestInstanceTypeSizesGroupAndFieldsAreNoted(t *testing.T) {
	hr := newHarness(t)
	id := hr.create(`
ContainerGroupName: sized
TerminationGracePeriodSeconds: 1
InstanceType: ecs.c5.large
ZoneId: cn-hangzhou-b
EphemeralStorage: 20
NtpServer: [ntp.example.com]
Container:
  - {Name: app, Image: ` + image + `, Command: [sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.1; done"]}
`)
	st := hr.waitPhase(id, api.GroupRunning)
	if got, want := hr.groupMemoryLimit(id), strconv.Itoa(4<<30); got != want {
		t.Errorf("group memory limit = %s, want ecs.c5.large's 4 GiB (%s)", got, want)
	}
	d := runtime.Describe(st)
	if d.Cpu != 2 || d.Memory != 4 || d.InstanceType != "ecs.c5.large" {
		t.Errorf("described Cpu %g, Memory %g, InstanceType %q; want 2, 4, ecs.c5.large", d.Cpu, d.Memory, d.InstanceType)
	}
	noted := map[string]bool{}
	for _, e := range st.Events {
		if e.Reason == runtime.ReasonFieldNotApplied && e.Type == "Warning" {
			field, _, _ := strings.Cut(e.Message, ":")
			noted[field] = true
		}
	}
	for _, f := range []string{"ZoneId", "EphemeralStorage", "NtpServer"} {
		if !noted[f] {
			t.Errorf("no FieldNotApplied warning for %s in %v", f, st.Events)
		}
	}
	if noted["InstanceType"] || len(noted) != 3 {
		t.Errorf("FieldNotApplied warnings for %v; want ZoneId, EphemeralStorage and NtpServer only", noted)
	}
	hr.delete(id)
}

// `leci run` says on standard error, one line a field, what it records
// without applying; a request whose Cpu and Memory are no size ECI offers,
// or more than the host has, is refused before anything is made.
func TestRunSaysFieldsNotApplied(t *testing.T) {
	hr := newHarness(t)
	req := `
ContainerGroupName: noted
RestartPolicy: Never
ZoneId: cn-hangzhou-b
SpotStrategy: SpotAsPriceGo
VSwitchId: vsw-1
Container:
  - {Name: job, Image: ` + image + `, Cpu: 0.5, Memory: 1, Command: [echo, done]}
`
	final := filepath.Join(t.TempDir(), "final.json")
	code, out, errOut := runCmd(t, hr.leci(req, "run", "-f", "-", "--format", "yaml", "--final-status", final))
	if code != 0 || out != "job| done\n" {
		t.Fatalf("exit %d, stdout %q\n%s", code, out, errOut)
	}
	for _, f := range []string{"ZoneId", "SpotStrategy", "VSwitchId"} {
		if n := strings.Count(errOut, "leci: event Warning FieldNotApplied: "+f+": recorded, not applied: "); n != 1 {
			t.Errorf("stderr says %d times that %s is not applied, want once:\n%s", n, f, errOut)
		}
	}
	g, _ := readFinalStatus(t, final)
	if g.Cpu != 0.5 || g.Memory != 1 {
		t.Errorf("final status: Cpu %g, Memory %g; want what the container asks (0.5, 1)", g.Cpu, g.Memory)
	}

	for _, tc := range []struct{ name, fields, says string }{
		{"memory without end", "Memory: 1e308", "InvalidParameter.CPU.Memory: Memory: 1e+308 GiB is more than the largest group"},
		{"size ECI does not offer", "Cpu: 3\nMemory: 6", "InvalidParameter.CPU.Memory: Cpu: 3 vCPUs is not a size ECI offers"},
		{"more than this host", "Cpu: 64\nMemory: 128", "InvalidParameter.CPU.Memory: Cpu: the group asks for 64 vCPUs and this host has"},
		{"unknown instance type", "InstanceType: ecs.gn7i.xlarge", "set the group's Cpu and Memory instead"},
		{"other architecture", "CpuArchitecture: " + otherArch(), "not this host's architecture"},
	} {
		code, _, errOut := runCmd(t, hr.leci("ContainerGroupName: refused\n"+tc.fields+"\nContainer:\n  - {Name: a, Image: "+image+"}\n", "run", "-f", "-", "--format", "yaml"))
		if code != 2 || !strings.Contains(errOut, tc.says) {
			t.Errorf("%s: exit %d, stderr %q; want 2 and %q", tc.name, code, errOut, tc.says)
		}
	}
	hr.assertNothingLeft()
}

func otherArch() string {
	if api.HostArchitecture() == "ARM64" {
		return "AMD64"
	}
	return "ARM64"
}

// Through the daemon and the official SDK: a group ended by its
// ActiveDeadlineSeconds has an ExpiredTime and a FailedTime; a group
// without Cpu and Memory shows what its containers ask for; the Describe
// actions filter by RegionId; the FieldNotApplied events are there.
func TestSDKDeadlineRegionAndResources(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client := d.sdkClient(t, nil)
	region := tea.String("cn-shanghai")
	created, err := client.CreateContainerGroup(&eci.CreateContainerGroupRequest{
		RegionId:                      region,
		ContainerGroupName:            tea.String("deadline"),
		ZoneId:                        tea.String("cn-shanghai-b"),
		ActiveDeadlineSeconds:         tea.Int64(2),
		TerminationGracePeriodSeconds: tea.Int64(1),
		Container: []*eci.CreateContainerGroupRequestContainer{{
			Name: tea.String("app"), Image: tea.String(image), Cpu: tea.Float32(0.5), Memory: tea.Float32(1),
			Command: []*string{tea.String("sh"), tea.String("-c"), tea.String("trap 'exit 0' TERM; while true; do sleep 0.1; done")},
		}},
	})
	if err != nil {
		t.Fatalf("CreateContainerGroup: %v", err)
	}
	id := tea.StringValue(created.Body.ContainerGroupId)
	defer client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)})
	ids := tea.String(`["` + id + `"]`)
	var g *eci.DescribeContainerGroupsResponseBodyContainerGroups
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		resp, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{RegionId: region, ContainerGroupIds: ids})
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Body.ContainerGroups) != 1 {
			t.Fatalf("DescribeContainerGroups in %s: %s", *region, resp.Body)
		}
		g = resp.Body.ContainerGroups[0]
		if tea.StringValue(g.Status) == string(api.GroupExpired) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("group not Expired after 30 s: %s", g)
		}
	}
	expired, err1 := time.Parse(time.RFC3339, tea.StringValue(g.ExpiredTime))
	failed, err2 := time.Parse(time.RFC3339, tea.StringValue(g.FailedTime))
	createdAt, err3 := time.Parse(time.RFC3339, tea.StringValue(g.CreationTime))
	if err1 != nil || err2 != nil || err3 != nil || !expired.Equal(failed) || expired.Sub(createdAt) < 2*time.Second {
		t.Errorf("ExpiredTime %q, FailedTime %q, CreationTime %q: want both set, alike, 2 s after creation",
			tea.StringValue(g.ExpiredTime), tea.StringValue(g.FailedTime), tea.StringValue(g.CreationTime))
	}
	if tea.Float32Value(g.Cpu) != 0.5 || tea.Float32Value(g.Memory) != 1 {
		t.Errorf("Cpu %v, Memory %v; want the container's 0.5 and 1", tea.Float32Value(g.Cpu), tea.Float32Value(g.Memory))
	}
	noted := false
	for _, e := range g.Events {
		if tea.StringValue(e.Reason) == runtime.ReasonFieldNotApplied && strings.HasPrefix(tea.StringValue(e.Message), "ZoneId: recorded, not applied") {
			noted = true
		}
	}
	if !noted {
		t.Errorf("no FieldNotApplied event for ZoneId: %s", g.Events)
	}

	other := tea.String("cn-beijing")
	groups, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{RegionId: other, ContainerGroupIds: ids})
	if err != nil || tea.Int32Value(groups.Body.TotalCount) != 0 {
		t.Errorf("DescribeContainerGroups in %s: %v %v; want no group", *other, groups, err)
	}
	status, err := client.DescribeContainerGroupStatus(&eci.DescribeContainerGroupStatusRequest{RegionId: other, ContainerGroupIds: ids})
	if err != nil || len(status.Body.Data) != 0 {
		t.Errorf("DescribeContainerGroupStatus in %s: %v %v; want no group", *other, status, err)
	}
	events, err := client.DescribeContainerGroupEvents(&eci.DescribeContainerGroupEventsRequest{RegionId: other, ContainerGroupIds: ids})
	if err != nil || len(events.Body.Data) != 0 {
		t.Errorf("DescribeContainerGroupEvents in %s: %v %v; want no group", *other, events, err)
	}

	_, err = client.CreateContainerGroup(&eci.CreateContainerGroupRequest{
		RegionId: region, ContainerGroupName: tea.String("too-big"), Cpu: tea.Float32(0.5), Memory: tea.Float32(1),
		Container: []*eci.CreateContainerGroupRequestContainer{{Name: tea.String("a"), Image: tea.String(image), Memory: tea.Float32(2)}},
	})
	if err == nil || !strings.Contains(err.Error(), api.CodeInvalidCPUMemory) {
		t.Errorf("a container over its group's memory: %v; want %s", err, api.CodeInvalidCPUMemory)
	}
}

// PrivateIpAddress: the group gets the address it asks for from
// host-local; an address another group has, or one outside the subnet, is
// refused at create (by the daemon, and by `leci run` beside it); once the
// group is deleted, the address can be had again.
func TestPrivateIPAddress(t *testing.T) {
	hr := newHarness(t)
	d := startTCPDaemon(t, hr.cfg.Root, hr.leci("").Args[1:])
	client := d.sdkClient(t, nil)
	region := tea.String("cn-hangzhou")
	subnet := netip.MustParsePrefix(hr.cfg.Subnet)
	want := subnet.Addr().Next().Next().Next().Next().Next().String() // .5
	create := func(name, addr string) (string, error) {
		resp, err := client.CreateContainerGroup(&eci.CreateContainerGroupRequest{
			RegionId: region, ContainerGroupName: tea.String(name), PrivateIpAddress: tea.String(addr),
			TerminationGracePeriodSeconds: tea.Int64(1),
			Container: []*eci.CreateContainerGroupRequestContainer{{
				Name: tea.String("app"), Image: tea.String(image),
				Command: []*string{tea.String("sh"), tea.String("-c"), tea.String("ip -4 -o addr show eth0; trap 'exit 0' TERM; while true; do sleep 0.1; done")},
			}},
		})
		if err != nil {
			return "", err
		}
		return tea.StringValue(resp.Body.ContainerGroupId), nil
	}
	del := func(id string) {
		if _, err := client.DeleteContainerGroup(&eci.DeleteContainerGroupRequest{RegionId: region, ContainerGroupId: tea.String(id)}); err != nil {
			t.Errorf("delete %s: %v", id, err)
		}
	}
	running := func(id string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			resp, err := client.DescribeContainerGroups(&eci.DescribeContainerGroupsRequest{RegionId: region, ContainerGroupIds: tea.String(`["` + id + `"]`)})
			if err != nil {
				t.Fatal(err)
			}
			g := resp.Body.ContainerGroups[0]
			if tea.StringValue(g.Status) == string(api.GroupRunning) {
				if ip := tea.StringValue(g.IntranetIp); ip != want {
					t.Errorf("IntranetIp = %q, want %s", ip, want)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("group %s not Running after 30 s: %s", id, g)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			logs, err := client.DescribeContainerLog(&eci.DescribeContainerLogRequest{RegionId: region, ContainerGroupId: tea.String(id), ContainerName: tea.String("app")})
			if err == nil && strings.Contains(tea.StringValue(logs.Body.Content), "inet "+want+"/") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("eth0 in the group does not have %s: %v %v", want, logs, err)
			}
		}
	}

	first, err := create("first", want)
	if err != nil {
		t.Fatalf("create with PrivateIpAddress %s: %v", want, err)
	}
	running(first)
	if _, err := create("second", want); err == nil || !strings.Contains(err.Error(), runtime.CodeAddressInUse) {
		t.Errorf("a second group asking for %s: %v; want %s", want, err, runtime.CodeAddressInUse)
	}
	code, _, errOut := runCmd(t, hr.leci("ContainerGroupName: beside\nPrivateIpAddress: "+want+"\nContainer:\n  - {Name: a, Image: "+image+"}\n", "run", "-f", "-", "--format", "yaml"))
	if code != 2 || !strings.Contains(errOut, runtime.CodeAddressInUse+": PrivateIpAddress: "+want) {
		t.Errorf("leci run asking for %s beside the daemon's group: exit %d, %q; want 2 and %s", want, code, errOut, runtime.CodeAddressInUse)
	}
	outside := netip.AddrFrom4([4]byte{10, 254, 254, 9}).String()
	if _, err := create("outside", outside); err == nil || !strings.Contains(err.Error(), "InvalidParameter") || !strings.Contains(err.Error(), "not in the network's subnet") {
		t.Errorf("a group asking for %s, outside %s: %v; want InvalidParameter", outside, subnet, err)
	}
	del(first)
	// The delete is answered at once; the address is free once the
	// group's network is gone.
	var again string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if again, err = create("again", want); err == nil || !strings.Contains(err.Error(), runtime.CodeAddressInUse) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("create with %s once the first group is gone: %v", want, err)
	}
	running(again)
	del(again)
}

// readFinalStatus reads what `leci run --final-status FILE` wrote, and the
// file's bytes.
func readFinalStatus(t *testing.T, path string) (api.ContainerGroupDetail, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var g api.ContainerGroupDetail
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g, data
}
