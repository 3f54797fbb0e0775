package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"leci/api"
	"leci/runtime"
	"leci/store"
)

// Updater is implemented by a Groups that can update a group in place
// (*runtime.Engine): UpdateContainerGroup.
type Updater interface {
	// Update changes the group to the normalized request req; see
	// runtime.Engine.Update.
	Update(ctx context.Context, id string, req *api.CreateContainerGroupRequest) error
}

var _ Updater = (*runtime.Engine)(nil)

// updateTokenPrefix keeps the ClientTokens of updates apart from those of
// creates in the token store.
const updateTokenPrefix = "update/"

func (s *Server) updateContainerGroup(c *call) (any, error) {
	up, ok := s.opts.Groups.(Updater)
	if !ok {
		return nil, unsupported("UpdateContainerGroup", "this leci's engine cannot update groups in place")
	}
	var req api.UpdateContainerGroupRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	next, err := req.Apply(st.Request)
	if err != nil {
		return nil, err
	}
	if err := next.Normalize(); err != nil {
		return nil, err
	}
	if len(req.Tag) > 0 {
		if err := checkCacheTags(next.Tag); err != nil {
			return nil, err
		}
	}
	if s.opts.Check != nil && !req.TagsOnly() {
		if err := s.opts.Check(next); err != nil {
			return nil, err
		}
	}
	resp := api.UpdateContainerGroupResponse{RequestID: c.requestID}
	if req.ClientToken != "" {
		s.tokenMu.Lock()
		defer s.tokenMu.Unlock()
		hash, err := requestHash(next)
		if err != nil {
			return nil, err
		}
		token := updateTokenPrefix + req.ClientToken
		id, seen, err := s.opts.Tokens.ClientToken(token)
		switch {
		case err == nil && seen == hash && id == st.ID:
			return resp, nil // done before
		case err == nil:
			return nil, fmt.Errorf("client token of an update of %s: %w", id, store.ErrClientTokenMismatch)
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
		if err := s.update(c.ctx, up, st.ID, next); err != nil {
			return nil, err
		}
		if _, err := s.opts.Tokens.ClaimClientToken(token, hash, st.ID); err != nil {
			s.log.Warn("record client token", "group", st.ID, "err", err)
		}
		return resp, nil
	}
	if err := s.update(c.ctx, up, st.ID, next); err != nil {
		return nil, err
	}
	return resp, nil
}

func (s *Server) update(ctx context.Context, up Updater, id string, req *api.CreateContainerGroupRequest) error {
	err := up.Update(context.WithoutCancel(ctx), id, req)
	switch {
	case errors.Is(err, runtime.ErrBusy), errors.Is(err, runtime.ErrExpired):
		return &api.Error{Code: api.ErrIncorrectStatus.Code, Status: http.StatusBadRequest, Message: err.Error()}
	case errors.Is(err, runtime.ErrCannotResize):
		return &api.Error{Code: "Cpu.NotSupport", Status: http.StatusBadRequest, Field: "Cpu", Message: err.Error()}
	}
	return err
}
