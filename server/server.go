package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"leci/api"
	"leci/internal/hostcap"
	"leci/pod"
	"leci/runtime"
	"leci/store"
)

// Groups is the group engine as the server uses it; *runtime.Engine provides
// all of it but Restart.
type Groups interface {
	// Create starts a group for a normalized request and returns its id at
	// once; the group comes up asynchronously.
	Create(ctx context.Context, req *api.CreateContainerGroupRequest) (string, error)
	// Get returns a group's status, or an error wrapping runtime.ErrNotFound.
	Get(id string) (runtime.GroupStatus, error)
	// List returns the status of every group.
	List() []runtime.GroupStatus
	// Delete stops and removes a group; it may take the group's grace period.
	Delete(ctx context.Context, id string) error
	// Restart restarts every container of a group (RestartContainerGroup).
	// An implementation that cannot may return an *api.Error such as
	// NotImplemented(...), which is answered as it is.
	Restart(ctx context.Context, id string) error
	// Exec runs cmd in a running container and returns its output, cut at
	// maxOutput bytes. runtime.ErrNotRunning is answered IncorrectStatus.
	Exec(ctx context.Context, id, container string, cmd []string, maxOutput int) (pod.ExecResult, error)
	// ExecAttach runs an interactive command in a running container,
	// attached to eio, and returns its exit code (the WebSocket session of
	// ExecContainerCommand without Sync). Errors are Exec's.
	ExecAttach(ctx context.Context, id, container string, eio pod.ExecIO) (int, error)
	// Metrics returns a group's usage, one record per period between start
	// and end (a zero end is now, a zero start 5 minutes before end):
	// DescribeContainerGroupMetric's Records.
	Metrics(ctx context.Context, id string, start, end time.Time, period time.Duration) ([]api.MetricRecord, error)
}

// ClientTokens keeps the ClientToken of each create; *store.Store provides it.
type ClientTokens interface {
	// ClientToken returns the group and request hash of a token, or an error
	// wrapping store.ErrNotFound.
	ClientToken(token string) (groupID, requestHash string, err error)
	// ClaimClientToken records a token; see store.Store.ClaimClientToken.
	ClaimClientToken(token, requestHash, groupID string) (string, error)
}

var _ ClientTokens = (*store.Store)(nil)

// Options configure a Server.
type Options struct {
	Groups Groups
	Tokens ClientTokens
	// Root is leci's root directory, where DescribeContainerLog reads the
	// log files (runtime.LogPath).
	Root string
	// AccessKeys maps AccessKey ids to their secrets. Requests that do not
	// come through a unix socket must be signed with one of them.
	AccessKeys map[string]string
	// Check, when set, refuses a valid create request this host cannot
	// honour (it runs after Normalize, before DryRun is answered).
	Check func(*api.CreateContainerGroupRequest) error
	// HostID is the HostId of error answers; default "leci".
	HostID string
	Log    *slog.Logger
	// Now is the server's clock (signed times, SinceSeconds); time.Now by default.
	Now func() time.Time
	// MaxBodyBytes bounds a request body; default 1 MiB.
	MaxBodyBytes int64
	// ActionTimeout bounds each action (an exec included); default 60 s.
	ActionTimeout time.Duration
	// DeleteTimeout bounds a background deletion; default 10 minutes.
	DeleteTimeout time.Duration
	// Capacity reads what the host has for ListUsage and
	// DescribeAvailableResource; hostcap.Read by default.
	Capacity func() hostcap.Capacity
	// Caches keeps the image caches; nil answers their actions as
	// unsupported.
	Caches ImageCaches
	// Commits commits containers to images; nil answers CommitContainer
	// as unsupported.
	Commits Commits
	// MaxNonces bounds the signature nonces remembered per AccessKey
	// (each for 2*MaxClockSkew); default 100000, some 25 MB per key at
	// most.
	MaxNonces int
}

