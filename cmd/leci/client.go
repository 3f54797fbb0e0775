package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"leci/api"
	"leci/server"
)

// clientOptions say where the daemon is, and g where the foreground runs
// are (their root).
type clientOptions struct {
	host string
	g    *globalOptions
}

// The environment the client commands read.
const (
	envHost      = "LECI_HOST"       // the daemon's address, as --host
	envAccessKey = "LECI_ACCESS_KEY" // ID:SECRET, to sign requests to a tcp:// daemon
)

// apiClient sends ECI API requests to a leci daemon: over its unix socket
// unsigned, over TCP signed (v1) with LECI_ACCESS_KEY.
type apiClient struct {
	http   *http.Client
	base   string
	akID   string
	secret string
}

// client connects to the daemon named by --host, LECI_HOST or the default.
func (o *clientOptions) client() (*apiClient, error) {
	addr := o.host
	if addr == "" {
		addr = os.Getenv(envHost)
	}
	if addr == "" {
		addr = defaultListen
	}
	a, err := parseListen(addr)
	if err != nil {
		return nil, usageErrorf("daemon address %q: want unix:///PATH or tcp://HOST:PORT", addr)
	}
	c := unixClient(a.address)
	switch a.network {
	case "tcp":
		c.http.Transport = nil
		c.base = "http://" + a.address
		key := os.Getenv(envAccessKey)
		id, secret, ok := strings.Cut(key, ":")
		if !ok || id == "" || secret == "" {
			return nil, usageErrorf("a tcp:// daemon needs signed requests: set %s=ID:SECRET", envAccessKey)
		}
		c.akID, c.secret = id, secret
	}
	return c, nil
}

// noDaemonError is a request that got no answer.
type noDaemonError struct{ err error }

func (e *noDaemonError) Error() string {
	return fmt.Sprintf("cannot reach the leci daemon (is `leci daemon` running? --host or %s say where): %v", envHost, e.err)
}

func (e *noDaemonError) Unwrap() error { return e.err }

func noDaemon(err error) error { return &noDaemonError{err} }

// unixClient talks to the API served on a unix socket.
func unixClient(path string) *apiClient {
	return &apiClient{
		http: &http.Client{Timeout: server.DefaultActionTimeout + 30*time.Second,
			Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, "unix", path)
			}}},
		base: "http://leci",
	}
}

// clients are the daemon's client and, unless --host or LECI_HOST name
// the daemon, those of the foreground runs (leci run) on --root: where
// the commands that read groups look.
func (o *clientOptions) clients() ([]*apiClient, error) {
	c, err := o.client()
	if err != nil {
		return nil, err
	}
	cs := []*apiClient{c}
	if o.host == "" && os.Getenv(envHost) == "" && o.g != nil {
		for _, sock := range runSockets(o.g.root) {
			cs = append(cs, unixClient(sock))
		}
	}
	return cs, nil
}

// listGroups pages through DescribeContainerGroups on the daemon and the
// foreground runs; one that does not answer is left out, unless none does.
func (o *clientOptions) listGroups(ctx context.Context, params url.Values) ([]api.ContainerGroupDetail, error) {
	cs, err := o.clients()
	if err != nil {
		return nil, err
	}
	var all []api.ContainerGroupDetail
	var firstErr error
	answered := false
	for _, c := range cs {
		groups, err := c.describeGroups(ctx, params)
		var nd *noDaemonError
		switch {
		case errors.As(err, &nd):
			if firstErr == nil {
				firstErr = err
			}
			continue
		case err != nil:
			return nil, err
		}
		answered = true
		all = append(all, groups...)
	}
	if !answered {
		return nil, firstErr
	}
	return all, nil
}

// apiError is an error answer of the daemon.
type apiError struct {
	status int
	resp   api.ErrorResponse
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s: %s (request %s)", e.resp.Code, e.resp.Message, e.resp.RequestID)
}

// call sends an action with its parameters as the SDKs do (POST, every
// parameter in the query) and decodes the answer into out.
func (c *apiClient) call(ctx context.Context, action string, params url.Values, out any) error {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("Action", action)
	q.Set("Version", server.APIVersion)
	if c.akID != "" {
		server.SignV1(http.MethodPost, q, c.akID, c.secret, time.Now(), "")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return noDaemon(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", action, err)
	}
	if res.StatusCode != http.StatusOK {
		ae := &apiError{status: res.StatusCode}
		if json.Unmarshal(body, &ae.resp) != nil || ae.resp.Code == "" {
			return fmt.Errorf("%s: HTTP %d: %s", action, res.StatusCode, bytes.TrimSpace(body))
		}
		return ae
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", action, err)
	}
	return nil
}

// describeGroups pages through DescribeContainerGroups.
func (c *apiClient) describeGroups(ctx context.Context, params url.Values) ([]api.ContainerGroupDetail, error) {
	var out []api.ContainerGroupDetail
	token := ""
	for {
		p := url.Values{}
		for k, v := range params {
			p[k] = v
		}
		p.Set("Limit", fmt.Sprint(api.DescribeGroupsLimitMax))
		if token != "" {
			p.Set("NextToken", token)
		}
		var resp api.DescribeContainerGroupsResponse
		if err := c.call(ctx, "DescribeContainerGroups", p, &resp); err != nil {
			return nil, err
		}
		out = append(out, resp.ContainerGroups...)
		if token = resp.NextToken; token == "" || len(resp.ContainerGroups) == 0 {
			return out, nil
		}
	}
}

// clientFor finds the group arg names, on the daemon or a foreground run
// (see clients), and the client that has it: what every per-group command
// starts with.
func (o *clientOptions) clientFor(ctx context.Context, arg string) (*apiClient, api.ContainerGroupDetail, error) {
	cs, err := o.clients()
	if err != nil {
		return nil, api.ContainerGroupDetail{}, err
	}
	var found error
	for _, c := range cs {
		g, err := c.resolve(ctx, arg)
		if err == nil {
			return c, g, nil
		}
		// The most telling error: one from an API that answered.
		var nd *noDaemonError
		if found == nil || (!errors.As(err, &nd) && errors.As(found, &nd)) {
			found = err
		}
	}
	return nil, api.ContainerGroupDetail{}, found
}

// checkOutput refuses an --output value the command does not print.
func checkOutput(output string, formats ...string) error {
	if slices.Contains(formats, output) {
		return nil
	}
	return usageErrorf("unknown --output %q: want %s", output, strings.Join(formats, " or "))
}

// resolve finds the group an argument names: its id, else its
// ContainerGroupName when exactly one group has it.
func (c *apiClient) resolve(ctx context.Context, arg string) (api.ContainerGroupDetail, error) {
	ids, _ := json.Marshal([]string{arg})
	groups, err := c.describeGroups(ctx, url.Values{"ContainerGroupIds": {string(ids)}})
	if err != nil {
		return api.ContainerGroupDetail{}, err
	}
	if len(groups) == 1 {
		return groups[0], nil
	}
	groups, err = c.describeGroups(ctx, url.Values{"ContainerGroupName": {arg}})
	if err != nil {
		return api.ContainerGroupDetail{}, err
	}
	switch len(groups) {
	case 0:
		return api.ContainerGroupDetail{}, fmt.Errorf("no container group has the id or name %q", arg)
	case 1:
		return groups[0], nil
	}
	var names []string
	for _, g := range groups {
		names = append(names, g.ContainerGroupID)
	}
	return api.ContainerGroupDetail{}, fmt.Errorf("%d container groups are named %q (%s): give an id", len(groups), arg, strings.Join(names, ", "))
}
