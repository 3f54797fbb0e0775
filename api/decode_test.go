package api

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestDecodeForms(t *testing.T) {
	const yamlDoc = `
ContainerGroupName: demo
Container:
  - Name: web
    Image: busybox:1.36
    Command: [sh, -c, "echo hi"]
    EnvironmentVar:
      - {Key: A, Value: "1"}
    LifecyclePreStopHandlerHttpGetPath: /stop
    SecurityContextRunAsGroup: 3000
Volume:
  - Name: cfg
    Type: ConfigFileVolume
    ConfigFileVolume:
      DefaultMode: 0600
      ConfigFileToPath:
        - {Path: a.conf, Content: aGk=, Mode: 420}
`
	const jsonDoc = `{"ContainerGroupName":"demo","Container":[{"Name":"web","Image":"busybox:1.36",
  "Command":["sh","-c","echo hi"],"EnvironmentVar":[{"Key":"A","Value":"1"}],
  "LifecyclePreStopHandlerHttpGetPath":"/stop","SecurityContextRunAsGroup":3000}],
  "Volume":[{"Name":"cfg","Type":"ConfigFileVolume","ConfigFileVolume":{"DefaultMode":"0600",
  "ConfigFileToPath":[{"Path":"a.conf","Content":"aGk=","Mode":420}]}}]}`
	const rpc = "ContainerGroupName=demo&Container.1.Name=web&Container.1.Image=busybox%3A1.36" +
		"&Container.1.Command.1=sh&Container.1.Command.2=-c&Container.1.Command.3=echo+hi" +
		"&Container.1.EnvironmentVar.1.Key=A&Container.1.EnvironmentVar.1.Value=1" +
		"&Container.1.LifecyclePreStopHandlerHttpGetPath=%2Fstop&Container.1.SecurityContextRunAsGroup=3000" +
		"&Volume.1.Name=cfg&Volume.1.Type=ConfigFileVolume&Volume.1.ConfigFileVolume.DefaultMode=0600" +
		"&Volume.1.ConfigFileVolume.ConfigFileToPath.1.Path=a.conf&Volume.1.ConfigFileVolume.ConfigFileToPath.1.Content=aGk%3D" +
		"&Volume.1.ConfigFileVolume.ConfigFileToPath.1.Mode=420&Action=CreateContainerGroup&Signature=x&SignatureType="
	var reqs [3]CreateContainerGroupRequest
	for i, in := range []struct {
		data   string
		format Format
	}{{yamlDoc, FormatYAML}, {jsonDoc, FormatJSON}, {rpc, FormatRPC}} {
		if err := Decode([]byte(in.data), in.format, &reqs[i]); err != nil {
			t.Fatalf("%s: %v", in.format, err)
		}
	}
	for i := 1; i < 3; i++ {
		if d := diffJSON(t, reqs[0], reqs[i]); d != "" {
			t.Errorf("form %d differs from YAML: %s", i, d)
		}
	}
	r := reqs[0]
	if got := r.Volume[0].ConfigFileVolume.DefaultMode.Perm(); got != 0o600 {
		t.Errorf("DefaultMode = %o, want 600 (octal from 0600)", got)
	}
	if got := r.Volume[0].ConfigFileVolume.ConfigFileToPath[0].Mode.Perm(); got != 0o644 {
		t.Errorf("Mode = %o, want 644 (decimal 420)", got)
	}
	if g := r.Container[0].SecurityContextRunAsGroup; g == nil || *g != 3000 {
		t.Errorf("SecurityContextRunAsGroup = %v, want 3000", g)
	}
}

