package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"leci/api"
	"leci/logs"
	"leci/runtime"
	"leci/store"
)

// ownerParameters are sent by the SDKs with any action; only
// CreateContainerGroup declares them in its request.
var ownerParameters = []string{"OwnerId", "OwnerAccount", "ResourceOwnerId", "ResourceOwnerAccount"}

// decode decodes the parameters of an action other than CreateContainerGroup,
// leaving out the owner parameters its request type does not hold.
func decode(params url.Values, out any) error {
	values := make(url.Values, len(params))
	for k, v := range params {
		if !slices.Contains(ownerParameters, k) {
			values[k] = v
		}
	}
	return api.DecodeValues(values, out)
}

func missingParameter(field string) error {
	return &api.Error{Code: api.CodeMissingParameter, Status: http.StatusBadRequest, Field: field, Message: "is required"}
}

func invalidParameter(field, format string, args ...any) error {
	return &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
}

// group returns the status of the group a request names.
func (s *Server) group(id string) (runtime.GroupStatus, error) {
	if id == "" {
		return runtime.GroupStatus{}, missingParameter("ContainerGroupId")
	}
	st, err := s.opts.Groups.Get(id)
	if errors.Is(err, runtime.ErrNotFound) {
		return st, &api.Error{Code: CodeGroupNotFound, Status: http.StatusNotFound, Field: "ContainerGroupId",
			Message: fmt.Sprintf("the container group %s does not exist", id)}
	}
	return st, err
}

// container finds a container of a group by name; "" is the first app
// container.
func container(st runtime.GroupStatus, name string) (runtime.ContainerStatus, error) {
	if name == "" && len(st.Containers) > 0 {
		return st.Containers[0], nil
	}
	for _, c := range append(append([]runtime.ContainerStatus(nil), st.Containers...), st.InitContainers...) {
		if c.Name == name {
			return c, nil
		}
	}
	return runtime.ContainerStatus{}, &api.Error{Code: CodeContainerNotFound, Status: http.StatusNotFound, Field: "ContainerName",
		Message: fmt.Sprintf("the container group %s has no container %q", st.ID, name)}
}

// ---------------------------------------------------------------------------
// CreateContainerGroup

func (s *Server) createContainerGroup(c *call) (any, error) {
	var req api.CreateContainerGroupRequest
	if err := api.DecodeValues(c.params, &req); err != nil {
		return nil, err
	}
	if err := req.Normalize(); err != nil {
		return nil, err
	}
	if s.opts.Check != nil {
		if err := s.opts.Check(&req); err != nil {
			return nil, err
		}
	}
	cacheID, err := s.matchCache(&req)
	if err != nil {
		return nil, err
	}
	if req.DryRun {
		return nil, api.ErrDryRunOperation
	}
	// The group outlives the request that made it.
	ctx := context.WithoutCancel(c.ctx)
	var id string
	if req.ClientToken == "" {
		id, err = s.opts.Groups.Create(ctx, &req)
	} else {
		id, err = s.createOnce(ctx, &req)
	}
	if err != nil {
		return nil, err
	}
	s.noteCacheHit(id, cacheID)
	return api.CreateContainerGroupResponse{RequestID: c.requestID, ContainerGroupID: id}, nil
}

