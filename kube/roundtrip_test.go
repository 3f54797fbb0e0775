package kube

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"leci/api"
)

func readRequest(t *testing.T, path string) *api.CreateContainerGroupRequest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r api.CreateContainerGroupRequest
	if err := api.Decode(data, api.FormatYAML, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// everyFieldLost is what of examples/every-field.yaml no Pod field or ECI
// annotation carries.
var everyFieldLost = []string{
	"AcrRegistryInfo.1.ArnService", "AcrRegistryInfo.1.ArnUser", "AcrRegistryInfo.1.Domain.1",
	"AcrRegistryInfo.1.InstanceId", "AcrRegistryInfo.1.InstanceName", "AcrRegistryInfo.1.RegionId",
	"ClientToken", "Container.1.EnvironmentVarHide", "ContainerResourceView", "CpuArchitecture",
	"CpuOptionsNuma", "DryRun", "ImageAccelerateMode", "OwnerAccount", "OwnerId", "RegionId",
	"ResourceOwnerAccount", "ResourceOwnerId", "StrictSpot",
	"Volume.5.DiskVolume.DiskId", "Volume.5.DiskVolume.DiskSize", "Volume.5.DiskVolume.FsType",
	"Volume.5.Name", "Volume.5.Type", "ZoneId",
}

// TestEveryFieldRoundTrip takes the request with every parameter to a Pod
// and back: every parameter comes back the same, but for those no Pod field
// or annotation carries, which Generate names.
func TestEveryFieldRoundTrip(t *testing.T) {
	req := readRequest(t, filepath.Join("..", "examples", "every-field.yaml"))
	m, err := Generate(req)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Lost, everyFieldLost) {
		t.Errorf("lost parameters:\n got %q\nwant %q", m.Lost, everyFieldLost)
	}
	data, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Decode(data, nil)
	if err != nil {
		t.Fatalf("the generated manifest does not read back: %v\n%s", err, data)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("the generated manifest reads back with warnings: %q", res.Warnings)
	}

	// The request without what a Pod cannot carry is the request read back,
	// parameter by parameter.
	want := *req
	want.AcrRegistryInfo, want.ClientToken, want.ContainerResourceView, want.CPUArchitecture = nil, "", false, ""
	want.CPUOptionsNuma, want.DryRun, want.ImageAccelerateMode, want.RegionID, want.ZoneID = "", false, "", "", ""
	want.OwnerAccount, want.OwnerID, want.ResourceOwnerAccount, want.ResourceOwnerID, want.StrictSpot = "", 0, "", 0, false
	want.Container = slices.Clone(want.Container)
	want.Container[0].EnvironmentVarHide = false
	want.Volume = slices.DeleteFunc(slices.Clone(want.Volume), func(v api.Volume) bool { return v.Type == api.VolumeDisk })
	wantValues := api.EncodeValues(comparable(&want))
	gotValues := api.EncodeValues(comparable(res.Request))
	for _, k := range sortedKeys(wantValues) {
		t.Run(k, func(t *testing.T) {
			if got := gotValues[k]; !slices.Equal(got, wantValues[k]) {
				t.Errorf("%s = %q after the round trip, want %q", k, got, wantValues[k])
			}
		})
	}
	for _, k := range sortedKeys(gotValues) {
		if _, ok := wantValues[k]; !ok {
			t.Errorf("%s = %q appeared in the round trip", k, gotValues[k])
		}
	}
}

// objectsOf reads a manifest as its objects, each written back in the form
// Generate writes, by kind and name.
func objectsOf(t *testing.T, data []byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, doc := range documents(data) {
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			t.Fatal(err)
		}
		var obj interface{ GetName() string }
		switch tm.Kind {
		case "Pod":
			obj = &corev1.Pod{}
		case "ConfigMap":
			obj = &corev1.ConfigMap{}
		case "Secret":
			obj = &corev1.Secret{}
		default:
			t.Fatalf("unexpected kind %s", tm.Kind)
		}
		if err := yaml.UnmarshalStrict(doc, obj); err != nil {
			t.Fatal(err)
		}
		clean, err := cleanYAML(obj)
		if err != nil {
			t.Fatal(err)
		}
		out[tm.Kind+"/"+obj.GetName()] = string(clean)
	}
	return out
}

// TestPodRoundTrip takes real-world Pods to requests and back: each comes
// back as it was written, with the objects beside it.
func TestPodRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "examples", "kube", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("examples/kube holds %d manifests (%v), want the 4 real-world Pods at least", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Decode(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("warnings: %q", res.Warnings)
			}
			// The request is one leci takes.
			var check api.CreateContainerGroupRequest
			raw, _ := json.Marshal(res.Request)
			if err := json.Unmarshal(raw, &check); err != nil {
				t.Fatal(err)
			}
			if err := check.Normalize(); err != nil {
				t.Fatalf("the request is not valid: %v\n%s", err, raw)
			}
			m, err := Generate(res.Request)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Lost) > 0 {
				t.Errorf("lost: %q", m.Lost)
			}
			out, err := m.YAML()
			if err != nil {
				t.Fatal(err)
			}
			want, got := objectsOf(t, data), objectsOf(t, out)
			for k, w := range want {
				if got[k] != w {
					t.Errorf("%s after the round trip:\n%s\nwant:\n%s", k, got[k], w)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("%s appeared in the round trip:\n%s", k, got[k])
				}
			}
		})
	}
}

// TestWorkloadTemplates takes a Deployment's and a Job's Pod template, named
// after the workload when the template has no name.
func TestWorkloadTemplates(t *testing.T) {
	const tmpl = `
  template:
    metadata:
      labels: {app: demo}
    spec:
      restartPolicy: Never
      containers:
      - name: app
        image: busybox
`
	for _, tc := range []struct{ doc, warn string }{
		{"apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: demo}\nspec:\n  replicas: 3\n  selector: {matchLabels: {app: demo}}\n" + tmpl, "Deployment"},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {name: demo}\nspec:\n  backoffLimit: 2\n" + tmpl, "Job"},
	} {
		res, err := Decode([]byte(tc.doc), nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.warn, err)
		}
		r := res.Request
		if r.ContainerGroupName != "demo" || r.RestartPolicy != "Never" || len(r.Container) != 1 || r.Container[0].Image != "busybox" {
			t.Errorf("%s: request = %+v", tc.warn, r)
		}
		joined := strings.Join(res.Warnings, "\n")
		if !strings.Contains(joined, tc.warn+": only its Pod template") || !strings.Contains(joined, "spec.template.metadata.labels: left out") {
			t.Errorf("%s: warnings = %q", tc.warn, res.Warnings)
		}
	}
}
