// Package imagecache keeps leci's image caches: named, tagged sets of
// images pulled into the container runtime's image store with the
// credentials given, with a status, a progress, events and an expiry. A
// group created with AutoMatchImageCache or ImageSnapshotId uses the images
// of the cache it matches as they are (pull policy IfNotPresent).
//
// Caches are kept in the daemon's store, so they outlive the daemon; a
// pull a stopped daemon left unfinished is taken up again by the next.
// Deleting a cache forgets it but leaves its images in the image store,
// where groups may be using them.
package imagecache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"leci/api"
	"leci/internal/ids"
	"leci/pod"
	"leci/runtime"
)

// Errors of the manager; the server answers them with ECI's codes.
var (
	ErrNotFound  = errors.New("image cache not found")
	ErrQuota     = errors.New("image cache quota exceeded")
	ErrNotReady  = errors.New("image cache is not ready")
	ErrNameTaken = errors.New("image cache name already used")
)

// Limits, as ECI documents them.
const (
	MaxCaches      = 50 // caches leci keeps
	MaxImages      = 20 // images of one cache
	MaxNameLen     = 128
	MinNameLen     = 2
	maxCacheEvents = 50
)

// Store keeps documents by kind and id: *store.Store.
type Store interface {
	PutDoc(kind, id string, doc json.RawMessage) error
	ListDocs(kind string) ([]json.RawMessage, error)
	DeleteDoc(kind, id string) error
}

// Puller makes an image present in the image store: the engine's backend.
type Puller interface {
	EnsureImage(ctx context.Context, ref, policy string, auth pod.ImageAuth) error
}

// docKind is the store's kind of the caches' documents.
const docKind = "imagecaches"

// Event is one event of a cache.
type Event struct {
	Type, Reason, Message string
	Count                 int
	First, Last           time.Time
}

// Cache is one image cache.
type Cache struct {
	ID         string
	Name       string
	SnapshotID string
	Images     []string
	// Refs are Images normalized (docker.io/library/busybox:latest), what
	// a group's images are matched against.
	Refs []string
	// Credentials are the registry logins of the pulls; the passwords are
	// kept (the store is root's alone) and never described.
	Credentials   []api.ImageRegistryCredential
	PlainHTTP     string
	Insecure      string
	Status        string
	Pulled        int // images pulled so far
	Tags          []api.Tag
	Events        []Event
	RegionID      string
	ResourceGroup string
	Elimination   string
	RetentionDays int
	CreatedAt     time.Time
	LastMatched   time.Time
	// Auto marks a cache made by AutoMatchImageCache, not by the user;
	// leci makes none, so it is always false.
	Auto bool
	// Generation counts the updates: a pull of an older generation that
	// ends late records nothing.
	Generation int
}

// ExpireAt is when the cache expires; zero for never (RetentionDays 0).
func (c *Cache) ExpireAt() time.Time {
	if c.RetentionDays <= 0 {
		return time.Time{}
	}
	return c.CreatedAt.AddDate(0, 0, c.RetentionDays)
}

// StatusAt is the cache's status at now: Expired once past its expiry.
func (c *Cache) StatusAt(now time.Time) string {
	if e := c.ExpireAt(); !e.IsZero() && now.After(e) {
		return api.CacheExpired
	}
	return c.Status
}

// Progress is how much of the cache is pulled, as ECI writes it ("50%").
func (c *Cache) Progress() string {
	if len(c.Images) == 0 {
		return "0%"
	}
	return fmt.Sprintf("%d%%", c.Pulled*100/len(c.Images))
}

func (c *Cache) event(now time.Time, typ, reason, msg string) {
	for i := range c.Events {
		e := &c.Events[i]
		if e.Type == typ && e.Reason == reason && e.Message == msg {
			e.Count++
			e.Last = now
			return
		}
	}
	if len(c.Events) >= maxCacheEvents {
		c.Events = c.Events[1:]
	}
	c.Events = append(c.Events, Event{Type: typ, Reason: reason, Message: msg, Count: 1, First: now, Last: now})
}

func (c *Cache) clone() Cache {
	out := *c
	out.Images = slices.Clone(c.Images)
	out.Refs = slices.Clone(c.Refs)
	out.Credentials = slices.Clone(c.Credentials)
	out.Tags = slices.Clone(c.Tags)
	out.Events = slices.Clone(c.Events)
	return out
}

