package server

import (
	"context"
	"fmt"
	"net/http"

	"leci/api"
	"leci/pod"
)

// AttachContainer is leci's own action (kubectl attach, docker attach):
// it answers, as ExecContainerCommand without Sync does, the WebSocketUri
// of a session on the same protocol (see exec_ws.go), which attaches to
// the container's own process rather than starting a command: the
// container's stdout and stderr from then on, line by line, and with
// Stdin=true the client's input to the container's stdin, which the
// container keeps open (Stdin); with StdinOnce it is closed when that
// first attach ends. Leaving the session leaves the container running; a
// session ends with the container's exit code once its run ends.
//
// Parameters: ContainerGroupId, ContainerName (default the first app
// container), Stdin (default false).
const ActionAttachContainer = "AttachContainer"

// AttachContainerRequest is the request of AttachContainer.
type AttachContainerRequest struct {
	RegionID         string `json:"RegionId,omitempty"`
	ContainerGroupID string `json:"ContainerGroupId,omitempty"`
	ContainerName    string `json:"ContainerName,omitempty"`
	Stdin            bool   `json:"Stdin,omitempty"`
}

// attacher is the engine's Attach (runtime.Engine.Attach).
type attacher interface {
	Attach(ctx context.Context, id, container string, aio pod.ExecIO) (int, error)
}

func (s *Server) attachContainer(c *call) (any, error) {
	var req AttachContainerRequest
	if err := decode(c.params, &req); err != nil {
		return nil, err
	}
	if _, ok := s.opts.Groups.(attacher); !ok {
		return nil, NotImplemented(ActionAttachContainer)
	}
	st, err := s.group(req.ContainerGroupID)
	if err != nil {
		return nil, err
	}
	ctr, err := container(st, req.ContainerName)
	if err != nil {
		return nil, err
	}
	if ctr.Init {
		return nil, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: "ContainerName",
			Message: "an init container cannot be attached to: attach to an app container"}
	}
	if req.Stdin && st.Request != nil {
		for _, spec := range st.Request.Container {
			if spec.Name == ctr.Name && !spec.Stdin {
				return nil, &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: "Stdin",
					Message: fmt.Sprintf("container %s has no stdin to attach to: its Stdin is false", ctr.Name)}
			}
		}
	}
	if err := s.available(c.ctx); err != nil {
		return nil, err
	}
	return s.newExecSession(c, st.ID, ctr, execSession{attach: true, stdin: req.Stdin})
}
