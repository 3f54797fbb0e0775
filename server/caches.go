package server

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"leci/api"
	"leci/imagecache"
)

// ImageCaches keeps the image caches: *imagecache.Manager.
type ImageCaches interface {
	Create(s imagecache.Spec, clientToken string) (string, error)
	Update(id string, s imagecache.Spec) error
	Delete(id string) error
	Get(id string) (imagecache.Cache, error)
	List() []imagecache.Cache
	SetTags(id string, tags []api.Tag) error
	Match(images []string, snapshotID string, auto bool) (imagecache.Cache, []string, bool, error)
}

var _ ImageCaches = (*imagecache.Manager)(nil)

// Codes of the image cache actions (leci's choices where ECI's are not
// documented: InvalidImageCache.NotFound as InvalidContainerGroup.NotFound).
const (
	CodeCacheNotFound          = "InvalidImageCache.NotFound"
	CodeCacheQuotaExceeded     = "QuotaExceeded.ImageCache"
	CodeSnapshotNotFound       = "ImageSnapshot.NotFound"
	CodeSnapshotIncorrectState = "ImageSnapshot.IncorrectStatus"
)

// cacheError translates the manager's errors for the cache id.
func cacheError(err error, id string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, imagecache.ErrNotFound):
		return &api.Error{Code: CodeCacheNotFound, Status: http.StatusNotFound, Field: "ImageCacheId",
			Message: fmt.Sprintf("the image cache %s does not exist", id)}
	case errors.Is(err, imagecache.ErrQuota):
		return &api.Error{Code: CodeCacheQuotaExceeded, Status: http.StatusForbidden,
			Message: fmt.Sprintf("image cache quota exceeded: at most %d caches", imagecache.MaxCaches)}
	case errors.Is(err, imagecache.ErrNameTaken):
		return invalidParameter("ImageCacheName", "%v", err)
	}
	return err
}

func (s *Server) caches(action string) (ImageCaches, error) {
	if s.opts.Caches == nil {
		return nil, unsupported(action, "this leci was started without an image store to keep caches in")
	}
	return s.opts.Caches, nil
}

// ---------------------------------------------------------------------------
// CreateImageCache, UpdateImageCache, DeleteImageCache

func (s *Server) createImageCache(c *call) (any, error) {
	caches, err := s.caches("CreateImageCache")
	if err != nil {
		return nil, err
	}
	var req api.CreateImageCacheRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if err := checkCacheTags(req.Tag); err != nil {
		return nil, err
	}
	id, err := caches.Create(imagecache.Spec{
		Name: req.ImageCacheName, Images: req.Image, Credentials: req.ImageRegistryCredential,
		PlainHTTP: req.PlainHTTPRegistry, Insecure: req.InsecureRegistry, Tags: req.Tag,
		RetentionDays: req.RetentionDays, Elimination: req.EliminationStrategy,
		RegionID: regionOf(req.RegionID), ResourceGroup: req.ResourceGroupID,
	}, req.ClientToken)
	if err != nil {
		return nil, cacheError(err, "")
	}
	return api.CreateImageCacheResponse{RequestID: c.requestID, ImageCacheID: id, ContainerGroupID: id}, nil
}