// Options configure a Manager.
type Options struct {
	Store  Store
	Puller Puller
	// Normalize turns an image name into the reference the image store
	// keys it by; names that do not parse are refused.
	Normalize func(string) (string, error)
	Log       *slog.Logger
	Now       func() time.Time
}

// Manager keeps the caches. Its methods are safe for concurrent use.
type Manager struct {
	opts Options
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup

	mu     sync.Mutex
	caches map[string]*Cache
	tokens map[string]string // ClientToken → cache id, for this daemon's life
}

// Open loads the caches kept in the store and takes up the pulls a
// stopped daemon left unfinished.
func Open(opts Options) (*Manager, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Normalize == nil {
		opts.Normalize = func(s string) (string, error) { return s, nil }
	}
	m := &Manager{opts: opts, log: opts.Log, caches: map[string]*Cache{}, tokens: map[string]string{}}
	m.ctx, m.stop = context.WithCancel(context.Background())
	docs, err := opts.Store.ListDocs(docKind)
	if err != nil {
		return nil, fmt.Errorf("read image caches: %w", err)
	}
	for _, d := range docs {
		var c Cache
		if err := json.Unmarshal(d, &c); err != nil {
			m.log.Warn("unreadable image cache record", "err", err)
			continue
		}
		m.caches[c.ID] = &c
		if c.Status == api.CacheCreating || c.Status == api.CacheUpdating {
			m.pullAll(c.ID, c.Generation)
		}
	}
	return m, nil
}

// Close stops the pulls under way; the next Open takes them up.
func (m *Manager) Close() {
	m.stop()
	m.wg.Wait()
}

// Spec is what a cache is made of: CreateImageCache's and
// UpdateImageCache's parameters.
type Spec struct {
	Name          string
	Images        []string
	Credentials   []api.ImageRegistryCredential
	PlainHTTP     string
	Insecure      string
	Tags          []api.Tag
	RetentionDays int
	Elimination   string
	RegionID      string
	ResourceGroup string
}

// check validates a spec and returns its images normalized.
func (m *Manager) check(s *Spec) ([]string, error) {
	var errs api.Errors
	switch n := len([]rune(s.Name)); {
	case n == 0:
		errs = append(errs, &api.Error{Code: api.CodeMissingParameter, Status: 400, Field: "ImageCacheName", Message: "is required"})
	case n < MinNameLen || n > MaxNameLen:
		errs = append(errs, invalid("ImageCacheName", "must be %d to %d characters long, got %d", MinNameLen, MaxNameLen, n))
	}
	switch {
	case len(s.Images) == 0:
		errs = append(errs, &api.Error{Code: api.CodeMissingParameter, Status: 400, Field: "Image", Message: "is required"})
	case len(s.Images) > MaxImages:
		errs = append(errs, invalid("Image", "holds %d images, at most %d are allowed", len(s.Images), MaxImages))
	}
	if s.RetentionDays < 0 {
		errs = append(errs, invalid("RetentionDays", "must be 0 (never expire) or more, got %d", s.RetentionDays))
	}
	switch s.Elimination {
	case "", "LRU":
	default:
		errs = append(errs, invalid("EliminationStrategy", "must be LRU, got %q", s.Elimination))
	}
	var refs []string
	for i, img := range s.Images {
		ref, err := m.opts.Normalize(img)
		if err != nil {
			errs = append(errs, invalid(fmt.Sprintf("Image.%d", i+1), "%q is not an image reference: %v", img, err))
			continue
		}
		if slices.Contains(refs, ref) {
			errs = append(errs, invalid(fmt.Sprintf("Image.%d", i+1), "%q is given twice", img))
			continue
		}
		refs = append(refs, ref)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return refs, nil
}

func invalid(field, format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeInvalidParameter, Status: 400, Field: field, Message: fmt.Sprintf(format, args...)}
}

