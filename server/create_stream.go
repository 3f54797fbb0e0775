package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"

	"leci/internal/pullprogress"
)

// CreateStreamPath is leci's own variant of CreateContainerGroup, what
// `leci create --wait` sends: the same request (POST, signed as any API
// request over TCP, Action=CreateContainerGroup), answered as Docker's
// daemon answers a pull, by a stream of JSON messages (jsonmessage), one
// per line:
//
//	{"aux":{"RequestId":"…","ContainerGroupId":"eci-…"}}   the create's answer
//	{"id":"0123456789ab","status":"Downloading","progressDetail":{…}}
//	…                                                       the group's pulls
//
// The stream ends when the first pulls of the group's images have ended,
// however they ended (the group's events say how), or at once when the
// request made no group (a ClientToken seen before). A create that fails
// is answered as the action's error, with its HTTP status.
//
// Only a create sent here has its pulls followed: one through the ECI API
// runs no progress machinery at all.
const CreateStreamPath = "/leci/create"

// createStreamFlush is how often the messages written are sent: the rate
// at which docker and nerdctl redraw their bars.
const createStreamFlush = 100 * time.Millisecond

// serveCreateStream creates the group of c's request with a pull feed
// (pullprogress.Feed) and streams the feed until it closes or the client
// goes away; the pulls never wait for the client. It returns the HTTP
// status, or the create's error, which nothing has been written for.
func (s *Server) serveCreateStream(w http.ResponseWriter, r *http.Request, c *call) (int, error) {
	feed := pullprogress.NewFeed()
	ctx, cancel := context.WithTimeout(pullprogress.WithFeed(c.ctx, feed), s.opts.ActionTimeout)
	c.ctx = ctx
	resp, err := s.createContainerGroup(c)
	cancel()
	if !feed.Taken() {
		// No group was made (an error, a ClientToken seen before): no
		// pull will show anything, nor close the feed.
		feed.Close()
	}
	if err != nil {
		return 0, err
	}
	answer, err := json.Marshal(resp)
	if err != nil {
		return 0, fmt.Errorf("encode response: %w", err)
	}
	aux := json.RawMessage(answer)
	// Pulls last as long as they last.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	if err := enc.Encode(jsonmessage.JSONMessage{Aux: &aux}); err != nil {
		return http.StatusOK, nil
	}
	flush := http.NewResponseController(w).Flush
	if err := flush(); err != nil {
		return http.StatusOK, nil
	}
	err = feed.Follow(r.Context(), func(ms []jsonmessage.JSONMessage) error {
		for _, m := range ms {
			if err := enc.Encode(m); err != nil {
				return err
			}
		}
		if err := flush(); err != nil {
			return err
		}
		// Batches come no faster than a display redraws: the feed
		// keeps each layer's latest state meanwhile.
		select {
		case <-time.After(createStreamFlush):
			return nil
		case <-r.Context().Done():
			return r.Context().Err()
		}
	})
	if err != nil {
		s.log.Debug("pull progress stream ended early", "request", c.requestID, "err", err)
	}
	return http.StatusOK, nil
}
