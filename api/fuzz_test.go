package api

import (
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// seedFiles adds the examples of the repository to a fuzzer's corpus, beside
// the corpus kept in testdata/fuzz.
func seedFiles(f *testing.F, pattern string) {
	files, _ := filepath.Glob(pattern)
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}
}

// checkRequest runs what every caller runs on a decoded request; none of it
// may panic, whatever the input.
func checkRequest(t *testing.T, req *CreateContainerGroupRequest) {
	req.SetDefaults()
	err := req.Validate()
	for _, e := range AsErrors(err) {
		if e.Code == "" || e.Status == 0 {
			t.Fatalf("error without code or status: %#v", e)
		}
	}
	_ = req.NotAppliedLocally()
}

func FuzzDecodeRPC(f *testing.F) {
	seedFiles(f, "../examples/*.rpc")
	f.Add([]byte("Container.1.Name=a&Container.2.Name=b&Container.1.Command.1=sh"))
	f.Add([]byte("Container.1.ReadinessProbe.Exec.Command=x&Container.1.ReadinessProbe.Exec.Command.1=y"))
	f.Add([]byte("Volume.1.ConfigFileVolume.DefaultMode=0644&Cpu=2.000000"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CreateContainerGroupRequest
		if Decode(data, FormatRPC, &req) != nil {
			return
		}
		// What is encoded decodes back to what encodes the same.
		first := EncodeValues(&req)
		var again CreateContainerGroupRequest
		if err := DecodeValues(first, &again); err != nil {
			t.Fatalf("re-decoding %q: %v", first.Encode(), err)
		}
		if second := EncodeValues(&again); !reflect.DeepEqual(first, second) {
			t.Fatalf("encode is not stable:\n%s\n%s", first.Encode(), second.Encode())
		}
		checkRequest(t, &req)
	})
}

func FuzzDecodeJSON(f *testing.F) {
	seedFiles(f, "../examples/*.json")
	f.Add([]byte(`{"Container":[{"Name":"a","Command":["sh"]}],"Volume":[{"ConfigFileVolume":{"DefaultMode":"0644"}}]}`))
	f.Add([]byte(`{"a":null,"Cpu":1e3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CreateContainerGroupRequest
		if Decode(data, FormatJSON, &req) == nil {
			checkRequest(t, &req)
		}
	})
}

func FuzzDecodeYAML(f *testing.F) {
	seedFiles(f, "../examples/*.yaml")
	f.Add([]byte("Container:\n  - Name: a\n    Command: [sh]\nVolume:\n  - ConfigFileVolume: {DefaultMode: 0644}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var req CreateContainerGroupRequest
		if Decode(data, FormatYAML, &req) == nil {
			checkRequest(t, &req)
		}
	})
}

// FuzzValidate drives the validator with requests that decode, built from
// mutated RPC parameters so that most inputs get past the decoder.
func FuzzValidate(f *testing.F) {
	f.Add("ContainerGroupName", "g", "Container.1.Image", "busybox", "Container.1.VolumeMount.1.MountPath", "/data")
	f.Add("Volume.1.ConfigFileVolume.ConfigFileToPath.1.Path", "a/../b", "Volume.1.Type", "ConfigFileVolume", "Volume.1.ConfigFileVolume.ConfigFileToPath.1.Content", "%%")
	f.Add("Container.1.LifecyclePreStopHandlerHttpGetPort", "80", "Container.1.LifecyclePreStopHandlerExec.1", "sh", "HostSecurityContext.Sysctl.1.Name", "kernel.shm")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3, v3 string) {
		values := url.Values{"ContainerGroupName": {"fuzz"}, "Container.1.Name": {"app"}, "Container.1.Image": {"busybox"}}
		values.Set(k1, v1)
		values.Set(k2, v2)
		values.Set(k3, v3)
		var req CreateContainerGroupRequest
		if DecodeValues(values, &req) == nil {
			checkRequest(t, &req)
		}
	})
}
