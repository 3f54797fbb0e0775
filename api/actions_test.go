package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// describeFieldsFile is where the captured field list of the
// DescribeContainerGroups response lives, relative to the directory that holds
// both the repository and shared/ (../../shared from this package).
const describeFieldsFile = "shared/reference/wire-captures/describe-response-fields.txt"

// findShared looks for rel in the parents of the test's directory, so that the
// test works from a checkout, a worktree or CI's fresh clone alike, as long as
// shared/ sits beside the repository somewhere above.
func findShared(t *testing.T, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		p := filepath.Join(dir, rel)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	// CI always has shared/ beside the clone: its absence there is a failure,
	// not a reason to skip the one test that ties the types to the captures.
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found above the package directory", rel)
	}
	t.Skipf("%s not found above the package directory", rel)
	return ""
}

// readFieldList reads one "===== Section" of a field-list capture: each line is
// a path (ContainerGroups[].Containers[].Commands[]) and a type (string,
// int32, float32, bool, (object), (list of object)).
func readFieldList(t *testing.T, path, section string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fields := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "=====") {
			in = strings.TrimSpace(strings.TrimPrefix(line, "=====")) == section
			continue
		}
		if !in || line == "" {
			continue
		}
		parts := strings.Fields(line)
		if len(parts) < 2 {
			t.Fatalf("malformed line in %s: %q", path, line)
		}
		fields[parts[0]] = strings.Join(parts[1:], " ")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(fields) == 0 {
		t.Fatalf("section %q of %s is empty or absent", section, path)
	}
	return fields
}

// jsonName is the wire name of a struct field, "" when encoding/json skips it.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag, ok := f.Tag.Lookup("json")
	if !ok {
		return f.Name
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return f.Name
	}
	return name
}

// walkWire lists the wire paths of type t in the notation of the field-list
// captures, mapping each path to the Go type at it: lists get "[]", their
// elements' fields hang below "X[].", objects' fields below "X.".
func walkWire(t reflect.Type, prefix string, out map[string]reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		path := prefix + name
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch ft.Kind() {
		case reflect.Slice:
			out[path+"[]"] = ft
			et := ft.Elem()
			for et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				walkWire(et, path+"[].", out)
			}
		case reflect.Struct:
			out[path] = ft
			walkWire(ft, path+".", out)
		default:
			out[path] = ft
		}
	}
}

// compatible reports whether Go type g encodes to JSON the way the captured
// type c decodes: a list of objects, an object, a string, a bool, an integer or
// a float (of at least the captured width for int64).
func compatible(c string, g reflect.Type) bool {
	switch c {
	case "(list of object)":
		if g.Kind() != reflect.Slice {
			return false
		}
		e := g.Elem()
		for e.Kind() == reflect.Pointer {
			e = e.Elem()
		}
		return e.Kind() == reflect.Struct
	case "(object)":
		return g.Kind() == reflect.Struct
	}
	// A scalar list ("Commands[]  string") is checked by its element.
	if g.Kind() == reflect.Slice {
		g = g.Elem()
	}
	switch c {
	case "string":
		return g.Kind() == reflect.String
	case "bool":
		return g.Kind() == reflect.Bool
	case "int32":
		switch g.Kind() {
		case reflect.Int, reflect.Int32, reflect.Int64:
			return true
		}
	case "int64":
		return g.Kind() == reflect.Int64
	case "float32", "float64":
		return g.Kind() == reflect.Float32 || g.Kind() == reflect.Float64
	}
	return false
}

