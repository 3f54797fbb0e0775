package containerd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/containerd/containerd/v2/core/remotes/docker"
	hostsconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"

	"leci/internal/pullprogress"
	"leci/internal/registries"
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
	// Registries is the host's configuration (the daemon's registries and
	// docker's config.json): mirrors, and what the lists above leave out.
	// The request's lists and credentials win; nil configures nothing.
	Registries *registries.Config
	// Progress, when not nil, is shown the pull's layers as they come.
	// A pull shared by several callers shows the first one's.
	Progress pullprogress.Sink
}

// canonicalHost and hostMatches are the registries package's: one reading
// of registry names for requests and for the host's configuration.
func canonicalHost(s string) string { return registries.CanonicalHost(s) }

func hostMatches(entry, host string) bool { return registries.HostMatches(entry, host) }

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
// for the host a reference names, the mirrors of leci's configuration in
// order, then what containerd's ConfigureHosts makes of the host's
// hosts.toml directory (its mirrors, then the host itself, with their CA
// files and client certificates), or of the host alone when it has none.
// containerd tries them in that order, so a mirror that has the image
// serves it and the host is never contacted.
func (o PullOptions) registryHosts(ctx context.Context) docker.RegistryHosts {
	return func(host string) ([]docker.RegistryHost, error) {
		var out []docker.RegistryHost
		for _, m := range o.Registries.Mirrors(host) {
			scheme := m.Scheme
			if scheme == "" {
				scheme = o.scheme(m.Host)
			}
			out = append(out, o.registryHost(m.Host, scheme, m.Path))
		}
		hostOpts := hostsconfig.HostOptions{
			HostDir:       o.Registries.HostDir,
			Credentials:   o.login,
			DefaultScheme: o.scheme(host),
		}
		if o.insecure(host) {
			hostOpts.DefaultTLS = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by InsecureRegistry or the configuration
		}
		configured, err := hostsconfig.ConfigureHosts(ctx, hostOpts)(host)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", host, err)
		}
		for i := range configured {
			// leci pulls: a hosts.toml's push capability is of no use.
			configured[i].Capabilities &= docker.HostCapabilityPull | docker.HostCapabilityResolve
		}
		return append(out, configured...), nil
	}
}

// login is the user name and password for host, which the authorizer asks
// with the host it talks to (a mirror; for Docker Hub registry-1.docker.io,
// which credentialFor folds): the request's credential for it first, then
// the host's configuration; none is "", "".
func (o PullOptions) login(host string) (user, secret string, _ error) {
	if c, ok := credentialFor(o.Credentials, host); ok {
		return c.UserName, c.Password, nil
	}
	if l, ok := o.Registries.Login(host); ok {
		return l.Username, l.Password, nil
	}
	return "", "", nil
}

// scheme is http for a host the request's PlainHTTP list or the host's
// configuration names, else https.
func (o PullOptions) scheme(host string) string {
	if cfg, _ := o.Registries.Host(host); anyHostMatches(o.PlainHTTP, host) || cfg.PlainHTTP {
		return "http"
	}
	return "https"
}

// insecure tells whether host is spoken to without verifying its
// certificate: the request's InsecureRegistry or the configuration says so.
func (o PullOptions) insecure(host string) bool {
	cfg, _ := o.Registries.Host(host)
	return anyHostMatches(o.Insecure, host) || cfg.Insecure
}

func (o PullOptions) registryHost(host, scheme, path string) docker.RegistryHost {
	var tlsConfig *tls.Config
	if o.insecure(host) {
		tlsConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for by InsecureRegistry or the configuration
	}
	httpClient := &http.Client{Transport: docker.DefaultHTTPTransport(tlsConfig)}
	return docker.RegistryHost{
		Client:       httpClient,
		Authorizer:   docker.NewDockerAuthorizer(docker.WithAuthClient(httpClient), docker.WithAuthCreds(o.login)),
		Host:         host,
		Scheme:       scheme,
		Path:         path,
		Capabilities: docker.HostCapabilityPull | docker.HostCapabilityResolve,
	}
}