// Create records a cache and starts pulling its images; it returns the
// cache's id at once, the cache being Creating until the pulls are done.
// A ClientToken seen before returns the cache it made.
func (m *Manager) Create(s Spec, clientToken string) (string, error) {
	refs, err := m.check(&s)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if id, ok := m.tokens[clientToken]; ok && clientToken != "" {
		return id, nil
	}
	if len(m.caches) >= MaxCaches {
		return "", fmt.Errorf("%d caches: %w", len(m.caches), ErrQuota)
	}
	for _, c := range m.caches {
		if c.Name == s.Name {
			return "", fmt.Errorf("%s is %s: %w", s.Name, c.ID, ErrNameTaken)
		}
	}
	suffix, err := ids.Suffix()
	if err != nil {
		return "", err
	}
	now := m.opts.Now()
	c := &Cache{
		ID: "imc-" + suffix, SnapshotID: "s-" + suffix, Status: api.CacheCreating, CreatedAt: now,
	}
	apply(c, s, refs)
	c.event(now, "Normal", "Creating", "Creating the image cache: pulling "+strings.Join(c.Images, ", "))
	if err := m.save(c); err != nil {
		return "", err
	}
	m.caches[c.ID] = c
	if clientToken != "" {
		m.tokens[clientToken] = c.ID
	}
	m.pullAll(c.ID, c.Generation)
	return c.ID, nil
}

func apply(c *Cache, s Spec, refs []string) {
	c.Name, c.Images, c.Refs, c.Credentials = s.Name, s.Images, refs, s.Credentials
	c.PlainHTTP, c.Insecure, c.Tags, c.RetentionDays = s.PlainHTTP, s.Insecure, s.Tags, s.RetentionDays
	c.Elimination, c.RegionID, c.ResourceGroup = s.Elimination, s.RegionID, s.ResourceGroup
	if c.Elimination == "" {
		c.Elimination = "LRU"
	}
}