// TestDescribeResponseMatchesCapture holds DescribeContainerGroupsResponse to
// the captured field list: the same paths both ways, and compatible kinds.
// A field the SDK declares but leci lacks is data a caller cannot get; a field
// leci invents is a typo of a real one.
func TestDescribeResponseMatchesCapture(t *testing.T) {
	path := findShared(t, describeFieldsFile)
	want := readFieldList(t, path, "DescribeContainerGroupsResponseBody")

	got := map[string]reflect.Type{}
	walkWire(reflect.TypeOf(DescribeContainerGroupsResponse{}), "", got)

	var missing, extra, wrong []string
	for p, c := range want {
		g, ok := got[p]
		if !ok {
			missing = append(missing, p+"  "+c)
			continue
		}
		if !compatible(c, g) {
			wrong = append(wrong, fmt.Sprintf("%s: captured %s, Go %s", p, c, g))
		}
	}
	for p, g := range got {
		if _, ok := want[p]; !ok {
			extra = append(extra, fmt.Sprintf("%s  (Go %s)", p, g))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	sort.Strings(wrong)
	for _, m := range missing {
		t.Errorf("missing from the Go types: %s", m)
	}
	for _, e := range extra {
		t.Errorf("not in the capture: %s", e)
	}
	for _, w := range wrong {
		t.Errorf("incompatible kind: %s", w)
	}
	if len(want) != len(got) && len(missing)+len(extra) == 0 {
		t.Errorf("%d captured paths, %d Go paths", len(want), len(got))
	}
}

// responseTypes are every response body of this file.
var responseTypes = []any{
	DescribeContainerGroupsResponse{},
	DescribeContainerGroupStatusResponse{},
	DeleteContainerGroupResponse{},
	RestartContainerGroupResponse{},
	DescribeContainerLogResponse{},
	ExecContainerCommandResponse{},
	DescribeContainerGroupEventsResponse{},
	DescribeContainerGroupMetricResponse{},
	ErrorResponse{},
	ResponseMeta{},
}

// requestTypes are every request of this file.
var requestTypes = []any{
	DescribeContainerGroupsRequest{},
	DescribeContainerGroupStatusRequest{},
	DeleteContainerGroupRequest{},
	RestartContainerGroupRequest{},
	DescribeContainerLogRequest{},
	ExecContainerCommandRequest{},
	DescribeContainerGroupEventsRequest{},
	DescribeContainerGroupMetricRequest{},
}

var marshalerType = reflect.TypeOf((*json.Marshaler)(nil)).Elem()

// forEachField calls fn for every exported field of t and of the structs below
// it, once per struct type. It does not enter a struct that marshals itself
// (PodStateRunning): its fields are not its wire form, and its own test
// covers it.
func forEachField(t reflect.Type, seen map[reflect.Type]bool, fn func(owner reflect.Type, f reflect.StructField)) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] ||
		t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		fn(t, f)
		forEachField(f.Type, seen, fn)
	}
}

// TestWireTypesFollowPolicy checks the rules of the file comment mechanically,
// so that a field added later cannot quietly break them: every field has an
// explicit json name; every response list is a JSONList (so it is [] and not
// null) and is always sent; only pointers are omitempty in responses.
func TestWireTypesFollowPolicy(t *testing.T) {
	seen := map[reflect.Type]bool{}
	for _, v := range requestTypes {
		forEachField(reflect.TypeOf(v), seen, func(owner reflect.Type, f reflect.StructField) {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name == "" {
				t.Errorf("%s.%s has no json name", owner.Name(), f.Name)
			}
		})
	}
	seen = map[reflect.Type]bool{}
	for _, v := range responseTypes {
		forEachField(reflect.TypeOf(v), seen, func(owner reflect.Type, f reflect.StructField) {
			tag := f.Tag.Get("json")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				t.Errorf("%s.%s has no json name", owner.Name(), f.Name)
			}
			if f.Type.Kind() == reflect.Slice && !f.Type.Implements(marshalerType) {
				t.Errorf("%s.%s is a plain slice: it would marshal as null when empty; use JSONList", owner.Name(), f.Name)
			}
			if strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
				t.Errorf("%s.%s is omitempty but not a pointer: the SDK would see nil for a zero value", owner.Name(), f.Name)
			}
		})
	}
}

// fillLists gives every list below v one zero element, so that marshaling
// reaches every nested type.
func fillLists(v reflect.Value, depth int) {
	if depth > 10 {
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillLists(v.Field(i), depth+1)
			}
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := 0; i < v.Len(); i++ {
			fillLists(v.Index(i), depth+1)
		}
	}
}

