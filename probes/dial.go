package probes

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"leci/api"
	"leci/internal/netns"
)

// setupError is a failure to attempt the connection at all (the namespace
// cannot be entered, the request cannot be built): the probe could not run,
// which says nothing about the container.
type setupError struct{ err error }

func (e *setupError) Error() string { return e.err.Error() }
func (e *setupError) Unwrap() error { return e.err }

// dial opens a TCP connection to addr (host:port) from inside the network
// namespace at netnsPath ("" for the caller's own).
func dial(ctx context.Context, netnsPath, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, &setupError{err}
	}
	ip, err := resolve(ctx, netnsPath, host)
	if err != nil {
		return nil, err
	}
	return dialIn(ctx, netnsPath, "tcp", net.JoinHostPort(ip, port))
}

// dialIn dials an address that needs no lookup. The socket is created on a
// thread switched into the namespace, so it belongs there for its whole
// life even though it is used from other threads afterwards.
func dialIn(ctx context.Context, netnsPath, netw, addr string) (net.Conn, error) {
	var d net.Dialer
	if netnsPath == "" {
		return d.DialContext(ctx, netw, addr)
	}
	var conn net.Conn
	var dialErr error
	err := netns.Run(netnsPath, func() error {
		// A literal address: the dial runs on this goroutine, which is
		// locked to the switched thread; waiting for the connect parks
		// the goroutine without letting another one onto the thread.
		conn, dialErr = d.DialContext(ctx, netw, addr)
		return nil
	})
	if err != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, &setupError{fmt.Errorf("dial %s in %s: %w", addr, netnsPath, err)}
	}
	return conn, dialErr
}

// resolve returns host when it is an address, and otherwise looks it up.
// Inside a namespace the lookup's DNS traffic leaves from that namespace
// too (Go's resolver, so no libc thread slips into the host's), with the
// host's resolv.conf and hosts file: a name server on the host's loopback
// is then the group's loopback and simply does not answer.
func resolve(ctx context.Context, netnsPath, host string) (string, error) {
	if net.ParseIP(host) != nil {
		return host, nil
	}
	r := net.DefaultResolver
	if netnsPath != "" {
		r = &net.Resolver{
			PreferGo: true,
			Dial: func(ctx context.Context, netw, addr string) (net.Conn, error) {
				return dialIn(ctx, netnsPath, netw, addr)
			},
		}
	}
	ips, err := r.LookupIP(ctx, "ip", host)
	if err != nil {
		var setup *setupError
		if errors.As(err, &setup) {
			return "", setup
		}
		return "", fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("resolve %s: no address", host)
	}
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip.String(), nil
		}
	}
	return ips[0].String(), nil
}

// getRequest is an HTTP GET of a probe or hook.
type getRequest struct {
	Scheme  string // HTTP (default) or HTTPS, any case
	Host    string
	Port    int
	Path    string
	Headers []api.HTTPHeader
}

// getResponse is what is kept of the answer.
type getResponse struct {
	Status     int
	StatusLine string
	// Location is set when a redirect was not followed.
	Location string
	// Body is at most the bound the caller gave.
	Body []byte
}

// httpGet performs g from inside the namespace at netnsPath, following
// redirects to the same host name only, and reads at most maxBody bytes of
// the body. Any HTTP status is a response, not an error.
func httpGet(ctx context.Context, netnsPath string, g getRequest, maxBody int) (getResponse, error) {
	var scheme string
	switch strings.ToUpper(g.Scheme) {
	case "", api.SchemeHTTP:
		scheme = "http"
	case api.SchemeHTTPS:
		scheme = "https"
	default:
		return getResponse{}, &setupError{fmt.Errorf("unknown scheme %q", g.Scheme)}
	}
	path := g.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	// The path may carry a query; one that does not parse is sent as a
	// plain path, escaped.
	u, err := url.Parse(path)
	if err != nil {
		u = &url.URL{Path: path}
	}
	u.Scheme = scheme
	u.Host = net.JoinHostPort(g.Host, strconv.Itoa(g.Port))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return getResponse{}, &setupError{fmt.Errorf("build request: %w", err)}
	}
	for _, h := range g.Headers {
		if strings.EqualFold(h.Name, "Host") {
			req.Host = h.Value
			continue
		}
		req.Header.Add(h.Name, h.Value)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", userAgent)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "*/*")
	}

	tr := &http.Transport{
		// Never a proxy from the environment: the request must leave
		// from the group's namespace to the group.
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dial(ctx, netnsPath, addr)
		},
		// Probes check that the container answers, not who it is; its
		// certificate is typically self-signed, as the kubelet assumes.
		TLSClientConfig:        &tls.Config{InsecureSkipVerify: true},
		DisableKeepAlives:      true,
		DisableCompression:     true,
		MaxResponseHeaderBytes: 64 << 10,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			// Another host is not ours to probe: its 3xx is the answer.
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return getResponse{}, err
	}
	defer resp.Body.Close()
	out := getResponse{Status: resp.StatusCode, StatusLine: resp.Status}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		out.Location = resp.Header.Get("Location")
	}
	out.Body, err = io.ReadAll(io.LimitReader(resp.Body, int64(maxBody)))
	if err != nil {
		return out, fmt.Errorf("read body: %w", err)
	}
	return out, nil
}