// Each malformed input gives an InvalidParameter error naming the path.
func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		in     string
		field  string // expected in the message
	}{
		{"unknown key", FormatJSON, `{"Container":[{"Nmae":"x"}]}`, "Container.1.Nmae"},
		{"unknown key case hint", FormatYAML, "containerGroupName: x", "did you mean ContainerGroupName"},
		{"unknown rpc key", FormatRPC, "Container.1.Imagee=x", "Container.1.Imagee"},
		{"rpc gap", FormatRPC, "Container.1.Name=a&Container.3.Name=b", "Container.2 is missing"},
		{"rpc index from zero", FormatRPC, "Container.0.Name=a", "Container.0"},
		{"rpc leading zero", FormatRPC, "Container.01.Name=a", "Container.01"},
		{"rpc repeated key", FormatRPC, "ContainerGroupName=a&ContainerGroupName=b", "given 2 times"},
		{"rpc list without index", FormatRPC, "Container.Name=a", "Container.Name"},
		{"rpc empty part", FormatRPC, "Container..Name=a", "empty part"},
		{"rpc value and object", FormatRPC, "Container.1.ReadinessProbe=x&Container.1.ReadinessProbe.PeriodSeconds=1", "both as a value and as an object"},
		{"bad int", FormatJSON, `{"Container":[{"Port":[{"Port":"eighty"}]}]}`, "Container.1.Port.1.Port"},
		{"int overflow", FormatRPC, "Container.1.Port.1.Port=99999999999999999999", "not an integer"},
		{"bad bool", FormatYAML, "ShareProcessNamespace: yes", "not a boolean"},
		{"bad float", FormatRPC, "Cpu=NaN", "not a number"},
		{"bad mode", FormatJSON, `{"Volume":[{"ConfigFileVolume":{"DefaultMode":"0999"}}]}`, "not a file mode"},
		{"list expected", FormatJSON, `{"Container":{"Name":"x"}}`, "must be a list"},
		{"scalar list in json", FormatJSON, `{"Container":[{"Command":"sh"}]}`, "must be a list"},
		{"object expected", FormatYAML, "DnsConfig: [a]", "must be an object"},
		{"scalar expected", FormatJSON, `{"ContainerGroupName":["a"]}`, "single value"},
		{"json duplicate key", FormatJSON, `{"Cpu":1,"Cpu":2}`, "given twice"},
		{"yaml duplicate key", FormatYAML, "Cpu: 1\nCpu: 2", "given twice"},
		{"json trailing data", FormatJSON, `{} {}`, "after the JSON document"},
		{"json syntax", FormatJSON, `{"Cpu":`, "not valid JSON"},
		{"json null document", FormatJSON, `null`, "null"},
		{"yaml empty", FormatYAML, ``, "empty"},
		{"yaml alias", FormatYAML, "a: &x 1\nCpu: *x", "aliases"},
		{"json too deep", FormatJSON, strings.Repeat("[", 100) + strings.Repeat("]", 100), "too deeply"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req CreateContainerGroupRequest
			err := Decode([]byte(tc.in), tc.format, &req)
			if err == nil {
				t.Fatalf("decode(%q) succeeded, want an error", tc.in)
			}
			if !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("error %v is not an InvalidParameter", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not mention %q", err, tc.field)
			}
		})
	}
}

// The legacy SDK sends Container.N.ReadinessProbe.Exec.Command=<[]string
// Value> for every container: a bare key for a list is ignored, and the probe
// it would create does not exist.
func TestDecodeLegacyBareListKey(t *testing.T) {
	v := url.Values{
		"ContainerGroupName":                       {"g"},
		"Container.1.Name":                         {"a"},
		"Container.1.ReadinessProbe.Exec.Command":  {"<[]string Value>"},
		"Container.1.LivenessProbe.Exec.Command":   {"<[]string Value>"},
		"Container.1.LivenessProbe.Exec.Command.1": {"true"},
	}
	var req CreateContainerGroupRequest
	if err := DecodeValues(v, &req); err != nil {
		t.Fatal(err)
	}
	c := req.Container[0]
	if c.ReadinessProbe != nil {
		t.Errorf("ReadinessProbe = %+v, want none", c.ReadinessProbe)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.Exec == nil || len(c.LivenessProbe.Exec.Command) != 1 {
		t.Errorf("LivenessProbe = %+v, want exec [true]", c.LivenessProbe)
	}
}

// Several decode problems are all reported.
func TestDecodeReportsAll(t *testing.T) {
	var req CreateContainerGroupRequest
	err := Decode([]byte("Cpu=x&Memory=y&Bogus=1"), FormatRPC, &req)
	if got := len(AsErrors(err)); got != 3 {
		t.Errorf("got %d errors (%v), want 3", got, err)
	}
}

func TestFileModeSpellings(t *testing.T) {
	for in, want := range map[string]FileMode{"0644": 0o644, "420": 0o644, "0o755": 0o755, "0": 0, "511": 0o777, "0777": 0o777} {
		var m FileMode
		if err := m.decodeText(in); err != nil || m != want {
			t.Errorf("mode %q = %o, %v; want %o", in, m, err, want)
		}
	}
	for _, in := range []string{"", "08", "-1", "0o", "0x1f", "+7", "rw-r--r--"} {
		var m FileMode
		if err := m.decodeText(in); err == nil {
			t.Errorf("mode %q decoded to %o, want an error", in, m)
		}
	}
}

func TestParseSizeLimit(t *testing.T) {
	for in, want := range map[string]int64{"2": 2 << 30, "0.5": 1 << 29, "512Mi": 512 << 20, "1G": 1e9} {
		if got, err := ParseSizeLimit(in); err != nil || got != want {
			t.Errorf("ParseSizeLimit(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "Gi", "1Pi", "NaN", "1e400"} {
		if got, err := ParseSizeLimit(in); err == nil {
			t.Errorf("ParseSizeLimit(%q) = %d, want an error", in, got)
		}
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for image, want := range map[string]string{
		"busybox": PullAlways, "busybox:latest": PullAlways, "busybox:1.36": PullIfNotPresent,
		"127.0.0.1:5000/busybox": PullAlways, "127.0.0.1:5000/busybox:v1": PullIfNotPresent,
		"busybox@sha256:" + strings.Repeat("a", 64): PullIfNotPresent,
	} {
		if got := DefaultPullPolicy(image); got != want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", image, got, want)
		}
	}
}
