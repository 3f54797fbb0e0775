package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"leci/api"
	"leci/runtime"
)

// Tagger is implemented by a Groups that can change a group's tags
// (*runtime.Engine): TagResources and UntagResources on container groups.
type Tagger interface {
	SetTags(id string, tags []api.Tag) error
}

var _ Tagger = (*runtime.Engine)(nil)

// CodeTagQuotaExceeded refuses a TagResources that would give a resource
// more than api.MaxTagsPerResource tags (ECI's QuotaExceeded family).
const CodeTagQuotaExceeded = "QuotaExceeded.TagsPerResource"

// tagged is one kind of resource that carries tags.
type tagged interface {
	// ids lists the resources, in a stable order.
	ids() []string
	// tags returns a resource's tags, or its not-found error.
	tags(id string) ([]api.Tag, error)
	setTags(id string, tags []api.Tag) error
}

type taggedGroups struct{ s *Server }

func (t taggedGroups) ids() []string {
	var out []string
	for _, st := range t.s.selectGroups(filter{}) {
		out = append(out, st.ID)
	}
	return out
}

func (t taggedGroups) tags(id string) ([]api.Tag, error) {
	st, err := t.s.group(id)
	if err != nil {
		return nil, err
	}
	return groupTags(st), nil
}

func (t taggedGroups) setTags(id string, tags []api.Tag) error {
	tg, ok := t.s.opts.Groups.(Tagger)
	if !ok {
		return NotImplemented("tagging container groups")
	}
	return tg.SetTags(id, tags)
}

type taggedCaches struct{ c ImageCaches }

func (t taggedCaches) ids() []string {
	var out []string
	for _, c := range t.c.List() {
		out = append(out, c.ID)
	}
	return out
}

func (t taggedCaches) tags(id string) ([]api.Tag, error) {
	c, err := t.c.Get(id)
	if err != nil {
		return nil, cacheError(err, id)
	}
	return c.Tags, nil
}

func (t taggedCaches) setTags(id string, tags []api.Tag) error {
	return cacheError(t.c.SetTags(id, tags), id)
}

// resourcesOf is the kind of resource a tag request names.
func (s *Server) resourcesOf(typ string) (tagged, error) {
	switch typ {
	case "":
		return nil, missingParameter("ResourceType")
	case api.ResourceContainerGroup:
		return taggedGroups{s}, nil
	case api.ResourceImageCache:
		if s.opts.Caches == nil {
			return nil, unsupported("ImageCache", "this leci keeps no image caches")
		}
		return taggedCaches{s.opts.Caches}, nil
	case "DataCache", "VirtualNode":
		return nil, unsupported(typ, "leci has no "+typ+"s: see the README's table of actions")
	}
	return nil, invalidParameter("ResourceType", "must be %s or %s, got %q", api.ResourceContainerGroup, api.ResourceImageCache, typ)
}

// checkTag applies ECI's rules to a tag key or value: not empty (a key),
// at most 128 characters, not starting with aliyun or acs:, no http:// or
// https://.
func checkTag(field, s string, max int, required bool) error {
	switch {
	case s == "" && required:
		return missingParameter(field)
	case utf8.RuneCountInString(s) > max:
		return invalidParameter(field, "is %d characters long, at most %d are allowed", utf8.RuneCountInString(s), max)
	case strings.HasPrefix(strings.ToLower(s), "aliyun"), strings.HasPrefix(strings.ToLower(s), "acs:"):
		return invalidParameter(field, "%q: a tag may not start with aliyun or acs:", s)
	case strings.Contains(s, "http://"), strings.Contains(s, "https://"):
		return invalidParameter(field, "%q: a tag may not contain http:// or https://", s)
	}
	return nil
}

func checkResourceIDs(ids []string, required bool) error {
	switch {
	case len(ids) == 0 && required:
		return missingParameter("ResourceId")
	case len(ids) > api.MaxTagResourceIDs:
		return invalidParameter("ResourceId", "names %d resources, at most %d are allowed", len(ids), api.MaxTagResourceIDs)
	}
	for i, id := range ids {
		if id == "" {
			return invalidParameter(fmt.Sprintf("ResourceId.%d", i+1), "is empty")
		}
	}
	return nil
}

// ---------------------------------------------------------------------------
// TagResources

