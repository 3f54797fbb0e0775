package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDaemonRegistries(t *testing.T) {
	dir := t.TempDir()
	// docker's config.json, found through DOCKER_CONFIG.
	t.Setenv("DOCKER_CONFIG", dir)
	writeFile(t, dir, "config.json", `{"auths": {"docker-only.example.com": {"username": "d", "password": "dpw"},
		"registry.example.com": {"username": "d", "password": "dpw"}}}`)
	path := writeFile(t, dir, "leci.yaml", `
listen: [unix:///run/leci/leci.sock]
registries:
  registry.example.com:
    mirrors: [https://mirror.example.com, http://127.0.0.1:5000]
    username: user
    password: s3cret
  127.0.0.1:5001:
    plainHTTP: true
    auth: dXNlcjI6cHcy
  self-signed.example.com:
    insecure: true
`)
	reg, err := (&registryOptions{}).load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ host, user, pass string }{
		{"registry.example.com", "user", "s3cret"}, // the daemon's configuration wins over docker's
		{"127.0.0.1:5001", "user2", "pw2"},
		{"docker-only.example.com", "d", "dpw"},
		{"self-signed.example.com", "", ""},
	} {
		l, _ := reg.Login(tc.host)
		if l.Username != tc.user || l.Password != tc.pass {
			t.Errorf("login of %s: %s/%s, want %s/%s", tc.host, l.Username, l.Password, tc.user, tc.pass)
		}
	}
	if m := reg.Mirrors("registry.example.com"); len(m) != 2 || m[0].Host != "mirror.example.com" || m[1].Scheme != "http" {
		t.Errorf("mirrors %+v", m)
	}
	if h, _ := reg.Host("127.0.0.1:5001"); !h.PlainHTTP {
		t.Errorf("127.0.0.1:5001: %+v, want plainHTTP", h)
	}
	if h, _ := reg.Host("self-signed.example.com"); !h.Insecure {
		t.Errorf("self-signed.example.com: %+v, want insecure", h)
	}

	// Without --config, docker's config.json alone.
	reg, err = (&registryOptions{}).load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := reg.Login("docker-only.example.com"); !ok || l.Username != "d" {
		t.Errorf("docker config.json without --config: %+v %v", l, ok)
	}

	for name, content := range map[string]string{
		"unknown key":         "registries:\n  r.example.com:\n    mirror: [x]\n",
		"auth and a password": "registries:\n  r.example.com:\n    auth: dXNlcjI6cHcy\n    username: u\n    password: s3cret\n",
		"username only":       "registries:\n  r.example.com:\n    username: u\n",
		"bad mirror":          "registries:\n  r.example.com:\n    mirrors: [ftp://m.example.com]\n",
	} {
		_, err := (&registryOptions{}).load(writeFile(t, dir, "bad.yaml", content), nil)
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", name, err)
		}
	}
}
