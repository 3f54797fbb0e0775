package api

import (
	"reflect"
	"runtime"
	"strconv"
	"strings"
)

// NotAppliedLocally lists, by wire path, the parameters of the request that
// are set but only mean something in Alibaba Cloud (zone, vSwitch, EIP, spot,
// instance type, ...). leci keeps and echoes them but does nothing with them,
// and says so instead of dropping them silently.
func (r *CreateContainerGroupRequest) NotAppliedLocally() []string {
	var out []string
	cloudFields(&out, "", reflect.ValueOf(r).Elem())
	return out
}

func cloudFields(out *[]string, path string, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf, fv := t.Field(i), v.Field(i)
		if sf.Anonymous && sf.Type.Kind() == reflect.Struct {
			cloudFields(out, path, fv)
			continue
		}
		name := join(path, wireName(sf))
		if sf.Tag.Get("leci") == "cloud" {
			if !fv.IsZero() && !appliedAsIs(name, fv) {
				*out = append(*out, name)
			}
			continue
		}
		// Cloud-only parameters of containers are found inside the lists.
		if fv.Kind() == reflect.Slice && fv.Type().Elem().Kind() == reflect.Struct {
			for j := 0; j < fv.Len(); j++ {
				cloudFields(out, name+"."+strconv.Itoa(j+1), fv.Index(j))
			}
		}
	}
}

// appliedAsIs reports whether a cloud parameter's value is what a local
// group is anyway: a Linux group on this host's architecture, not on spot.
func appliedAsIs(name string, v reflect.Value) bool {
	if v.Kind() != reflect.String {
		return false
	}
	switch name {
	case "OsType":
		return v.String() == "Linux"
	case "CpuArchitecture":
		return strings.EqualFold(v.String(), runtime.GOARCH)
	case "SpotStrategy":
		return v.String() == "NoSpot"
	}
	return false
}

// Normalize applies the defaults and validates: what every caller that takes
// a request does before anything else.
func (r *CreateContainerGroupRequest) Normalize() error {
	r.SetDefaults()
	return r.Validate()
}