// Defaults of Options.
const (
	DefaultMaxBodyBytes  = 1 << 20
	DefaultActionTimeout = 60 * time.Second
	DefaultDeleteTimeout = 10 * time.Minute
	DefaultMaxNonces     = 100000
	// MaxExecOutput bounds the SyncResponse of ExecContainerCommand.
	MaxExecOutput = api.LogLimitBytesMax
)

// APIVersion is the only Version leci serves.
const APIVersion = "2018-08-08"

// Server is the ECI API as an http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	auth    *authenticator
	actions map[string]handler
	metrics *apiMetrics

	tokenMu sync.Mutex // serializes creates that carry a ClientToken

	// Background deletions: one per group at a time.
	delMu    sync.Mutex
	deleting map[string]bool
	delWG    sync.WaitGroup
	delCtx   context.Context
	delStop  context.CancelFunc

	execs execSessions // interactive exec sessions not yet attached
}

// New returns a server on opts.Groups and opts.Tokens.
func New(opts Options) (*Server, error) {
	if opts.Groups == nil || opts.Tokens == nil {
		return nil, errors.New("server: Groups and Tokens are required")
	}
	if opts.HostID == "" {
		opts.HostID = "leci"
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.ActionTimeout <= 0 {
		opts.ActionTimeout = DefaultActionTimeout
	}
	if opts.DeleteTimeout <= 0 {
		opts.DeleteTimeout = DefaultDeleteTimeout
	}
	if opts.Capacity == nil {
		opts.Capacity = hostcap.Read
	}
	if opts.MaxNonces <= 0 {
		opts.MaxNonces = DefaultMaxNonces
	}
	keys := make(map[string]string, len(opts.AccessKeys))
	for id, secret := range opts.AccessKeys {
		if id == "" || secret == "" {
			return nil, errors.New("server: an AccessKey needs an id and a secret")
		}
		keys[id] = secret
	}
	s := &Server{
		opts:     opts,
		log:      opts.Log,
		auth:     &authenticator{keys: keys, now: opts.Now, nonces: newNonceCache(opts.MaxNonces, 2*MaxClockSkew)},
		deleting: map[string]bool{},
		metrics:  newAPIMetrics(),
	}
	s.delCtx, s.delStop = context.WithCancel(context.Background())
	s.actions = map[string]handler{
		"CreateContainerGroup":         s.createContainerGroup,
		"DescribeContainerGroups":      s.describeContainerGroups,
		"DescribeContainerGroupStatus": s.describeContainerGroupStatus,
		"DeleteContainerGroup":         s.deleteContainerGroup,
		"RestartContainerGroup":        s.restartContainerGroup,
		"DescribeContainerLog":         s.describeContainerLog,
		"ExecContainerCommand":         s.execContainerCommand,
		"DescribeContainerGroupEvents": s.describeContainerGroupEvents,
		"DescribeContainerGroupMetric": s.describeContainerGroupMetric,
	}
	s.addActions()
	return s, nil
}

// Close waits for the background deletions until ctx is done, then cancels
// those still running. The deletions' errors have been logged.
func (s *Server) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { s.delWG.Wait(); close(done) }()
	select {
	case <-done:
		s.delStop()
		return nil
	case <-ctx.Done():
		s.delStop()
		<-done
		return ctx.Err()
	}
}

// call is one request being answered.
type call struct {
	ctx       context.Context
	requestID string
	params    url.Values
	// host is the request's Host, and tls whether it came over TLS: where
	// the URLs an answer gives (WebSocketUri) point.
	host string
	tls  bool
}

type handler func(c *call) (any, error)

// ServeHTTP answers one API request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == MetricsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		s.serveSignedMetrics(w, r)
		return
	}
	if strings.HasPrefix(r.URL.Path, ExecPathPrefix) {
		s.serveExec(w, r)
		return
	}
	if r.URL.Path == LogStreamPath {
		s.serveLogStream(w, r)
		return
	}
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("x-acs-request-id", reqID)
	action, status, err := s.serve(w, r, reqID)
	if err != nil {
		status = s.writeError(w, r, reqID, err)
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	took := time.Since(start)
	_, known := s.actions[action]
	s.metrics.observe(action, known, status, took)
	attrs := []any{"request", reqID, "action", action, "status", status, "duration", took}
	if err != nil {
		attrs = append(attrs, "err", err)
	}
	s.log.Log(r.Context(), level, "api request", attrs...)
}