// findNull returns the path of the first null in a decoded JSON value.
func findNull(v any, path string) string {
	switch x := v.(type) {
	case nil:
		return path
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p := findNull(x[k], path+"."+k); p != "" {
				return p
			}
		}
	case []any:
		for i, e := range x {
			if p := findNull(e, fmt.Sprintf("%s[%d]", path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}

// TestResponsesNeverSendNull marshals every response, empty and with one zero
// element in each list, and finds no null: empty lists are [], absent pointers
// are left out.
func TestResponsesNeverSendNull(t *testing.T) {
	for _, v := range responseTypes {
		typ := reflect.TypeOf(v)
		for _, filled := range []bool{false, true} {
			pv := reflect.New(typ)
			if filled {
				fillLists(pv.Elem(), 0)
			}
			data, err := json.Marshal(pv.Interface())
			if err != nil {
				t.Fatalf("%s: %v", typ.Name(), err)
			}
			var decoded any
			if err := json.Unmarshal(data, &decoded); err != nil {
				t.Fatalf("%s: %v", typ.Name(), err)
			}
			if p := findNull(decoded, typ.Name()); p != "" {
				t.Errorf("null at %s in %s", p, data)
			}
		}
	}
}

func TestJSONListMarshal(t *testing.T) {
	for _, tc := range []struct {
		list JSONList[string]
		want string
	}{
		{nil, `[]`},
		{JSONList[string]{}, `[]`},
		{[]string{"a", "b"}, `["a","b"]`},
	} {
		got, err := json.Marshal(tc.list)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Marshal(%#v) = %s, want %s", tc.list, got, tc.want)
		}
	}
	// Behind a field, with and without omitempty (omitempty drops an empty
	// list: that is why response lists carry no omitempty).
	var s struct {
		A JSONList[int] `json:"A"`
		B JSONList[int] `json:"B,omitempty"`
	}
	got, _ := json.Marshal(s)
	if string(got) != `{"A":[]}` {
		t.Errorf("got %s", got)
	}
	var back JSONList[string]
	if err := json.Unmarshal([]byte(`["x"]`), &back); err != nil || len(back) != 1 || back[0] != "x" {
		t.Errorf("Unmarshal: %v %v", back, err)
	}
}

// sampleDescribe is a DescribeContainerGroupsResponse with every list and
// variant populated.
func sampleDescribe() DescribeContainerGroupsResponse {
	state := ContainerState{State: StateRunning, DetailStatus: "working", StartTime: "2026-11-27T15:19:40Z"}
	return DescribeContainerGroupsResponse{
		RequestID:  "req-1",
		TotalCount: 1,
		ContainerGroups: []ContainerGroupDetail{{
			ContainerGroupID:   "eci-local0000000000001",
			ContainerGroupName: "sdkclient-demo",
			RegionID:           "cn-hangzhou",
			Status:             GroupRunning,
			Cpu:                2,
			Memory:             4,
			IntranetIP:         "172.17.0.2",
			Tags:               []TagDetail{{Key: "app", Value: "web"}},
			HostAliases:        []HostAliasDetail{{IP: "127.0.0.2", Hostnames: []string{"db.local", "cache.local"}}},
			DNSConfig: DnsConfigDetail{
				NameServers: []string{"127.0.0.53"},
				Searches:    []string{"svc.local"},
				Options:     []DnsOptionDetail{{Name: "ndots", Value: "2"}},
			},
			EciSecurityContext: EciSecurityContextDetail{Sysctls: []SysctlDetail{{Name: "net.core.somaxconn", Value: "1024"}}},
			Events:             []EventDetail{{Count: 1, Type: "Normal", Name: "eci-local.1", Reason: "Started"}},
			Volumes: []VolumeDetail{{
				Name: "www", Type: "ConfigFileVolume",
				ConfigFileVolumeConfigFileToPaths: []ConfigFileToPathDetail{{Path: "index.html", Content: "b2sK"}},
			}},
			Containers: []ContainerDetail{{
				Name:            "web",
				Commands:        []string{"sh", "-c", "httpd -f"},
				Args:            []string{"-v"},
				Ports:           []PortDetail{{Port: 8080, Protocol: "TCP"}},
				EnvironmentVars: []EnvironmentVarDetail{{Key: "POD_IP", ValueFrom: &EnvValueFrom{FieldRef: EnvFieldRef{FieldPath: "status.podIP"}}}},
				VolumeMounts:    []VolumeMountDetail{{Name: "www", MountPath: "/www", ReadOnly: true}},
				ReadinessProbe:  &ProbeDetail{HTTPGet: &HTTPGetDetail{Path: "/", Port: 8080, Scheme: "HTTP"}, PeriodSeconds: 3},
				LivenessProbe:   &ProbeDetail{Execs: []string{"true"}},
				SecurityContext: &SecurityContextDetail{Capability: CapabilityDetail{Adds: []string{"NET_ADMIN"}}},
				Ready:           true,
				CurrentState:    state,
			}},
			InitContainers: []InitContainerDetail{{
				Name:         "init",
				Command:      []string{"sh", "-c"},
				Args:         []string{"echo init-done"},
				VolumeMounts: []InitVolumeMountDetail{{Name: "scratch", MountPath: "/data"}},
				CurrentState: ContainerState{State: StateTerminated, Reason: "Completed"},
			}},
		}},
	}
}

// asMap marshals v and decodes it into a generic map, as a client sees it.
func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// at walks a decoded JSON value by keys and indexes.
func at(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, step := range path {
		switch s := step.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: %T is not an object", path, v)
			}
			if v, ok = m[s]; !ok {
				t.Fatalf("at %v: no key %q among %v", path, s, keysOf(m))
			}
		case int:
			l, ok := v.([]any)
			if !ok || s >= len(l) {
				t.Fatalf("at %v: no index %d in %v", path, s, v)
			}
			v = l[s]
		}
	}
	return v
}

func keysOf(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestDescribeRoundTrip(t *testing.T) {
	resp := sampleDescribe()
	m := asMap(t, resp)

	g := at(t, m, "ContainerGroups", 0)
	// The response's plurals and the init container's singular Command.
	if got := at(t, g, "Containers", 0, "Commands", 2); got != "httpd -f" {
		t.Errorf("Containers[0].Commands[2] = %v", got)
	}
	if got := at(t, g, "InitContainers", 0, "Command", 1); got != "-c" {
		t.Errorf("InitContainers[0].Command[1] = %v", got)
	}
	c0 := at(t, g, "Containers", 0).(map[string]any)
	for _, singular := range []string{"Command", "Arg", "Port", "EnvironmentVar", "VolumeMount"} {
		if _, ok := c0[singular]; ok {
			t.Errorf("Containers[0] has the request's singular %q", singular)
		}
	}
	i0 := at(t, g, "InitContainers", 0).(map[string]any)
	for _, absent := range []string{"Commands", "ReadinessProbe", "LivenessProbe", "Tty", "Stdin"} {
		if _, ok := i0[absent]; ok {
			t.Errorf("InitContainers[0] has %q", absent)
		}
	}
	if _, ok := at(t, i0, "VolumeMounts", 0).(map[string]any)["SubPath"]; ok {
		t.Error("InitContainers[0].VolumeMounts[0] has SubPath")
	}
	for _, p := range [][]any{
		{"Containers", 0, "EnvironmentVars", 0, "ValueFrom", "FieldRef", "FieldPath"},
		{"Containers", 0, "Ports", 0, "Port"},
		{"Containers", 0, "VolumeMounts", 0, "MountPath"},
		{"Containers", 0, "LivenessProbe", "Execs", 0},
		{"Containers", 0, "ReadinessProbe", "HttpGet", "Path"},
		{"Containers", 0, "SecurityContext", "Capability", "Adds", 0},
		{"Containers", 0, "CurrentState", "State"},
		{"HostAliases", 0, "Hostnames", 1},
		{"HostAliases", 0, "Ip"},
		{"DnsConfig", "NameServers", 0},
		{"DnsConfig", "Searches", 0},
		{"DnsConfig", "Options", 0, "Name"},
		{"EciSecurityContext", "Sysctls", 0, "Name"},
		{"Volumes", 0, "ConfigFileVolumeConfigFileToPaths", 0, "Content"},
		{"Tags", 0, "Key"},
		{"IntranetIp"},
		{"ContainerGroupId"},
	} {
		at(t, g, p...)
	}
	// An unset probe is absent, not an empty object claiming a probe.
	if _, ok := at(t, g, "Containers", 0, "ReadinessProbe").(map[string]any)["TcpSocket"]; ok {
		t.Error("ReadinessProbe.TcpSocket sent although unset")
	}
	// Empty lists are [] (the SDKs iterate them).
	if got := at(t, g, "InitContainers", 0, "Ports"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("InitContainers[0].Ports = %#v, want []", got)
	}
	// Whole round trip: decoding what we send gives back the same JSON.
	first, _ := json.Marshal(resp)
	var back DescribeContainerGroupsResponse
	if err := json.Unmarshal(first, &back); err != nil {
		t.Fatal(err)
	}
	second, _ := json.Marshal(back)
	if !bytes.Equal(first, second) {
		t.Errorf("round trip changed the JSON:\n%s\n%s", first, second)
	}
}

func TestEventsWireNames(t *testing.T) {
	resp := DescribeContainerGroupEventsResponse{
		RequestID:  "req-2",
		TotalCount: 1,
		Data: []ContainerGroupEventsData{{
			ContainerGroupID: "eci-1",
			UUID:             "3fc6b309-0000",
			Annotations:      `{"a":"b"}`,
			Events: []ContainerGroupEvent{{
				Count:          2,
				Reason:         "Pulled",
				Metadata:       EventMetadata{Name: "eci-1.1"},
				Source:         EventSourceDetail{Component: "kubelet"},
				InvolvedObject: InvolvedObjectRef{Kind: "Pod", UID: "u1", APIVersion: "v1"},
			}},
		}},
	}
	m := asMap(t, resp)
	d := at(t, m, "Data", 0).(map[string]any)
	if d["uuid"] != "3fc6b309-0000" {
		t.Errorf("uuid = %v; keys %v", d["uuid"], keysOf(d))
	}
	if _, ok := d["Uuid"]; ok {
		t.Error("Data[0] has Uuid; the wire name is uuid")
	}
	e := at(t, d, "Events", 0).(map[string]any)
	if _, ok := e["InvolvedObject"]; ok {
		t.Error("event has InvolvedObject; the wire name is involvedObject")
	}
	if got := at(t, e, "involvedObject", "Uid"); got != "u1" {
		t.Errorf("involvedObject.Uid = %v", got)
	}
	if got := at(t, e, "involvedObject", "ApiVersion"); got != "v1" {
		t.Errorf("involvedObject.ApiVersion = %v", got)
	}
	at(t, e, "Metadata", "Name")
	at(t, e, "Source", "Component")
	at(t, e, "ReportingComponent")
	if _, ok := m["NextToken"]; ok {
		t.Error("DescribeContainerGroupEvents has no NextToken on the wire")
	}
}

func TestStatusWireNames(t *testing.T) {
	resp := DescribeContainerGroupStatusResponse{
		RequestID: "req-3",
		Data: []ContainerGroupStatusData{{
			ContainerGroupID: "eci-1",
			Status:           GroupRunning,
			UUID:             "u-1",
			PodStatus: PodStatusDetail{
				Phase:      "Running",
				Conditions: []PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: "2026-11-27T15:19:40Z"}},
				PodIPs:     []PodIPDetail{{IP: "172.17.0.2"}},
				ContainerStatuses: []PodContainerStatus{{
					Name:      "web",
					State:     PodContainerState{Running: &PodStateRunning{StartedAt: "2026-11-27T15:19:41Z"}},
					LastState: PodContainerState{Terminated: &PodStateTerminated{ExitCode: 137, ContainerID: "docker://x"}},
				}},
			},
		}},
	}
	m := asMap(t, resp)
	d := at(t, m, "Data", 0)
	if at(t, d, "uuid") != "u-1" {
		t.Error("uuid")
	}
	cond := at(t, d, "PodStatus", "Conditions", 0).(map[string]any)
	for _, k := range []string{"type", "status", "lastTransitionTime", "Reason", "Message"} {
		if _, ok := cond[k]; !ok {
			t.Errorf("condition lacks %q: %v", k, keysOf(cond))
		}
	}
	at(t, d, "PodStatus", "PodIps", 0, "Ip")
	at(t, d, "PodStatus", "HostIp")
	at(t, d, "PodStatus", "QosClass")
	cs := at(t, d, "PodStatus", "ContainerStatuses", 0)
	at(t, cs, "ImageID")
	for _, k := range []string{"StartedAt", "StartedAtstartedAt"} {
		if got := at(t, cs, "State", "Running", k); got != "2026-11-27T15:19:41Z" {
			t.Errorf("State.Running.%s = %v", k, got)
		}
	}
	if _, ok := at(t, cs, "State").(map[string]any)["Waiting"]; ok {
		t.Error("State.Waiting sent although unset")
	}
	if got := at(t, cs, "LastState", "Terminated", "ExitCode"); got != float64(137) {
		t.Errorf("LastState.Terminated.ExitCode = %v", got)
	}

	// Reading: either name of the running start time is accepted.
	for _, in := range []string{`{"StartedAt":"t1"}`, `{"StartedAtstartedAt":"t1"}`} {
		var r PodStateRunning
		if err := json.Unmarshal([]byte(in), &r); err != nil || r.StartedAt != "t1" {
			t.Errorf("Unmarshal(%s) = %+v, %v", in, r, err)
		}
	}
}

