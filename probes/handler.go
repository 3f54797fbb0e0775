package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"leci/api"
)

// RunHandler runs a PostStart or PreStop hook once against t, bounded by
// ctx (the engine gives PreStop what is left of the grace period), and
// returns its output, at most maxOutput bytes, for events. HTTP and TCP
// hooks go to h's Host, or the group's address when it is empty, always
// from inside the group's namespace. An HTTP hook's output is its status
// line and body; its status is not judged, as in the kubelet.
func RunHandler(ctx context.Context, ex Execer, h *api.Handler, t Target, maxOutput int) (string, error) {
	switch {
	case h == nil:
		return "", nil
	case len(h.Exec) > 0:
		if t.ContainerID == "" || ex == nil {
			return "", errors.New("exec hook: no container to exec in")
		}
		res, err := ex.Exec(ctx, t.ContainerID, h.Exec, maxOutput)
		out := cleanOutput(res.Output)
		if err != nil {
			return out, fmt.Errorf("exec hook: %w", err)
		}
		if res.ExitCode != 0 {
			return out, fmt.Errorf("exec hook exited with code %d", res.ExitCode)
		}
		return out, nil
	case h.HTTPGet != nil:
		host := h.HTTPGet.Host
		if host == "" {
			host = t.IP
		}
		if host == "" {
			return "", errors.New("HTTP hook: group has no address")
		}
		resp, err := httpGet(ctx, t.NetNSPath, getRequest{
			Scheme:  h.HTTPGet.Scheme,
			Host:    host,
			Port:    h.HTTPGet.Port,
			Path:    h.HTTPGet.Path,
			Headers: h.HTTPGet.HTTPHeader,
		}, max(maxOutput, 0))
		if err != nil {
			return "", fmt.Errorf("HTTP hook: %w", err)
		}
		out := resp.StatusLine
		if body := cleanOutput(resp.Body); body != "" {
			out += "\n" + body
		}
		return bound(out, maxOutput), nil
	case h.TCPSocket != nil:
		host := h.TCPSocket.Host
		if host == "" {
			host = t.IP
		}
		if host == "" {
			return "", errors.New("TCP hook: group has no address")
		}
		addr := net.JoinHostPort(host, strconv.Itoa(h.TCPSocket.Port))
		conn, err := dial(ctx, t.NetNSPath, addr)
		if err != nil {
			return "", fmt.Errorf("TCP hook: %w", err)
		}
		conn.Close()
		return "", nil
	}
	return "", nil
}

// bound cuts s to at most n bytes.
func bound(s string, n int) string {
	if n >= 0 && len(s) > n {
		return s[:n]
	}
	return s
}
