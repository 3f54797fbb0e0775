package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/docker/docker/pkg/jsonmessage"

	"leci/api"
	"leci/internal/pullprogress"
	"leci/server"
)

// createShowingPulls sends the create to the daemon's streaming variant
// (server.CreateStreamPath), hands its answer to created as soon as it
// comes, then draws the group's pulls on w, as `leci image pull` does
// (bars on a terminal, lines otherwise), until they end. A stream cut
// short is no failure of the create: what --wait reads next says how the
// group goes.
func (c *apiClient) createShowingPulls(ctx context.Context, params url.Values, w io.Writer, created func(api.CreateContainerGroupResponse) error) error {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("Action", "CreateContainerGroup")
	q.Set("Version", server.APIVersion)
	body, err := c.streamWith(ctx, http.MethodPost, server.CreateStreamPath, q)
	if err != nil {
		return err
	}
	defer body.Close()
	dec := json.NewDecoder(body)
	var first jsonmessage.JSONMessage
	if err := dec.Decode(&first); err != nil {
		return fmt.Errorf("CreateContainerGroup: read the answer: %w", err)
	}
	var resp api.CreateContainerGroupResponse
	if first.Aux == nil || json.Unmarshal(*first.Aux, &resp) != nil || resp.ContainerGroupID == "" {
		return errors.New("CreateContainerGroup: the answer names no group")
	}
	if err := created(resp); err != nil {
		return err
	}
	display := pullprogress.NewDisplay(w)
	defer display.Close()
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			return nil
		}
		display.Message(m)
	}
}
