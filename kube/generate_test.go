package kube

import (
	"encoding/base64"
	"reflect"
	"testing"

	"leci/api"
)

// Config files whose paths collide as ConfigMap keys, and binary content,
// come back as they were.
func TestConfigFilesThroughAConfigMap(t *testing.T) {
	mode := api.FileMode(0o600)
	files := []api.ConfigFileToPath{
		{Path: "a/b", Content: base64.StdEncoding.EncodeToString([]byte("slash"))},
		{Path: "a_b", Content: base64.StdEncoding.EncodeToString([]byte("underscore")), Mode: &mode},
		{Path: "bin", Content: base64.StdEncoding.EncodeToString([]byte{0xff, 0x00, 0xfe})},
	}
	req := &api.CreateContainerGroupRequest{
		ContainerGroupName: "files",
		Container:          []api.Container{{ContainerCommon: api.ContainerCommon{Name: "app", Image: "busybox"}}},
		Volume:             []api.Volume{{Name: "cfg", Type: api.VolumeConfigFile, ConfigFileVolume: &api.ConfigFileVolume{ConfigFileToPath: files}}},
	}
	m, err := Generate(req)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Lost) > 0 {
		t.Errorf("lost: %q", m.Lost)
	}
	cm := m.ConfigMaps[0]
	if cm.Name != "files-cfg" || len(cm.Data) != 2 || len(cm.BinaryData) != 1 {
		t.Errorf("ConfigMap = %+v", cm)
	}
	data, err := m.YAML()
	if err != nil {
		t.Fatal(err)
	}
	res, err := Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Request.Volume[0].ConfigFileVolume.ConfigFileToPath; !reflect.DeepEqual(got, files) {
		t.Errorf("files = %+v, want %+v", got, files)
	}
}