// Update replaces what a cache is made of with s (fields left zero keep
// what the cache had) and pulls its images again.
func (m *Manager) Update(id string, s Spec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.caches[id]
	if !ok {
		return fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if s.Name == "" {
		s.Name = c.Name
	}
	if len(s.Images) == 0 {
		s.Images = c.Images
	}
	if s.Credentials == nil {
		s.Credentials = c.Credentials
	}
	if s.Tags == nil {
		s.Tags = c.Tags
	}
	if s.RetentionDays == 0 {
		s.RetentionDays = c.RetentionDays
	}
	if s.Elimination == "" {
		s.Elimination = c.Elimination
	}
	if s.RegionID == "" {
		s.RegionID = c.RegionID
	}
	if s.ResourceGroup == "" {
		s.ResourceGroup = c.ResourceGroup
	}
	s.PlainHTTP, s.Insecure = c.PlainHTTP, c.Insecure
	refs, err := m.check(&s)
	if err != nil {
		return err
	}
	for _, o := range m.caches {
		if o.ID != id && o.Name == s.Name {
			return fmt.Errorf("%s is %s: %w", s.Name, o.ID, ErrNameTaken)
		}
	}
	next := c.clone()
	apply(&next, s, refs)
	next.Status, next.Pulled = api.CacheUpdating, 0
	next.Generation++
	next.event(m.opts.Now(), "Normal", "Updating", "Updating the image cache: pulling "+strings.Join(next.Images, ", "))
	if err := m.save(&next); err != nil {
		return err
	}
	*c = next
	m.pullAll(id, c.Generation)
	return nil
}

// Delete forgets a cache; its images stay in the image store.
func (m *Manager) Delete(id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.caches[id]; !ok {
		return fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	if err := m.opts.Store.DeleteDoc(docKind, id); err != nil {
		return fmt.Errorf("delete image cache %s: %w", id, err)
	}
	delete(m.caches, id)
	for tok, cid := range m.tokens {
		if cid == id {
			delete(m.tokens, tok)
		}
	}
	return nil
}

// Get returns a copy of a cache.
func (m *Manager) Get(id string) (Cache, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.caches[id]
	if !ok {
		return Cache{}, fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	return c.clone(), nil
}

// List returns a copy of every cache, newest first.
func (m *Manager) List() []Cache {
	m.mu.Lock()
	out := make([]Cache, 0, len(m.caches))
	for _, c := range m.caches {
		out = append(out, c.clone())
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Cache) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// SetTags replaces a cache's tags.
func (m *Manager) SetTags(id string, tags []api.Tag) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.caches[id]
	if !ok {
		return fmt.Errorf("%s: %w", id, ErrNotFound)
	}
	next := c.clone()
	next.Tags = slices.Clone(tags)
	if err := m.save(&next); err != nil {
		return err
	}
	*c = next
	return nil
}

// Match finds the cache a group created with images uses: the cache whose
// SnapshotID or ID is snapshotID when one is given (it must be Ready), else
// with auto the Ready, unexpired cache that holds the most of the images
// (the newest among equals). It returns the cache and the images (as the
// group names them) found in it; ok is false when auto found none.
func (m *Manager) Match(images []string, snapshotID string, auto bool) (c Cache, hits []string, ok bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.opts.Now()
	contains := func(c *Cache) []string {
		var out []string
		for _, img := range images {
			if ref, err := m.opts.Normalize(img); err == nil && slices.Contains(c.Refs, ref) {
				out = append(out, img)
			}
		}
		return out
	}
	var best *Cache
	var bestHits []string
	if snapshotID != "" {
		for _, c := range m.caches {
			if c.SnapshotID == snapshotID || c.ID == snapshotID {
				best = c
			}
		}
		if best == nil {
			return Cache{}, nil, false, fmt.Errorf("%s: %w", snapshotID, ErrNotFound)
		}
		if st := best.StatusAt(now); st != api.CacheReady {
			return Cache{}, nil, false, fmt.Errorf("%s is %s: %w", snapshotID, st, ErrNotReady)
		}
		bestHits = contains(best)
	} else if auto {
		for _, c := range m.caches {
			if c.StatusAt(now) != api.CacheReady {
				continue
			}
			h := contains(c)
			if len(h) == 0 {
				continue
			}
			if best == nil || len(h) > len(bestHits) || (len(h) == len(bestHits) && c.CreatedAt.After(best.CreatedAt)) {
				best, bestHits = c, h
			}
		}
	}
	if best == nil {
		return Cache{}, nil, false, nil
	}
	next := best.clone()
	next.LastMatched = now
	if err := m.save(&next); err != nil {
		m.log.Warn("record an image cache's match", "cache", best.ID, "err", err)
	} else {
		*best = next
	}
	return best.clone(), bestHits, true, nil
}

// pullAll pulls a cache's images in the background, one after another,
// recording the progress; generation is the cache's at the start.
func (m *Manager) pullAll(id string, generation int) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		c, err := m.Get(id)
		if err != nil {
			return
		}
		auth := runtime.ImageAuthOf(&api.CreateContainerGroupRequest{
			ImageRegistryCredential: c.Credentials, PlainHTTPRegistry: c.PlainHTTP, InsecureRegistry: c.Insecure,
		})
		var failed []string
		for i, img := range c.Images {
			m.record(id, generation, func(c *Cache) {
				c.event(m.opts.Now(), "Normal", "Pulling", "Pulling image "+img)
			})
			err := m.opts.Puller.EnsureImage(m.ctx, c.Refs[i], api.PullIfNotPresent, auth)
			if m.ctx.Err() != nil {
				return // the daemon stops; the next one pulls again
			}
			m.record(id, generation, func(c *Cache) {
				if err != nil {
					failed = append(failed, img)
					c.event(m.opts.Now(), "Warning", "Failed", fmt.Sprintf("Failed to pull image %s: %v", img, err))
					return
				}
				c.Pulled++
				c.event(m.opts.Now(), "Normal", "Pulled", "Image "+img+" is present")
			})
		}
		m.record(id, generation, func(c *Cache) {
			now := m.opts.Now()
			switch {
			case len(failed) == 0:
				c.Status = api.CacheReady
				c.event(now, "Normal", "Ready", "The image cache is ready")
			case c.Status == api.CacheUpdating:
				c.Status = api.CacheUpdateFailed
				c.event(now, "Warning", "UpdateFailed", "Not pulled: "+strings.Join(failed, ", "))
			default:
				c.Status = api.CacheFailed
				c.event(now, "Warning", "CreateFailed", "Not pulled: "+strings.Join(failed, ", "))
			}
		})
	}()
}

// record changes a cache and saves it, unless the cache is gone or was
// updated since generation.
func (m *Manager) record(id string, generation int, fn func(*Cache)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.caches[id]
	if !ok || c.Generation != generation {
		return
	}
	next := c.clone()
	fn(&next)
	if err := m.save(&next); err != nil {
		m.log.Warn("record image cache", "cache", id, "err", err)
	}
	*c = next
}

func (m *Manager) save(c *Cache) error {
	doc, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode image cache: %w", err)
	}
	if err := m.opts.Store.PutDoc(docKind, c.ID, doc); err != nil {
		return fmt.Errorf("record image cache %s: %w", c.ID, err)
	}
	return nil
}
