// Package registries is the host's own registry configuration, used for a
// pull where the request says nothing: per registry host, mirrors, TLS
// without verification, plain HTTP and a login, from the daemon's
// configuration file; mirrors, CA files and client certificates from
// directories in containerd's hosts.toml layout; and, for logins, docker's
// config.json (its auths and credential helpers) as a fallback.
//
// A request's own ImageRegistryCredential, PlainHttpRegistry and
// InsecureRegistry come first; this configuration fills in what they leave
// out. Logins are never logged: Login's LogValue and String redact them.
package registries

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	hostsconfig "github.com/containerd/containerd/v2/core/remotes/docker/config"
	"github.com/containerd/errdefs"
	dockerconfig "github.com/docker/cli/cli/config"
)

// Host is the configuration of one registry host, as the daemon's YAML file
// writes it under registries.<host>.
type Host struct {
	// Mirrors are tried, in order, before the host itself: "host[:port]"
	// (HTTPS), or a URL "http://host:port" or "https://host/prefix".
	Mirrors []string `yaml:"mirrors"`
	// Insecure: HTTPS without verifying the certificate.
	Insecure bool `yaml:"insecure"`
	// PlainHTTP: http:// instead of https://.
	PlainHTTP bool `yaml:"plainHTTP"`
	// Username and Password, or Auth (base64 of "user:password", as in
	// docker's config.json), are the login for the host.
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	Auth     string `yaml:"auth"`
}

// Login is a user name and password for a registry. An empty Username with
// a Password is an identity token (docker's identitytoken), which the
// registry's token service takes as a refresh token.
type Login struct {
	Username string
	Password string
	// From says where the login was found, for logs: "leci config" or the
	// path of a docker config.json.
	From string
}

// LogValue keeps the password out of logs.
func (l Login) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", l.Username), slog.String("password", redacted(l.Password)), slog.String("from", l.From))
}

// String keeps the password out of fmt output.
func (l Login) String() string {
	return fmt.Sprintf("{Username:%s Password:%s From:%s}", l.Username, redacted(l.Password), l.From)
}

func redacted(s string) string {
	if s == "" {
		return ""
	}
	return "REDACTED"
}

// Mirror is a parsed mirror of a host.
type Mirror struct {
	// Scheme is "https" or "http"; empty when the mirror was written
	// without one (then the mirror host's own settings decide, else https).
	Scheme string
	// Host is host[:port].
	Host string
	// Path is the API's path on the mirror, "/v2" or "<prefix>/v2".
	Path string
}

// Config is the host's registry configuration. The zero value and nil
// configure nothing.
type Config struct {
	hosts map[string]Host // by CanonicalHost
	// dockerConfig is the docker config.json whose auths and credential
	// helpers give logins; "" reads none.
	dockerConfig string
	// hostDirs are directories in containerd's hosts.toml layout
	// (<dir>/<host>/hosts.toml, or docker's certs.d files: ca.crt,
	// client.cert, client.key), searched in order.
	hostDirs []string
	log      *slog.Logger
}

// New checks hosts (keyed by registry host, as a user writes it) and
// returns the configuration, with logins also read from the docker
// config.json at dockerConfig ("" for none; see DockerConfigPath) and
// per-host TLS, mirrors and CAs from the hosts.toml directories hostDirs.
// A missing docker config.json or host directory is no error: they are
// read at each pull, so edits apply without a restart.
func New(hosts map[string]Host, dockerConfig string, hostDirs []string, log *slog.Logger) (*Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Config{hosts: map[string]Host{}, dockerConfig: dockerConfig, hostDirs: hostDirs, log: log}
	for name, h := range hosts {
		key := CanonicalHost(name)
		if key == "" {
			return nil, fmt.Errorf("registries: %q is not a registry host", name)
		}
		if _, dup := c.hosts[key]; dup {
			return nil, fmt.Errorf("registries: %s is given twice (as %q and another spelling)", key, name)
		}
		if h.Auth != "" {
			if h.Username != "" || h.Password != "" {
				return nil, fmt.Errorf("registries: %s: give auth or username and password, not both", name)
			}
			user, pass, err := decodeAuth(h.Auth)
			if err != nil {
				return nil, fmt.Errorf("registries: %s: auth: %w", name, err)
			}
			h.Username, h.Password, h.Auth = user, pass, ""
		}
		if (h.Username == "") != (h.Password == "") {
			return nil, fmt.Errorf("registries: %s: a login needs both username and password", name)
		}
		for _, m := range h.Mirrors {
			if _, err := ParseMirror(m); err != nil {
				return nil, fmt.Errorf("registries: %s: %w", name, err)
			}
		}
		c.hosts[key] = h
	}
	return c, nil
}

// DockerConfigPath is where docker keeps its config.json: in $DOCKER_CONFIG,
// else in $HOME/.docker. It is "" when neither is set.
func DockerConfigPath() string {
	if dir := os.Getenv("DOCKER_CONFIG"); dir != "" {
		return filepath.Join(dir, "config.json")
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		return filepath.Join(home, ".docker", "config.json")
	}
	return ""
}