// serve authenticates, decodes and runs one request and writes its answer;
// an error is left for ServeHTTP to write.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, reqID string) (action string, status int, err error) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		return "", 0, &api.Error{Code: "UnsupportedHTTPMethod", Status: http.StatusMethodNotAllowed,
			Message: fmt.Sprintf("method %s is not supported; use POST or GET", r.Method)}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", 0, &api.Error{Code: "RequestTooLarge", Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("the request body is larger than %d bytes", s.opts.MaxBodyBytes)}
		}
		return "", 0, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Message: "cannot read the request body: " + err.Error()}
	}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return "", 0, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Message: "the query string is malformed: " + err.Error()}
	}
	form, err := parseForm(r.Header.Get("Content-Type"), body)
	if err != nil {
		return "", 0, err
	}
	if !fromUnixSocket(r) {
		if err := s.auth.verify(r, query, form, body); err != nil {
			return "", 0, err
		}
	}
	params := url.Values{}
	for _, vs := range []url.Values{query, form} {
		for k, v := range vs {
			params[k] = append(params[k], v...)
		}
	}
	action, err = actionOf(r, params)
	if err != nil {
		return action, 0, err
	}
	if path := r.URL.Path; path == CreateStreamPath && action == "CreateContainerGroup" {
		status, err := s.serveCreateStream(w, r, &call{ctx: r.Context(), requestID: reqID, params: params, host: r.Host, tls: r.TLS != nil})
		return action, status, err
	} else if path != "/" && path != "" {
		return action, 0, unknownAction(action + " at " + path)
	}
	h, ok := s.actions[action]
	if !ok {
		if why, known := unsupportedActions[action]; known {
			return action, 0, unsupported(action, why)
		}
		return action, 0, unknownAction(action)
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.ActionTimeout)
	defer cancel()
	resp, err := h(&call{ctx: ctx, requestID: reqID, params: params, host: r.Host, tls: r.TLS != nil})
	if err != nil {
		return action, 0, err
	}
	return action, http.StatusOK, writeJSON(w, http.StatusOK, resp)
}

func unknownAction(what string) error {
	return &api.Error{Code: "InvalidAction.NotFound", Status: http.StatusNotFound,
		Message: fmt.Sprintf("the specified action %s is not found; check the Action and the URL", what)}
}

// parseForm reads a form-encoded body; an empty body is no parameters.
func parseForm(contentType string, body []byte) (url.Values, error) {
	if len(body) == 0 {
		return url.Values{}, nil
	}
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest,
				Message: fmt.Sprintf("a request body must be application/x-www-form-urlencoded, got %q", contentType)}
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Message: "the form body is malformed: " + err.Error()}
	}
	return form, nil
}

// fromUnixSocket reports whether the request came through a unix socket
// listener. A request whose listener is unknown is not trusted.
func fromUnixSocket(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	return ok && addr != nil && (addr.Network() == "unix" || addr.Network() == "unixpacket")
}

// actionOf reads Action from the parameters, else from x-acs-action, and
// checks Version.
func actionOf(r *http.Request, params url.Values) (string, error) {
	action := params.Get("Action")
	if h := r.Header.Get("x-acs-action"); h != "" {
		if action != "" && action != h {
			return action, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: "Action",
				Message: fmt.Sprintf("is %q but the x-acs-action header says %q", action, h)}
		}
		action = h
	}
	if action == "" {
		return "", &api.Error{Code: api.CodeMissingParameter, Status: http.StatusBadRequest, Field: "Action",
			Message: "is required (as a parameter or the x-acs-action header)"}
	}
	version := params.Get("Version")
	if version == "" {
		version = r.Header.Get("x-acs-version")
	}
	if version != "" && version != APIVersion {
		return action, &api.Error{Code: "InvalidVersion", Status: http.StatusBadRequest, Field: "Version",
			Message: fmt.Sprintf("%q is not served; leci serves ECI %s", version, APIVersion)}
	}
	return action, nil
}