func checkCacheTags(tags []api.Tag) error {
	if len(tags) > api.MaxTagsPerResource {
		return invalidParameter("Tag", "holds %d tags, at most %d are allowed", len(tags), api.MaxTagsPerResource)
	}
	for i, t := range tags {
		if err := checkTag(fmt.Sprintf("Tag.%d.Key", i+1), t.Key, api.MaxTagKeyLen, true); err != nil {
			return err
		}
		if err := checkTag(fmt.Sprintf("Tag.%d.Value", i+1), t.Value, api.MaxTagValueLen, false); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) updateImageCache(c *call) (any, error) {
	caches, err := s.caches("UpdateImageCache")
	if err != nil {
		return nil, err
	}
	var req api.UpdateImageCacheRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if req.ImageCacheID == "" {
		return nil, missingParameter("ImageCacheId")
	}
	if err := checkCacheTags(req.Tag); err != nil {
		return nil, err
	}
	err = caches.Update(req.ImageCacheID, imagecache.Spec{
		Name: req.ImageCacheName, Images: req.Image, Credentials: req.ImageRegistryCredential, Tags: req.Tag,
		RetentionDays: req.RetentionDays, Elimination: req.EliminationStrategy,
		RegionID: req.RegionID, ResourceGroup: req.ResourceGroupID,
	})
	if err != nil {
		return nil, cacheError(err, req.ImageCacheID)
	}
	return api.ResponseMeta{RequestID: c.requestID}, nil
}

func (s *Server) deleteImageCache(c *call) (any, error) {
	caches, err := s.caches("DeleteImageCache")
	if err != nil {
		return nil, err
	}
	var req api.DeleteImageCacheRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if req.ImageCacheID == "" {
		return nil, missingParameter("ImageCacheId")
	}
	if err := caches.Delete(req.ImageCacheID); err != nil {
		return nil, cacheError(err, req.ImageCacheID)
	}
	return api.ResponseMeta{RequestID: c.requestID}, nil
}

// ---------------------------------------------------------------------------
// DescribeImageCaches

// Page sizes of DescribeImageCaches, as ECI documents them.
const (
	cachesLimitDefault = 10
	cachesLimitMax     = 100
)

func (s *Server) describeImageCaches(c *call) (any, error) {
	caches, err := s.caches("DescribeImageCaches")
	if err != nil {
		return nil, err
	}
	var req api.DescribeImageCachesRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	limit, err := pageLimit(req.Limit, cachesLimitDefault, cachesLimitMax)
	if err != nil {
		return nil, err
	}
	images := req.MatchImage
	if req.Image != "" {
		images = append(images, req.Image)
	}
	var selected []imagecache.Cache
	for _, ca := range caches.List() {
		switch {
		case req.ImageCacheID != "" && ca.ID != req.ImageCacheID,
			req.ImageCacheName != "" && ca.Name != req.ImageCacheName,
			req.SnapshotID != "" && ca.SnapshotID != req.SnapshotID,
			req.ResourceGroupID != "" && ca.ResourceGroup != req.ResourceGroupID,
			!hasTags(ca.Tags, req.Tag),
			!holdsImages(ca, images, req.ImageFullMatch):
			continue
		}
		selected = append(selected, ca)
	}
	pg, next, err := offsetPage(selected, req.NextToken, limit)
	if err != nil {
		return nil, err
	}
	resp := api.DescribeImageCachesResponse{RequestID: c.requestID, TotalCount: len(selected), NextToken: next}
	now := s.opts.Now()
	for _, ca := range pg {
		resp.ImageCaches = append(resp.ImageCaches, cacheDetail(&ca, now))
	}
	return resp, nil
}

// holdsImages tells whether a cache holds the images asked for: every one
// with full, any one without; a name matches its repository with any tag
// unless it gives a tag itself.
func holdsImages(c imagecache.Cache, images []string, full bool) bool {
	if len(images) == 0 {
		return true
	}
	holds := func(img string) bool {
		return slices.ContainsFunc(c.Images, func(have string) bool {
			return have == img || (!strings.Contains(img, ":") && strings.HasPrefix(have, img+":"))
		}) || slices.Contains(c.Refs, img)
	}
	if full {
		return !slices.ContainsFunc(images, func(img string) bool { return !holds(img) })
	}
	return slices.ContainsFunc(images, holds)
}

func cacheDetail(c *imagecache.Cache, now time.Time) api.ImageCacheDetail {
	d := api.ImageCacheDetail{
		ImageCacheID: c.ID, ImageCacheName: c.Name, SnapshotID: c.SnapshotID, ContainerGroupID: c.ID,
		Status: c.StatusAt(now), Progress: c.Progress(), Images: c.Images, RegionID: c.RegionID,
		ResourceGroupID: c.ResourceGroup, CreationTime: timeText(c.CreatedAt), ExpireDateTime: timeText(c.ExpireAt()),
		LastMatchedTime: timeText(c.LastMatched), EliminationStrategy: c.Elimination,
	}
	for _, t := range c.Tags {
		d.Tags = append(d.Tags, api.TagDetail{Key: t.Key, Value: t.Value})
	}
	for _, e := range c.Events {
		d.Events = append(d.Events, api.ImageCacheEvent{
			Count: e.Count, Type: e.Type, Name: c.ID, Reason: e.Reason, Message: e.Message,
			FirstTimestamp: timeText(e.First), LastTimestamp: timeText(e.Last),
		})
	}
	return d
}

// ---------------------------------------------------------------------------
// CreateContainerGroup with AutoMatchImageCache or ImageSnapshotId

// ReasonHitImageCache is the event of a group created on an image cache.
const ReasonHitImageCache = "SuccessfulHitImageCache"

// matchCache finds the cache a create request uses and makes its images
// IfNotPresent. It returns the cache's id, "" when none is used.
func (s *Server) matchCache(req *api.CreateContainerGroupRequest) (string, error) {
	if req.ImageSnapshotID == "" && !req.AutoMatchImageCache {
		return "", nil
	}
	if s.opts.Caches == nil {
		if req.ImageSnapshotID != "" {
			return "", &api.Error{Code: CodeSnapshotNotFound, Status: http.StatusNotFound, Field: "ImageSnapshotId",
				Message: "this leci keeps no image caches"}
		}
		return "", nil
	}
	var images []string
	for _, ctr := range req.InitContainer {
		images = append(images, ctr.Image)
	}
	for _, ctr := range req.Container {
		images = append(images, ctr.Image)
	}
	c, hits, ok, err := s.opts.Caches.Match(images, req.ImageSnapshotID, req.AutoMatchImageCache)
	switch {
	case errors.Is(err, imagecache.ErrNotFound):
		return "", &api.Error{Code: CodeSnapshotNotFound, Status: http.StatusNotFound, Field: "ImageSnapshotId",
			Message: fmt.Sprintf("the image cache %s does not exist", req.ImageSnapshotID)}
	case errors.Is(err, imagecache.ErrNotReady):
		return "", &api.Error{Code: CodeSnapshotIncorrectState, Status: http.StatusBadRequest, Field: "ImageSnapshotId",
			Message: err.Error()}
	case err != nil:
		return "", err
	case !ok:
		return "", nil
	}
	for i := range req.InitContainer {
		if slices.Contains(hits, req.InitContainer[i].Image) {
			req.InitContainer[i].ImagePullPolicy = api.PullIfNotPresent
		}
	}
	for i := range req.Container {
		if slices.Contains(hits, req.Container[i].Image) {
			req.Container[i].ImagePullPolicy = api.PullIfNotPresent
		}
	}
	return c.ID, nil
}

// Eventer is implemented by a Groups that can record an event of a group
// (*runtime.Engine).
type Eventer interface {
	AddEvent(id, typ, reason, message string) error
}

func (s *Server) noteCacheHit(groupID, cacheID string) {
	if cacheID == "" {
		return
	}
	if ev, ok := s.opts.Groups.(Eventer); ok {
		if err := ev.AddEvent(groupID, "Normal", ReasonHitImageCache, "Successfully hit image cache "+cacheID); err != nil {
			s.log.Warn("record image cache hit", "group", groupID, "err", err)
		}
	}
}