// Host returns the settings of a registry host: those written for it
// exactly (port included), else those written for its name without a port.
func (c *Config) Host(host string) (Host, bool) {
	if c == nil {
		return Host{}, false
	}
	if h, ok := c.hosts[CanonicalHost(host)]; ok {
		return h, true
	}
	for key, h := range c.hosts {
		if HostMatches(key, host) {
			return h, true
		}
	}
	return Host{}, false
}

// HostDir returns the directory of host in the first hosts.toml directory
// that has one ("" when none has): what containerd's ConfigureHosts reads
// for the host's mirrors, CA files, client certificates and TLS settings.
func (c *Config) HostDir(host string) (string, error) {
	if c == nil {
		return "", nil
	}
	for _, root := range c.hostDirs {
		dir, err := hostsconfig.HostDirFromRoot(root)(host)
		if err != nil && !errdefs.IsNotFound(err) {
			return "", fmt.Errorf("registry host directory of %s: %w", host, err)
		}
		if dir != "" {
			return dir, nil
		}
	}
	return "", nil
}

// HostDirs are the hosts.toml directories searched, in order.
func (c *Config) HostDirs() []string {
	if c == nil {
		return nil
	}
	return c.hostDirs
}

// Mirrors returns the mirrors of a registry host, in order.
func (c *Config) Mirrors(host string) []Mirror {
	h, _ := c.Host(host)
	var out []Mirror
	for _, s := range h.Mirrors {
		m, err := ParseMirror(s)
		if err == nil { // checked by New
			out = append(out, m)
		}
	}
	return out
}

// Login returns the host's login: the one written for it in leci's
// configuration, else the one in docker's config.json.
func (c *Config) Login(host string) (Login, bool) {
	if c == nil {
		return Login{}, false
	}
	if h, ok := c.Host(host); ok && h.Username != "" {
		return Login{Username: h.Username, Password: h.Password, From: "leci config"}, true
	}
	if c.dockerConfig == "" {
		return Login{}, false
	}
	l, ok, err := c.dockerLogin(host)
	if err != nil {
		c.log.Warn("docker config.json not used for registry logins", "path", c.dockerConfig, "err", err)
		return Login{}, false
	}
	return l, ok
}

// dockerLogin reads the login of host from docker's config.json through
// docker's own configuration code: the credential helper config.json names
// for the host (credHelpers) or for every host (credsStore), run as docker
// runs it (docker-credential-NAME from PATH), else its auths entry, which
// must name the host as the registry is addressed (Docker Hub's aliases are
// one host). DOCKER_AUTH_CONFIG, when set, is read first, as docker does.
func (c *Config) dockerLogin(host string) (Login, bool, error) {
	cf, err := dockerconfig.Load(filepath.Dir(c.dockerConfig))
	if err != nil {
		return Login{}, false, err
	}
	key := CanonicalHost(host)
	from := c.dockerConfig
	if helper := cf.CredentialHelpers[key]; helper != "" {
		from = "docker-credential-" + helper
	} else if cf.CredentialsStore != "" {
		from = "docker-credential-" + cf.CredentialsStore
	}
	ac, err := cf.GetAuthConfig(key)
	if err != nil {
		return Login{}, false, fmt.Errorf("%s: %w", from, err)
	}
	l := Login{Username: ac.Username, Password: ac.Password, From: from}
	if ac.IdentityToken != "" {
		// The registry's token service takes it as a refresh token.
		l.Username, l.Password = "", ac.IdentityToken
	}
	if l.Password == "" {
		return Login{}, false, nil
	}
	return l, true, nil
}

// decodeAuth reads docker's "auth": base64 of "user:password".
func decodeAuth(s string) (user, pass string, err error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return "", "", errors.New("not base64")
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok || user == "" {
		return "", "", errors.New(`not base64 of "user:password"`)
	}
	return user, pass, nil
}

// ParseMirror reads a mirror as the configuration writes it.
func ParseMirror(s string) (Mirror, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "://") {
		s = "//" + s // host[:port][/path], no scheme
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Mirror{}, fmt.Errorf("mirror %q: want host[:port] or http(s)://host[:port][/path]", strings.TrimPrefix(s, "//"))
	}
	if u.Scheme != "" && u.Scheme != "http" && u.Scheme != "https" {
		return Mirror{}, fmt.Errorf("mirror %q: scheme %q: want http or https", s, u.Scheme)
	}
	path := strings.TrimSuffix(u.Path, "/")
	if !strings.HasSuffix(path, "/v2") {
		path += "/v2"
	}
	return Mirror{Scheme: u.Scheme, Host: strings.ToLower(u.Host), Path: path}, nil
}

// dockerHubHosts are the names Docker Hub goes by.
var dockerHubHosts = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// CanonicalHost reduces a registry name as a user may write it ("Docker.io",
// "https://index.docker.io/v1/", "127.0.0.1:5000/") to host[:port], lower
// case, with Docker Hub's aliases folded into "docker.io".
func CanonicalHost(s string) string {
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

// HostMatches tells whether entry, from a host list, names host (host[:port]
// as the registry is addressed). An entry without a port matches the host
// on any port.
func HostMatches(entry, host string) bool {
	e, h := CanonicalHost(entry), CanonicalHost(host)
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