func (s *Server) tagResources(c *call) (any, error) {
	var req api.TagResourcesRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	kind, err := s.resourcesOf(req.ResourceType)
	if err != nil {
		return nil, err
	}
	if err := checkResourceIDs(req.ResourceID, true); err != nil {
		return nil, err
	}
	switch {
	case len(req.Tag) == 0:
		return nil, missingParameter("Tag")
	case len(req.Tag) > api.MaxTagsPerResource:
		return nil, invalidParameter("Tag", "holds %d tags, at most %d are allowed", len(req.Tag), api.MaxTagsPerResource)
	}
	seen := map[string]bool{}
	for i, t := range req.Tag {
		if err := checkTag(fmt.Sprintf("Tag.%d.Key", i+1), t.Key, api.MaxTagKeyLen, true); err != nil {
			return nil, err
		}
		if err := checkTag(fmt.Sprintf("Tag.%d.Value", i+1), t.Value, api.MaxTagValueLen, false); err != nil {
			return nil, err
		}
		if seen[t.Key] {
			return nil, invalidParameter(fmt.Sprintf("Tag.%d.Key", i+1), "%q is given twice", t.Key)
		}
		seen[t.Key] = true
	}
	// Everything is checked before anything changes: a call tags all of
	// its resources or none.
	next := map[string][]api.Tag{}
	for _, id := range req.ResourceID {
		have, err := kind.tags(id)
		if err != nil {
			return nil, err
		}
		tags := slices.Clone(have)
		for _, t := range req.Tag {
			if i := slices.IndexFunc(tags, func(h api.Tag) bool { return h.Key == t.Key }); i >= 0 {
				tags[i].Value = t.Value
			} else {
				tags = append(tags, t)
			}
		}
		if len(tags) > api.MaxTagsPerResource {
			return nil, &api.Error{Code: CodeTagQuotaExceeded, Status: http.StatusBadRequest, Field: "Tag",
				Message: fmt.Sprintf("%s would carry %d tags, at most %d are allowed", id, len(tags), api.MaxTagsPerResource)}
		}
		next[id] = tags
	}
	if err := s.setTags(c.ctx, kind, req.ResourceID, next); err != nil {
		return nil, err
	}
	return api.ResponseMeta{RequestID: c.requestID}, nil
}

func (s *Server) setTags(_ context.Context, kind tagged, ids []string, next map[string][]api.Tag) error {
	var errs []error
	for _, id := range ids {
		if err := kind.setTags(id, next[id]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ---------------------------------------------------------------------------
// UntagResources

func (s *Server) untagResources(c *call) (any, error) {
	var req api.UntagResourcesRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	kind, err := s.resourcesOf(req.ResourceType)
	if err != nil {
		return nil, err
	}
	if err := checkResourceIDs(req.ResourceID, true); err != nil {
		return nil, err
	}
	switch {
	case len(req.TagKey) == 0 && !req.All:
		return nil, missingParameter("TagKey")
	case len(req.TagKey) > api.MaxTagsPerResource:
		return nil, invalidParameter("TagKey", "holds %d keys, at most %d are allowed", len(req.TagKey), api.MaxTagsPerResource)
	}
	next := map[string][]api.Tag{}
	for _, id := range req.ResourceID {
		have, err := kind.tags(id)
		if err != nil {
			return nil, err
		}
		var keep []api.Tag
		if len(req.TagKey) > 0 {
			keep = slices.DeleteFunc(slices.Clone(have), func(t api.Tag) bool { return slices.Contains(req.TagKey, t.Key) })
		}
		next[id] = keep
	}
	if err := s.setTags(c.ctx, kind, req.ResourceID, next); err != nil {
		return nil, err
	}
	return api.ResponseMeta{RequestID: c.requestID}, nil
}

// ---------------------------------------------------------------------------
// ListTagResources

func (s *Server) listTagResources(c *call) (any, error) {
	var req api.ListTagResourcesRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	kind, err := s.resourcesOf(req.ResourceType)
	if err != nil {
		return nil, err
	}
	if err := checkResourceIDs(req.ResourceID, false); err != nil {
		return nil, err
	}
	if len(req.Tag) > api.MaxTagsPerResource {
		return nil, invalidParameter("Tag", "holds %d tags, at most %d are allowed", len(req.Tag), api.MaxTagsPerResource)
	}
	limit, err := pageLimit(req.Limit, api.ListTagsLimitMax, api.ListTagsLimitMax)
	if err != nil {
		return nil, err
	}
	ids := req.ResourceID
	if len(ids) == 0 {
		ids = kind.ids()
	}
	var all []api.TagResource
	for _, id := range ids {
		tags, err := kind.tags(id)
		if err != nil {
			if isGone(err) && len(req.ResourceID) == 0 {
				continue // deleted since it was listed
			}
			return nil, err
		}
		if !hasTags(tags, req.Tag) {
			continue
		}
		for _, t := range tags {
			all = append(all, api.TagResource{ResourceID: id, ResourceType: req.ResourceType, TagKey: t.Key, TagValue: t.Value})
		}
	}
	pg, next, err := offsetPage(all, req.NextToken, limit)
	if err != nil {
		return nil, err
	}
	return api.ListTagResourcesResponse{RequestID: c.requestID, TagResources: pg, NextToken: next}, nil
}

// hasTags tells whether tags carry every filter (an empty Value matches
// any value of its key).
func hasTags(tags []api.Tag, filters []api.TagFilter) bool {
	for _, f := range filters {
		if f.Key == "" {
			continue
		}
		if !slices.ContainsFunc(tags, func(t api.Tag) bool { return t.Key == f.Key && (f.Value == "" || t.Value == f.Value) }) {
			return false
		}
	}
	return true
}
