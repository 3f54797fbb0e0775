package api

import (
	"reflect"
	"testing"
)

func TestUpdateApplyRenewAndIncremental(t *testing.T) {
	base := &CreateContainerGroupRequest{
		ContainerGroupName: "g1", RestartPolicy: RestartAlways,
		Container: []Container{
			{ContainerCommon: ContainerCommon{Name: "web", Image: "nginx:1", Command: []string{"nginx"}}},
			{ContainerCommon: ContainerCommon{Name: "side", Image: "busybox:1"}},
		},
		Volume: []Volume{{Name: "data", Type: VolumeEmptyDir}},
		Tag:    []Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}},
	}
	up := &UpdateContainerGroupRequest{
		Container: []UpdateContainer{{Container: Container{ContainerCommon: ContainerCommon{Name: "web", Image: "nginx:2"}}}},
		Tag:       []Tag{{Key: "b", Value: "3"}},
	}

	renew, err := up.Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(renew.Container) != 1 || renew.Container[0].Image != "nginx:2" || renew.Container[0].Command != nil ||
		!reflect.DeepEqual(renew.Tag, []Tag{{Key: "b", Value: "3"}}) || len(renew.Volume) != 1 || renew.ContainerGroupName != "g1" {
		t.Errorf("RenewUpdate: %+v", renew)
	}

	up.UpdateType = IncrementalUpdate
	inc, err := up.Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc.Container) != 2 || inc.Container[0].Image != "nginx:2" || inc.Container[0].Command[0] != "nginx" ||
		!reflect.DeepEqual(inc.Tag, []Tag{{Key: "a", Value: "1"}, {Key: "b", Value: "3"}}) {
		t.Errorf("IncrementalUpdate: %+v", inc)
	}
	if base.Container[0].Image != "nginx:1" || base.Tag[1].Value != "2" {
		t.Errorf("Apply changed its base: %+v", base)
	}
	if !(&UpdateContainerGroupRequest{Tag: []Tag{{Key: "x"}}, UpdateType: RenewUpdate}).TagsOnly() || up.TagsOnly() {
		t.Errorf("TagsOnly is wrong")
	}
	if _, err := (&UpdateContainerGroupRequest{UpdateType: "Partial"}).Apply(base); err == nil {
		t.Errorf("an unknown UpdateType was taken")
	}
}
