// Package registries is the host's own registry configuration, used for a
// pull where the request says nothing: per registry host, mirrors, TLS
// without verification, plain HTTP and a login, from the daemon's
// configuration file; and, for logins, docker's config.json as a fallback.
//
// A request's own ImageRegistryCredential, PlainHttpRegistry and
// InsecureRegistry come first; this configuration fills in what they leave
// out. Logins are never logged: Login's LogValue and String redact them.
package registries

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
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
	// dockerConfig is the docker config.json whose auths are read for
	// logins; "" reads none.
	dockerConfig string
	log          *slog.Logger
	helpersOnce  sync.Once
}

// New checks hosts (keyed by registry host, as a user writes it) and
// returns the configuration, with logins also read from the docker
// config.json at dockerConfig ("" for none; see DockerConfigPath). A
// missing docker config.json is no error: it is read at each login lookup.
func New(hosts map[string]Host, dockerConfig string, log *slog.Logger) (*Config, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Config{hosts: map[string]Host{}, dockerConfig: dockerConfig, log: log}
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

// dockerConfigFile is the part of docker's config.json leci reads.
type dockerConfigFile struct {
	Auths map[string]struct {
		Auth          string `json:"auth"`
		Username      string `json:"username"`
		Password      string `json:"password"`
		IdentityToken string `json:"identitytoken"`
	} `json:"auths"`
	CredsStore  string            `json:"credsStore"`
	CredHelpers map[string]string `json:"credHelpers"`
}

// dockerLogin reads the login of host from docker's config.json, whose key
// must name the host as the registry is addressed (docker matches it
// exactly; Docker Hub's aliases are one host).
func (c *Config) dockerLogin(host string) (Login, bool, error) {
	data, err := os.ReadFile(c.dockerConfig)
	if errors.Is(err, fs.ErrNotExist) {
		return Login{}, false, nil
	}
	if err != nil {
		return Login{}, false, err
	}
	var f dockerConfigFile
	if err := json.Unmarshal(data, &f); err != nil {
		return Login{}, false, fmt.Errorf("parse: %w", err)
	}
	if f.CredsStore != "" || len(f.CredHelpers) > 0 {
		c.helpersOnce.Do(func() {
			c.log.Info("docker config.json names credential helpers, which leci does not run; only its auths entries are used",
				"path", c.dockerConfig)
		})
	}
	want := CanonicalHost(host)
	for key, a := range f.Auths {
		if CanonicalHost(key) != want {
			continue
		}
		l := Login{Username: a.Username, Password: a.Password, From: c.dockerConfig}
		if a.Auth != "" {
			user, pass, err := decodeAuth(a.Auth)
			if err != nil {
				return Login{}, false, fmt.Errorf("auths[%q]: %w", key, err)
			}
			l.Username, l.Password = user, pass
		}
		if l.Username == "" && a.IdentityToken != "" {
			l.Password = a.IdentityToken
		}
		if l.Password == "" {
			continue
		}
		return l, true, nil
	}
	return Login{}, false, nil
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