func TestMetricWireNames(t *testing.T) {
	resp := DescribeContainerGroupMetricResponse{
		RequestID:        "req-4",
		ContainerGroupID: "eci-1",
		Records: []MetricRecord{{
			Timestamp:  "2026-11-27T15:20:00Z",
			CPU:        CPUMetric{Limit: 2000, UsageNanoCores: 1},
			Memory:     MemoryMetric{UsageBytes: 9289728},
			Network:    NetworkMetric{Interfaces: []NetworkInterfaceMetric{{Name: "eth0", RxBytes: 1}}},
			Containers: []ContainerMetric{{Name: "web", CPU: CPUMetric{Limit: 1000}}},
		}},
	}
	r := at(t, asMap(t, resp), "Records", 0)
	at(t, r, "CPU", "UsageCoreNanoSeconds")
	if got := at(t, r, "Memory", "UsageBytes"); got != float64(9289728) {
		t.Errorf("Memory.UsageBytes = %v", got)
	}
	at(t, r, "Network", "Interfaces", 0, "TxErrors")
	at(t, r, "Containers", 0, "CPU", "Limit")
	at(t, r, "Containers", 0, "Memory", "WorkingSet")
	if got := at(t, r, "Disk"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("Disk = %#v, want []", got)
	}
}

func TestSmallResponsesWireNames(t *testing.T) {
	for _, tc := range []struct {
		v    any
		keys []string
	}{
		{DeleteContainerGroupResponse{}, []string{"RequestId"}},
		{RestartContainerGroupResponse{}, []string{"RequestId"}},
		{ResponseMeta{}, []string{"RequestId"}},
		{DescribeContainerLogResponse{}, []string{"ContainerName", "Content", "RequestId"}},
		{ExecContainerCommandResponse{}, []string{"HttpUrl", "RequestId", "SyncResponse", "WebSocketUri"}},
		{ErrorResponse{}, []string{"Code", "HostId", "Message", "Recommend", "RequestId"}},
	} {
		// Even a zero response carries its keys: a 200 body of {} or nothing
		// leaves the tea SDK with nil fields.
		if got := keysOf(asMap(t, tc.v)); !reflect.DeepEqual(got, tc.keys) {
			t.Errorf("%T keys = %v, want %v", tc.v, got, tc.keys)
		}
	}
}

