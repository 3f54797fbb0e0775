package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// UpdateContainerGroupRequest is the request of UpdateContainerGroup, as the
// tea SDK v3.1.1 sends it (UpdateContainerGroupRequest in client.go).
type UpdateContainerGroupRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	ClientToken      string `json:"ClientToken,omitempty"`
	// UpdateType is RenewUpdate (the default: each parameter given replaces
	// the group's whole) or IncrementalUpdate (lists are merged by name or
	// key, and a container's fields that are given replace its own).
	UpdateType              string                    `json:"UpdateType,omitempty"`
	RestartPolicy           string                    `json:"RestartPolicy,omitempty"`
	ResourceGroupID         string                    `json:"ResourceGroupId,omitempty"`
	Cpu                     float64                   `json:"Cpu,omitempty"`
	Memory                  float64                   `json:"Memory,omitempty"`
	Container               []UpdateContainer         `json:"Container,omitempty"`
	InitContainer           []UpdateInitContainer     `json:"InitContainer,omitempty"`
	Volume                  []Volume                  `json:"Volume,omitempty"`
	DNSConfig               *DNSConfig                `json:"DnsConfig,omitempty"`
	ImageRegistryCredential []ImageRegistryCredential `json:"ImageRegistryCredential,omitempty"`
	AcrRegistryInfo         []AcrRegistryInfo         `json:"AcrRegistryInfo,omitempty"`
	Tag                     []Tag                     `json:"Tag,omitempty"`
}

// UpdateContainer is an app container of an update. The SDK spells one
// hook header list differently from CreateContainerGroup's (HttpHeaders).
type UpdateContainer struct {
	Container
	LifecyclePostStartHandlerHTTPGetHTTPHeaders []HTTPHeader `json:"LifecyclePostStartHandlerHttpGetHttpHeaders,omitempty"`
}

// UpdateInitContainer is an init container of an update. Stdin, StdinOnce
// and Tty mean nothing for a container that runs to completion without a
// terminal; they are accepted and ignored.
type UpdateInitContainer struct {
	ContainerCommon
	Stdin     bool `json:"Stdin,omitempty"`
	StdinOnce bool `json:"StdinOnce,omitempty"`
	Tty       bool `json:"Tty,omitempty"`
}

// UpdateContainerGroupResponse is the answer of UpdateContainerGroup.
type UpdateContainerGroupResponse struct {
	RequestID string `json:"RequestId"`
}

// Update types.
const (
	RenewUpdate       = "RenewUpdate"
	IncrementalUpdate = "IncrementalUpdate"
)

// TagsOnly reports whether the update changes nothing but tags (and the
// cloud's ResourceGroupId and RegionId): then nothing of the group restarts.
func (u *UpdateContainerGroupRequest) TagsOnly() bool {
	r := *u
	r.RegionID, r.ContainerGroupID, r.ClientToken, r.UpdateType, r.Tag, r.ResourceGroupID = "", "", "", "", nil, ""
	return reflect.ValueOf(r).IsZero()
}

// Apply returns base with the update applied; base is not changed. The
// result is not normalized: the caller normalizes and validates it as a
// create request.
func (u *UpdateContainerGroupRequest) Apply(base *CreateContainerGroupRequest) (*CreateContainerGroupRequest, error) {
	incremental := false
	switch u.UpdateType {
	case "", RenewUpdate:
	case IncrementalUpdate:
		incremental = true
	default:
		return nil, invalid("UpdateType", "must be %s or %s, got %q", RenewUpdate, IncrementalUpdate, u.UpdateType)
	}
	out, err := deepCopy(base)
	if err != nil {
		return nil, err
	}
	if u.RestartPolicy != "" {
		out.RestartPolicy = u.RestartPolicy
	}
	if u.ResourceGroupID != "" {
		out.ResourceGroupID = u.ResourceGroupID
	}
	if u.Cpu != 0 {
		out.Cpu = u.Cpu
	}
	if u.Memory != 0 {
		out.Memory = u.Memory
	}
	if u.DNSConfig != nil {
		if incremental && out.DNSConfig != nil {
			mergeGiven(reflect.ValueOf(out.DNSConfig).Elem(), reflect.ValueOf(u.DNSConfig).Elem())
		} else {
			c := *u.DNSConfig
			out.DNSConfig = &c
		}
	}
	if len(u.Container) > 0 {
		var news []Container
		for _, c := range u.Container {
			n := c.Container
			if len(c.LifecyclePostStartHandlerHTTPGetHTTPHeaders) > 0 {
				n.LifecyclePostStartHandlerHTTPGetHTTPHeader = c.LifecyclePostStartHandlerHTTPGetHTTPHeaders
			}
			news = append(news, n)
		}
		out.Container = mergeByName(out.Container, news, incremental, func(c *Container) string { return c.Name })
	}
	if len(u.InitContainer) > 0 {
		var news []InitContainer
		for _, c := range u.InitContainer {
			news = append(news, InitContainer{ContainerCommon: c.ContainerCommon})
		}
		out.InitContainer = mergeByName(out.InitContainer, news, incremental, func(c *InitContainer) string { return c.Name })
	}
	if len(u.Volume) > 0 {
		out.Volume = mergeByName(out.Volume, u.Volume, incremental, func(v *Volume) string { return v.Name })
	}
	if len(u.ImageRegistryCredential) > 0 {
		out.ImageRegistryCredential = mergeByName(out.ImageRegistryCredential, u.ImageRegistryCredential, incremental,
			func(c *ImageRegistryCredential) string { return c.Server })
	}
	if len(u.AcrRegistryInfo) > 0 {
		out.AcrRegistryInfo = mergeByName(out.AcrRegistryInfo, u.AcrRegistryInfo, incremental,
			func(a *AcrRegistryInfo) string { return a.InstanceID })
	}
	if len(u.Tag) > 0 {
		out.Tag = MergeTags(out.Tag, u.Tag, incremental)
	}
	return out, nil
}

// MergeTags is the group's tags after an update gives tags: the given
// ones replace the group's (renew), or are set on top of them (incremental).
func MergeTags(have, given []Tag, incremental bool) []Tag {
	return mergeByName(have, given, incremental, func(t *Tag) string { return t.Key })
}

// mergeByName is a list after an update: the given list (renew), or the
// list with each given item merged into the item of its name and new names
// appended (incremental).
func mergeByName[T any](have, given []T, incremental bool, name func(*T) string) []T {
	if !incremental {
		return slices.Clone(given)
	}
	out := slices.Clone(have)
	for _, g := range given {
		i := slices.IndexFunc(out, func(h T) bool { return name(&h) == name(&g) })
		if i < 0 {
			out = append(out, g)
			continue
		}
		mergeGiven(reflect.ValueOf(&out[i]).Elem(), reflect.ValueOf(g))
	}
	return out
}

// mergeGiven sets each field of dst that src gives (is not zero in src):
// embedded structs field by field, every other field whole.
func mergeGiven(dst, src reflect.Value) {
	if dst.Kind() != reflect.Struct {
		if !src.IsZero() {
			dst.Set(src)
		}
		return
	}
	t := dst.Type()
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Anonymous {
			mergeGiven(dst.Field(i), src.Field(i))
			continue
		}
		if !src.Field(i).IsZero() {
			dst.Field(i).Set(src.Field(i))
		}
	}
}

// deepCopy copies a request through JSON, which holds all of it.
func deepCopy(r *CreateContainerGroupRequest) (*CreateContainerGroupRequest, error) {
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("copy request: %w", err)
	}
	var out CreateContainerGroupRequest
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("copy request: %w", err)
	}
	return &out, nil
}
