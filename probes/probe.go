package probes

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"leci/api"
	"leci/pod"
)

// Execer runs a command in a running container and waits for it, at most
// until ctx is done (then the command is killed and ctx's error returned).
// Output keeps at most maxOutput bytes. The engine passes its backend.
type Execer interface {
	Exec(ctx context.Context, containerID string, cmd []string, maxOutput int) (pod.ExecResult, error)
}

// Target is where a probe or hook acts.
type Target struct {
	// ContainerID is the backend's container, for Exec.
	ContainerID string
	// NetNSPath is the group's network namespace, which every HTTP and TCP
	// connection is opened from. Empty means the caller's own namespace:
	// only tests may leave it empty, since from there a probe could reach
	// the host's loopback.
	NetNSPath string
	// IP is the group's address, the default host of HTTP and TCP actions.
	IP string
	// StartedAt is when the container started; the initial delay of a
	// Manager's worker counts from it, so a worker started again for a
	// container already running (after a daemon restart) does not wait the
	// whole delay again. Zero means when the worker starts.
	StartedAt time.Time
}

// Result is what a probe found.
type Result int

const (
	// Unknown: the probe could not run. Not a failure.
	Unknown Result = iota
	Success
	Failure
)

func (r Result) String() string {
	switch r {
	case Success:
		return "Success"
	case Failure:
		return "Failure"
	}
	return "Unknown"
}

const (
	// maxOutput bounds what is kept of an exec probe's output and of an
	// HTTP body, as the kubelet does (10 KiB).
	maxOutput = 10 << 10
	// maxRedirects is how many same-host redirects an HTTP probe follows.
	maxRedirects = 5
	// userAgent is sent unless a hook sets its own.
	userAgent = "leci-probe/1.0"
)

// Run performs probe p once against t, within p.TimeoutSeconds, and returns
// its result and a message for events (the failure's reason, or a note).
func Run(ctx context.Context, ex Execer, p *api.Probe, t Target) (Result, string) {
	if p == nil {
		return Unknown, "no probe"
	}
	return run(ctx, ex, p, t, seconds(p.TimeoutSeconds, api.DefaultProbeTimeoutSeconds))
}

// run is Run with the timeout as a duration, so that tests need not wait
// whole seconds.
func run(ctx context.Context, ex Execer, p *api.Probe, t Target, timeout time.Duration) (Result, string) {
	if p == nil {
		return Unknown, "no probe"
	}
	switch {
	case p.Exec != nil:
		return runExec(ctx, ex, p.Exec.Command, t, timeout)
	case p.HTTPGet != nil:
		return runHTTP(ctx, p.HTTPGet, t, timeout)
	case p.TCPSocket != nil:
		return runTCP(ctx, p.TCPSocket.Port, t, timeout)
	}
	return Unknown, "probe has no action"
}

func runExec(ctx context.Context, ex Execer, cmd []string, t Target, timeout time.Duration) (Result, string) {
	if t.ContainerID == "" || ex == nil {
		return Unknown, "no container to exec in"
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := ex.Exec(tctx, t.ContainerID, cmd, maxOutput)
	if err != nil {
		// The exec was killed by our timeout and not because the caller
		// gave up: the command is too slow, which is the container's
		// fault, as the kubelet judges it.
		if errors.Is(tctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			msg := fmt.Sprintf("command timed out after %s", timeout)
			if out := cleanOutput(res.Output); out != "" {
				msg += ": " + out
			}
			return Failure, msg
		}
		return Unknown, fmt.Sprintf("exec probe could not run: %v", err)
	}
	out := cleanOutput(res.Output)
	if res.ExitCode != 0 {
		if out == "" {
			return Failure, fmt.Sprintf("command exited with code %d", res.ExitCode)
		}
		return Failure, fmt.Sprintf("command exited with code %d: %s", res.ExitCode, out)
	}
	return Success, out
}

func runHTTP(ctx context.Context, g *api.ProbeHTTPGet, t Target, timeout time.Duration) (Result, string) {
	if t.IP == "" {
		return Unknown, "group has no address"
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := httpGet(tctx, t.NetNSPath, getRequest{
		Scheme: g.Scheme,
		Host:   t.IP,
		Port:   g.Port,
		Path:   g.Path,
	}, maxOutput)
	if err != nil {
		var setup *setupError
		if errors.As(err, &setup) || ctx.Err() != nil {
			return Unknown, fmt.Sprintf("HTTP probe could not run: %v", err)
		}
		return Failure, fmt.Sprintf("HTTP probe failed: %v", err)
	}
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		return Success, ""
	case resp.Status >= 300 && resp.Status < 400:
		if resp.Location != "" {
			return Success, fmt.Sprintf("HTTP probe got status code %d; redirect to %s not followed", resp.Status, resp.Location)
		}
		return Success, ""
	}
	return Failure, fmt.Sprintf("HTTP probe failed with status code %d", resp.Status)
}

func runTCP(ctx context.Context, port int, t Target, timeout time.Duration) (Result, string) {
	if t.IP == "" {
		return Unknown, "group has no address"
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	addr := net.JoinHostPort(t.IP, strconv.Itoa(port))
	conn, err := dial(tctx, t.NetNSPath, addr)
	if err != nil {
		var setup *setupError
		if errors.As(err, &setup) || ctx.Err() != nil {
			return Unknown, fmt.Sprintf("TCP probe could not run: %v", err)
		}
		return Failure, fmt.Sprintf("TCP probe failed: %v", err)
	}
	conn.Close()
	return Success, ""
}

// seconds turns a probe's seconds field into a duration, def when unset.
func seconds(n, def int) time.Duration {
	if n <= 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}

// cleanOutput makes command output fit a message: valid UTF-8, without
// the trailing newline.
func cleanOutput(b []byte) string {
	return strings.TrimRight(strings.ToValidUTF8(string(b), "\uFFFD"), "\r\n")
}
