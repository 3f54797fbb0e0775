package registries

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestNewChecks(t *testing.T) {
	for _, tc := range []struct {
		name  string
		hosts map[string]Host
		want  string // part of the error; "" for none
	}{
		{"login", map[string]Host{"reg.example.com": {Username: "u", Password: "p"}}, ""},
		{"auth", map[string]Host{"reg.example.com": {Auth: b64("u:p")}}, ""},
		{"auth and username", map[string]Host{"reg.example.com": {Auth: b64("u:s3cret"), Username: "u"}}, "not both"},
		{"auth not base64", map[string]Host{"reg.example.com": {Auth: "%%%"}}, "not base64"},
		{"auth without colon", map[string]Host{"reg.example.com": {Auth: b64("u")}}, "user:password"},
		{"username alone", map[string]Host{"reg.example.com": {Username: "u"}}, "both username and password"},
		{"password alone", map[string]Host{"reg.example.com": {Password: "s3cret"}}, "both username and password"},
		{"mirrors", map[string]Host{"docker.io": {Mirrors: []string{"mirror.example.com", "http://127.0.0.1:5000", "https://m.example.com/prefix/"}}}, ""},
		{"mirror with a bad scheme", map[string]Host{"docker.io": {Mirrors: []string{"ftp://m.example.com"}}}, "scheme"},
		{"mirror with a query", map[string]Host{"docker.io": {Mirrors: []string{"https://m.example.com/?x=1"}}}, "want host"},
		{"one host spelled twice", map[string]Host{"docker.io": {}, "https://index.docker.io/v1/": {}}, "twice"},
		{"empty host", map[string]Host{"": {}}, "not a registry host"},
	} {
		_, err := New(tc.hosts, "", nil, nil)
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
}

func TestHostSettings(t *testing.T) {
	c, err := New(map[string]Host{
		"127.0.0.1":        {PlainHTTP: true},
		"127.0.0.1:5000":   {Insecure: true},
		"Docker.io":        {Mirrors: []string{"mirror.example.com"}},
		"reg.example.com/": {Username: "u", Password: "p"},
	}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host            string
		ok              bool
		plain, insecure bool
		mirrors, logins int
	}{
		{host: "127.0.0.1:5000", ok: true, insecure: true}, // the exact entry wins over the host-only one
		{host: "127.0.0.1:6000", ok: true, plain: true},    // host only: any port
		{host: "registry-1.docker.io", ok: true, mirrors: 1},
		{host: "docker.io", ok: true, mirrors: 1},
		{host: "reg.example.com", ok: true, logins: 1},
		{host: "reg.example.com:5000", ok: true, logins: 1},
		{host: "other.example.com"},
	} {
		h, ok := c.Host(tc.host)
		_, login := c.Login(tc.host)
		if ok != tc.ok || h.PlainHTTP != tc.plain || h.Insecure != tc.insecure || len(c.Mirrors(tc.host)) != tc.mirrors || login != (tc.logins == 1) {
			t.Errorf("%s: got %+v (%v), login %v, mirrors %v", tc.host, h, ok, login, c.Mirrors(tc.host))
		}
	}
	var none *Config
	if _, ok := none.Login("x"); ok || len(none.Mirrors("x")) != 0 {
		t.Error("a nil Config must configure nothing")
	}
}

func TestParseMirror(t *testing.T) {
	for in, want := range map[string]Mirror{
		"mirror.example.com":           {Host: "mirror.example.com", Path: "/v2"},
		"127.0.0.1:5000":               {Host: "127.0.0.1:5000", Path: "/v2"},
		"http://127.0.0.1:5000":        {Scheme: "http", Host: "127.0.0.1:5000", Path: "/v2"},
		"https://Mirror.example.com/":  {Scheme: "https", Host: "mirror.example.com", Path: "/v2"},
		"https://m.example.com/v2":     {Scheme: "https", Host: "m.example.com", Path: "/v2"},
		"https://m.example.com/cache/": {Scheme: "https", Host: "m.example.com", Path: "/cache/v2"},
		"m.example.com/cache":          {Host: "m.example.com", Path: "/cache/v2"},
		" https://[::1]:5000 ":         {Scheme: "https", Host: "[::1]:5000", Path: "/v2"},
	} {
		got, err := ParseMirror(in)
		if err != nil || got != want {
			t.Errorf("ParseMirror(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "https://", "ftp://m.example.com", "https://u:p@m.example.com"} {
		if _, err := ParseMirror(in); err == nil {
			t.Errorf("ParseMirror(%q): no error", in)
		}
	}
}

// writeDockerConfig writes a docker config.json into a new directory and
// returns its path.
func writeDockerConfig(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeHelper puts docker-credential-NAME on PATH: a script answering get
// for host with user and secret, and "credentials not found" for any other,
// as docker's helpers do.
func writeHelper(t *testing.T, name, host, user, secret string) {
	t.Helper()
	dir := t.TempDir()
	script := fmt.Sprintf(`#!/bin/sh
[ "$1" = get ] || exit 1
read server
if [ "$server" = %q ]; then
  printf '{"ServerURL":"%%s","Username":%q,"Secret":%q}' "$server"
else
  echo "credentials not found in native keychain"; exit 1
fi
`, host, user, secret)
	if err := os.WriteFile(filepath.Join(dir, "docker-credential-"+name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

func TestDockerConfigLogins(t *testing.T) {
	t.Setenv("DOCKER_AUTH_CONFIG", "")
	writeHelper(t, "leci-test", "gcr.io", "helped", "pw3")
	path := writeDockerConfig(t, fmt.Sprintf(`{
  "auths": {
    "https://index.docker.io/v1/": {"auth": %q},
    "127.0.0.1:5000": {"username": "plain", "password": "pw2"},
    "http://127.0.0.1:6000": {"auth": %q},
    "token.example.com": {"identitytoken": "tok"},
    "empty.example.com": {},
    "gcr.io": {"auth": %q}
  },
  "credHelpers": {"gcr.io": "leci-test", "other.example.com": "leci-test", "missing.example.com": "no-such-helper"}
}`, b64("hub:pw1"), b64("six:pw:with:colons"), b64("stale:entry")))
	var logs bytes.Buffer
	c, err := New(map[string]Host{"127.0.0.1:5000": {Username: "leci", Password: "own"}}, path, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host, user, pass, from string
	}{
		{"registry-1.docker.io", "hub", "pw1", path},
		{"docker.io", "hub", "pw1", path},
		{"127.0.0.1:5000", "leci", "own", "leci config"}, // leci's configuration wins
		{"127.0.0.1:6000", "six", "pw:with:colons", path},
		{"token.example.com", "", "tok", path}, // an identity token
		{"127.0.0.1:7000", "", "", ""},         // docker matches the port exactly
		{"empty.example.com", "", "", ""},
		{"gcr.io", "helped", "pw3", "docker-credential-leci-test"}, // the helper wins over auths
		{"other.example.com", "", "", ""},                          // the helper has none
		{"missing.example.com", "", "", ""},                        // a helper not on PATH: logged
	} {
		l, ok := c.Login(tc.host)
		if l.Username != tc.user || l.Password != tc.pass || l.From != tc.from || ok != (tc.pass != "") {
			t.Errorf("Login(%s) = %+v, %v; want %s/%s from %s", tc.host, l, ok, tc.user, tc.pass, tc.from)
		}
	}
	if !strings.Contains(logs.String(), "docker-credential-no-such-helper") {
		t.Errorf("the helper missing from PATH was not logged:\n%s", logs.String())
	}

	// A missing file is no login and no error; a broken one is logged.
	missing, _ := New(nil, filepath.Join(t.TempDir(), "none.json"), nil, nil)
	if _, ok := missing.Login("docker.io"); ok {
		t.Error("login from a missing docker config.json")
	}
	logs.Reset()
	broken, _ := New(nil, writeDockerConfig(t, "{"), nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, ok := broken.Login("docker.io"); ok || !strings.Contains(logs.String(), "not used") {
		t.Errorf("broken docker config.json: ok %v, log %q", ok, logs.String())
	}
}

func TestHostDir(t *testing.T) {
	first, second := t.TempDir(), t.TempDir()
	for _, d := range []string{filepath.Join(first, "reg.example.com"), filepath.Join(second, "reg.example.com"), filepath.Join(second, "127.0.0.1:5000")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	c, err := New(nil, "", []string{filepath.Join(t.TempDir(), "absent"), first, second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"reg.example.com": filepath.Join(first, "reg.example.com"), // the first directory wins
		"127.0.0.1:5000":  filepath.Join(second, "127.0.0.1:5000"),
		"127.0.0.1:6000":  "",
	} {
		if got, err := c.HostDir(host); got != want || err != nil {
			t.Errorf("HostDir(%s) = %q, %v; want %q", host, got, err, want)
		}
	}
}

func TestDockerConfigPath(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", "/etc/dockercfg")
	t.Setenv("HOME", "/home/someone")
	if got := DockerConfigPath(); got != "/etc/dockercfg/config.json" {
		t.Errorf("with DOCKER_CONFIG: %s", got)
	}
	t.Setenv("DOCKER_CONFIG", "")
	if got := DockerConfigPath(); got != "/home/someone/.docker/config.json" {
		t.Errorf("with HOME: %s", got)
	}
}

func TestLoginRedacted(t *testing.T) {
	l := Login{Username: "u", Password: "s3cret", From: "leci config"}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("pull", "login", l)
	out := buf.String() + fmt.Sprint(l) + fmt.Sprintf("%v %+v", []Login{l}, l)
	if strings.Contains(out, "s3cret") {
		t.Errorf("password leaked: %s", out)
	}
}