// createOnce creates the group of a request with a ClientToken, or returns
// the group the token made before. Creates with tokens are serialized, so two
// concurrent requests with one token make one group.
func (s *Server) createOnce(ctx context.Context, req *api.CreateContainerGroupRequest) (string, error) {
	hash, err := requestHash(req)
	if err != nil {
		return "", err
	}
	s.tokenMu.Lock()
	defer s.tokenMu.Unlock()
	id, seenHash, err := s.opts.Tokens.ClientToken(req.ClientToken)
	switch {
	case err == nil && seenHash == hash:
		return id, nil
	case err == nil:
		return "", fmt.Errorf("client token of group %s: %w", id, store.ErrClientTokenMismatch)
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	id, err = s.opts.Groups.Create(ctx, req)
	if err != nil {
		return "", err
	}
	claimed, err := s.opts.Tokens.ClaimClientToken(req.ClientToken, hash, id)
	if err != nil {
		// The group exists and runs; only its token is not remembered.
		s.log.Warn("record client token", "group", id, "err", err)
		return id, nil
	}
	return claimed, nil
}

// requestHash identifies a request's parameters for ClientToken checks: the
// SHA-256 of the normalized request without its ClientToken and DryRun, so
// that an omitted default and the default given explicitly hash alike.
func requestHash(req *api.CreateContainerGroupRequest) (string, error) {
	r := *req
	r.ClientToken, r.DryRun = "", false
	data, err := json.Marshal(&r)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// ---------------------------------------------------------------------------
// DeleteContainerGroup, RestartContainerGroup

func (s *Server) deleteContainerGroup(c *call) (any, error) {
	var req api.DeleteContainerGroupRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if _, err := s.group(req.ContainerGroupID); err != nil {
		return nil, err
	}
	// The deletion runs after the answer: a runtime out of reach is told
	// now, not found out later in the background.
	if err := s.available(c.ctx); err != nil {
		return nil, err
	}
	s.deleteInBackground(req.ContainerGroupID)
	return api.DeleteContainerGroupResponse{RequestID: c.requestID}, nil
}

// deleteInBackground deletes a group after the answer, as ECI does: the
// group shows Terminating until it is gone. A group already being deleted is
// left to the deletion under way.
func (s *Server) deleteInBackground(id string) {
	s.delMu.Lock()
	defer s.delMu.Unlock()
	if s.deleting[id] {
		return
	}
	s.deleting[id] = true
	s.delWG.Add(1)
	go func() {
		defer s.delWG.Done()
		ctx, cancel := context.WithTimeout(s.delCtx, s.opts.DeleteTimeout)
		defer cancel()
		if err := s.opts.Groups.Delete(ctx, id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			s.log.Error("delete container group", "group", id, "err", err)
		}
		s.delMu.Lock()
		delete(s.deleting, id)
		s.delMu.Unlock()
	}()
}

func (s *Server) restartContainerGroup(c *call) (any, error) {
	var req api.RestartContainerGroupRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	if st.Phase == api.GroupUpdating {
		return nil, &api.Error{Code: api.ErrIncorrectStatus.Code, Status: http.StatusBadRequest,
			Message: fmt.Sprintf("the container group %s is being updated", st.ID)}
	}
	if err := s.opts.Groups.Restart(c.ctx, req.ContainerGroupID); err != nil {
		return nil, err
	}
	return api.RestartContainerGroupResponse{RequestID: c.requestID}, nil
}

// ---------------------------------------------------------------------------
// DescribeContainerLog

func (s *Server) describeContainerLog(c *call) (any, error) {
	var req api.DescribeContainerLogRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	ctr, err := container(st, req.ContainerName)
	if err != nil {
		return nil, err
	}
	opts, err := logOptions(req, s.opts.Now())
	if err != nil {
		return nil, err
	}
	resp := api.DescribeContainerLogResponse{RequestID: c.requestID, ContainerName: ctr.Name}
	attempt := ctr.Attempt
	if req.LastTime {
		attempt--
	}
	if attempt < 1 {
		return resp, nil // no such instance (yet): no log
	}
	lines, err := logs.Read(runtime.LogPath(s.opts.Root, st.ID, ctr.Name, attempt), opts)
	if errors.Is(err, fs.ErrNotExist) {
		return resp, nil
	}
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(logs.Format(l, req.Timestamps))
	}
	resp.Content = cut(b.String(), int(opts.LimitBytes))
	return resp, nil
}

// logOptions turns the request's selectors into logs.ReadOptions.
func logOptions(req api.DescribeContainerLogRequest, now time.Time) (logs.ReadOptions, error) {
	var opts logs.ReadOptions
	tail, err := req.TailLines()
	if err != nil {
		return opts, invalidParameter("Tail", "%v", err)
	}
	opts.Tail = tail
	if tail == 0 {
		opts.Tail = -1 // Tail=0 asks for no lines; logs reads 0 as all.
	}
	switch {
	case req.SinceSeconds < 0:
		return opts, invalidParameter("SinceSeconds", "must be 0 or more, got %d", req.SinceSeconds)
	case req.SinceSeconds > 0:
		opts.Since = now.Add(-time.Duration(req.SinceSeconds) * time.Second)
	}
	if req.StartTime != "" {
		t, err := time.Parse(time.RFC3339, req.StartTime)
		if err != nil {
			return opts, invalidParameter("StartTime", "must be an RFC 3339 time such as 2019-03-12T01:00:00Z, got %q", req.StartTime)
		}
		if t.After(opts.Since) {
			opts.Since = t
		}
	}
	switch {
	case req.LimitBytes < 0:
		return opts, invalidParameter("LimitBytes", "must be 0 or more, got %d", req.LimitBytes)
	case req.LimitBytes == 0 || req.LimitBytes > api.LogLimitBytesMax:
		opts.LimitBytes = api.LogLimitBytesMax
	default:
		opts.LimitBytes = req.LimitBytes
	}
	return opts, nil
}

// cut shortens s to at most n bytes without splitting a character.
func cut(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// ---------------------------------------------------------------------------
// ExecContainerCommand

func (s *Server) execContainerCommand(c *call) (any, error) {
	var req api.ExecContainerCommandRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	args, err := req.Args()
	if err != nil {
		if req.Command == "" {
			return nil, missingParameter("Command")
		}
		return nil, invalidParameter("Command", "%v", err)
	}
	if req.Sync && req.TTY {
		return nil, invalidParameter("TTY", "must be false with Sync=true")
	}
	env, err := req.EnvVars()
	if err != nil {
		return nil, invalidParameter("Env", "%v", err)
	}
	for name, set := range map[string]bool{"Env": len(env) > 0, "WorkingDir": req.WorkingDir != "", "User": req.User != ""} {
		if set && req.Sync {
			return nil, invalidParameter(name, "is for an interactive session: not with Sync=true")
		}
	}
	ctr, err := container(st, req.ContainerName)
	if err != nil {
		return nil, err
	}
	if !req.Sync {
		// No session is handed out that could only fail when attached.
		if err := s.available(c.ctx); err != nil {
			return nil, err
		}
		return s.newExecSession(c, st.ID, ctr, execSession{cmd: args, stdin: req.StdinEnabled(), tty: req.TTY,
			env: env, workingDir: req.WorkingDir, user: req.User})
	}
	res, err := s.opts.Groups.Exec(c.ctx, st.ID, ctr.Name, args, MaxExecOutput)
	if err != nil {
		return nil, err
	}
	return api.ExecContainerCommandResponse{RequestID: c.requestID, SyncResponse: string(res.Output)}, nil
}

// ---------------------------------------------------------------------------
// DescribeContainerGroupMetric

func (s *Server) describeContainerGroupMetric(c *call) (any, error) {
	var req api.DescribeContainerGroupMetricRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	start, err := metricTime("StartTime", req.StartTime)
	if err != nil {
		return nil, err
	}
	end, err := metricTime("EndTime", req.EndTime)
	if err != nil {
		return nil, err
	}
	// A Period ECI does not offer is refused even where it would be
	// ignored: without StartTime and EndTime, ECI answers the last 5
	// minutes at 15 s.
	period, err := req.PeriodSeconds()
	if err != nil {
		return nil, invalidParameter("Period", "%v", err)
	}
	if start.IsZero() && end.IsZero() {
		period = metricPeriodWithoutRange
	}
	if until := end; !start.IsZero() {
		if until.IsZero() {
			until = time.Now()
		}
		if start.After(until) {
			return nil, invalidParameter("StartTime", "%s is after EndTime %s", req.StartTime, until.Format(time.RFC3339))
		}
	}
	records, err := s.opts.Groups.Metrics(c.ctx, st.ID, start, end, time.Duration(period)*time.Second)
	if err != nil {
		return nil, err
	}
	return api.DescribeContainerGroupMetricResponse{RequestID: c.requestID, ContainerGroupID: st.ID, Records: records}, nil
}

// metricPeriodWithoutRange is the Period, in seconds, of a
// DescribeContainerGroupMetric without StartTime and EndTime.
const metricPeriodWithoutRange = 15

// metricTime parses StartTime or EndTime (RFC 3339); "" is the zero time,
// which Groups.Metrics takes for its default.
func metricTime(field, value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, value)
	if err != nil {
		return time.Time{}, invalidParameter(field, "must be an RFC 3339 time such as 2019-03-12T01:00:00.000Z, got %q", value)
	}
	return t, nil
}
