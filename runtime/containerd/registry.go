package containerd

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/containerd/containerd/v2/core/remotes/docker"
)

// Credential is a user name and password for one registry, as in an ECI
// ImageRegistryCredential.
type Credential struct {
	// Server is the registry host, with a port when it is not the default:
	// "registry.example.com", "127.0.0.1:5000". A scheme or path, as in
	// "https://index.docker.io/v1/", is tolerated and ignored.
	Server   string
	UserName string
	Password string
}

// LogValue keeps the password out of logs.
func (c Credential) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("server", c.Server),
		slog.String("user", c.UserName),
		slog.String("password", redacted(c.Password)),
	)
}

// String keeps the password out of fmt output, which is also what slog falls
// back to for a Credential inside a slice or struct.
func (c Credential) String() string {
	return fmt.Sprintf("{Server:%s UserName:%s Password:%s}", c.Server, c.UserName, redacted(c.Password))
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// PullOptions say how to reach registries. Host lists take the forms of an
// ECI request's PlainHttpRegistry and InsecureRegistry: "host" matches the
// host on any port, "host:port" only that port.
type PullOptions struct {
	Credentials []Credential
	// PlainHTTP hosts are spoken to with http:// instead of https://.
	PlainHTTP []string
	// Insecure hosts are spoken to with https:// without verifying their
	// certificate (self-signed registries).
	Insecure []string
}

// dockerHubHosts are the names Docker Hub goes by; credentials for any of
// them serve all.
var dockerHubHosts = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// canonicalHost reduces a registry name as a user may write it ("Docker.io",
// "https://index.docker.io/v1/", "127.0.0.1:5000/") to host[:port], lower
// case, with Docker Hub's aliases folded into "docker.io".
func canonicalHost(s string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	s = strings.ToLower(s)
	if dockerHubHosts[s] {
		return "docker.io"
	}
	return s
}

// hostMatches tells whether entry, from a host list, names host (host[:port]
// as the registry is addressed). An entry without a port matches the host on
// any port.
func hostMatches(entry, host string) bool {
	e, h := canonicalHost(entry), canonicalHost(host)
	if e == "" {
		return false
	}
	if e == h {
		return true
	}
	if _, _, err := net.SplitHostPort(e); err == nil {
		return false // the entry names a port, and it is not this one
	}
	if hostOnly, _, err := net.SplitHostPort(h); err == nil {
		return strings.Trim(e, "[]") == strings.Trim(hostOnly, "[]")
	}
	return false
}

func anyHostMatches(list []string, host string) bool {
	for _, e := range list {
		if hostMatches(e, host) {
			return true
		}
	}
	return false
}

// credentialFor returns the credential for host. One that names the port
// exactly wins over one that names only the host.
func credentialFor(creds []Credential, host string) (Credential, bool) {
	h := canonicalHost(host)
	for _, c := range creds {
		if canonicalHost(c.Server) == h {
			return c, true
		}
	}
	for _, c := range creds {
		if hostMatches(c.Server, host) {
			return c, true
		}
	}
	return Credential{}, false
}

// registryHosts turns the options into containerd's per-host configuration:
// scheme, TLS and credentials are chosen for the host a reference names.
func (o PullOptions) registryHosts() docker.RegistryHosts {
	return func(host string) ([]docker.RegistryHost, error) {
		apiHost := host
		if canonicalHost(host) == "docker.io" {
			apiHost = "registry-1.docker.io"
		}
		scheme := "https"
		if anyHostMatches(o.PlainHTTP, host) {
			scheme = "http"
		}
		var tlsConfig *tls.Config
		if anyHostMatches(o.Insecure, host) {
			tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by the InsecureRegistry list
		}
		httpClient := &http.Client{Transport: docker.DefaultHTTPTransport(tlsConfig)}

		creds := o.Credentials
		authorizer := docker.NewDockerAuthorizer(
			docker.WithAuthClient(httpClient),
			// The authorizer asks with the host of the request, which for
			// Docker Hub is registry-1.docker.io; credentialFor folds it.
			docker.WithAuthCreds(func(h string) (string, string, error) {
				if c, ok := credentialFor(creds, h); ok {
					return c.UserName, c.Password, nil
				}
				return "", "", nil
			}),
		)
		return []docker.RegistryHost{{
			Client:       httpClient,
			Authorizer:   authorizer,
			Host:         apiHost,
			Scheme:       scheme,
			Path:         "/v2",
			Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve,
		}}, nil
	}
}