func TestParseContainerGroupIDs(t *testing.T) {
	many := make([]string, MaxContainerGroupIDs+1)
	for i := range many {
		many[i] = fmt.Sprintf("eci-%d", i)
	}
	tooMany, _ := json.Marshal(many)
	for _, tc := range []struct {
		raw     string
		want    []string
		wantErr bool
	}{
		{raw: "", want: nil},
		{raw: "   ", want: nil},
		{raw: "null", want: nil},
		{raw: "[]", want: []string{}},
		{raw: `["eci-local0000000000001"]`, want: []string{"eci-local0000000000001"}},
		{raw: ` [ "a" , "b" ] `, want: []string{"a", "b"}},
		{raw: "eci-1", wantErr: true},
		{raw: `["a",`, wantErr: true},
		{raw: `[1,2]`, wantErr: true},
		{raw: `{"a":"b"}`, wantErr: true},
		{raw: `"eci-1"`, wantErr: true},
		{raw: `["a",""]`, wantErr: true},
		{raw: `["a",null]`, want: nil, wantErr: true},
		{raw: string(tooMany), wantErr: true},
	} {
		// The three actions share the parameter: they must agree.
		for name, ids := range map[string]func() ([]string, error){
			"DescribeContainerGroups":      DescribeContainerGroupsRequest{ContainerGroupIDs: tc.raw}.IDs,
			"DescribeContainerGroupStatus": DescribeContainerGroupStatusRequest{ContainerGroupIDs: tc.raw}.IDs,
			"DescribeContainerGroupEvents": DescribeContainerGroupEventsRequest{ContainerGroupIDs: tc.raw}.IDs,
		} {
			got, err := ids()
			if tc.wantErr {
				if err == nil {
					t.Errorf("%s IDs(%q) = %q, want an error", name, tc.raw, got)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s IDs(%q): %v", name, tc.raw, err)
				continue
			}
			if len(got) != len(tc.want) || (len(got) > 0 && !reflect.DeepEqual(got, tc.want)) {
				t.Errorf("%s IDs(%q) = %q, want %q", name, tc.raw, got, tc.want)
			}
		}
	}
	// The message explains the format, without the parameter name (the
	// caller prefixes its wire path).
	_, err := DescribeContainerGroupsRequest{ContainerGroupIDs: "eci-1"}.IDs()
	if err == nil || !strings.Contains(err.Error(), "JSON array") || strings.Contains(err.Error(), "ContainerGroupIds") {
		t.Errorf("error = %v", err)
	}
}

func TestExecArgs(t *testing.T) {
	long := strings.Repeat("x", MaxExecCommandArgLen)
	for _, tc := range []struct {
		raw     string
		want    []string
		wantErr bool
	}{
		{raw: `["sh","-c","echo hello"]`, want: []string{"sh", "-c", "echo hello"}},
		{raw: `["/bin/sh"]`, want: []string{"/bin/sh"}},
		{raw: `["` + long + `"]`, want: []string{long}},
		{raw: `["é` + long[1:] + `"]`, want: []string{"é" + long[1:]}}, // characters, not bytes
		{raw: "", wantErr: true},
		{raw: "[]", wantErr: true},
		{raw: "null", wantErr: true},
		{raw: "sh -c ls", wantErr: true},
		{raw: `["sh",1]`, wantErr: true},
		{raw: `["sh",""]`, wantErr: true},
		{raw: `["` + long + `x"]`, wantErr: true},
		{raw: `[` + strings.TrimSuffix(strings.Repeat(`"a",`, MaxExecCommandArgs+1), ",") + `]`, wantErr: true},
	} {
		got, err := ExecContainerCommandRequest{Command: tc.raw}.Args()
		if tc.wantErr {
			if err == nil {
				t.Errorf("Args(%.40q) = %q, want an error", tc.raw, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Args(%.40q) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
}

func TestRequestDefaults(t *testing.T) {
	yes, no := true, false
	zero, big, neg, some := 0, LogTailMax+1, -1, 100

	if !(ExecContainerCommandRequest{}).StdinEnabled() || !(ExecContainerCommandRequest{Stdin: &yes}).StdinEnabled() ||
		(ExecContainerCommandRequest{Stdin: &no}).StdinEnabled() {
		t.Error("StdinEnabled: ECI's default is true, an explicit false wins")
	}
	if !(DescribeContainerGroupsRequest{}).IncludeEvents() || (DescribeContainerGroupsRequest{WithEvent: &no}).IncludeEvents() {
		t.Error("IncludeEvents: unset means true, an explicit false wins")
	}
	for _, tc := range []struct {
		tail    *int
		want    int
		wantErr bool
	}{
		{nil, LogTailDefault, false},
		{&zero, 0, false},
		{&some, 100, false},
		{&big, LogTailMax, false},
		{&neg, 0, true},
	} {
		got, err := DescribeContainerLogRequest{Tail: tc.tail}.TailLines()
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("TailLines(%v) = %d, %v", tc.tail, got, err)
		}
	}
	for _, tc := range []struct {
		period  int
		want    int
		wantErr bool
	}{
		{0, MetricPeriodDefault, false}, {15, 15, false}, {600, 600, false}, {10, 0, true}, {-15, 0, true},
	} {
		got, err := DescribeContainerGroupMetricRequest{Period: tc.period}.PeriodSeconds()
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("PeriodSeconds(%d) = %d, %v", tc.period, got, err)
		}
	}
}

func TestStatusValues(t *testing.T) {
	all := []GroupStatus{GroupPending, GroupRunning, GroupSucceeded, GroupFailed, GroupScheduling,
		GroupScheduleFailed, GroupRestarting, GroupUpdating, GroupTerminating, GroupExpired}
	want := "Pending|Running|Succeeded|Failed|Scheduling|ScheduleFailed|Restarting|Updating|Terminating|Expired"
	var names []string
	for _, s := range all {
		if !s.Known() {
			t.Errorf("%s not Known", s)
		}
		names = append(names, string(s))
	}
	if got := strings.Join(names, "|"); got != want {
		t.Errorf("statuses %s, want %s (wire-protocol.md §4)", got, want)
	}
	if GroupStatus("running").Known() || GroupStatus("").Known() {
		t.Error("Known accepts a wrong spelling")
	}
	for _, s := range []ContainerStateName{StateWaiting, StateRunning, StateTerminated} {
		if !s.Known() {
			t.Errorf("%s not Known", s)
		}
	}
	if ContainerStateName("Exited").Known() {
		t.Error("Known accepts Exited")
	}
}