// writeJSON writes v as the answer.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	// A failed write means the client went away: nothing more can be said.
	_, _ = w.Write(data)
	return nil
}

// writeError writes err as ECI writes errors and returns the HTTP status.
// It is the one place errors become answers: internal errors are translated
// (toAPI), then flattened by api.AsErrors.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, reqID string, err error) int {
	es := api.AsErrors(toAPI(err))
	first := es[0]
	status := first.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Text()
		if i > 0 && e.Code != first.Code {
			msgs[i] = e.Code + ": " + msgs[i]
		}
	}
	body := api.ErrorResponse{
		RequestID: reqID,
		HostID:    s.opts.HostID,
		Code:      first.Code,
		Message:   strings.Join(msgs, "; "),
		Recommend: recommend(first.Code),
	}
	if werr := writeJSON(w, status, body); werr != nil {
		s.log.Warn("write error answer", "request", reqID, "err", werr)
	}
	return status
}

// recommend is the Recommend of an error answer: where to look.
func recommend(code string) string {
	switch {
	case strings.HasPrefix(code, "Signature"), code == "IncompleteSignature",
		strings.HasPrefix(code, "InvalidTimeStamp"), strings.HasPrefix(code, "InvalidAccessKeyId"):
		return "Sign the request with an AccessKey configured on the leci daemon (--access-key-file, LECI_ACCESS_KEY or accessKeys), with a clock within 15 minutes of the host's and a new SignatureNonce each time."
	case code == "InvalidAction.NotFound", code == "NotImplemented":
		return "leci serves the actions of ECI 2018-08-08 that mean something on one host; the README's table of actions says which and why."
	case strings.HasSuffix(code, ".NotSupport"):
		return "See the README's table of actions: what leci serves, and why the rest cannot be served on one host."
	}
	return ""
}

// Errors of the API that are not validation errors.
const (
	CodeGroupNotFound     = "InvalidContainerGroup.NotFound"
	CodeContainerNotFound = "InvalidContainerName.NotFound"
	CodeTokenMismatch     = "IdempotentParameterMismatch"
	CodeNotImplemented    = "NotImplemented"
)

// NotImplemented is the error of a feature leci does not have yet.
func NotImplemented(what string) error {
	return &api.Error{Code: CodeNotImplemented, Status: http.StatusNotImplemented, Message: what + " is not implemented by leci yet"}
}

// toAPI translates the engine's and the store's errors into API errors.
func toAPI(err error) error {
	var ae *api.Error
	var aes api.Errors
	switch {
	case errors.As(err, &aes), errors.As(err, &ae):
		return err
	case errors.Is(err, runtime.ErrNotRunning):
		return &api.Error{Code: api.ErrIncorrectStatus.Code, Status: http.StatusBadRequest, Message: err.Error()}
	case errors.Is(err, runtime.ErrNotFound):
		return &api.Error{Code: CodeGroupNotFound, Status: http.StatusNotFound, Message: err.Error()}
	case errors.Is(err, pod.ErrUnavailable):
		return &api.Error{Code: CodeServiceUnavailable, Status: http.StatusServiceUnavailable, Message: err.Error()}
	case errors.Is(err, store.ErrClientTokenMismatch):
		return &api.Error{Code: CodeTokenMismatch, Status: http.StatusBadRequest, Field: "ClientToken",
			Message: "was already used with different parameters"}
	case errors.Is(err, context.DeadlineExceeded):
		return &api.Error{Code: "Timeout", Status: http.StatusGatewayTimeout, Message: err.Error()}
	}
	return err
}

// newRequestID makes an id shaped as Alibaba Cloud's: an upper-case UUID.
func newRequestID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "00000000-0000-0000-0000-000000000000"
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := strings.ToUpper(hex.EncodeToString(b[:]))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
