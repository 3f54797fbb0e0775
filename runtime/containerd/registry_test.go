package containerd

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestCanonicalHost(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io":                   "docker.io",
		"index.docker.io":             "docker.io",
		"registry-1.docker.io":        "docker.io",
		"https://index.docker.io/v1/": "docker.io",
		"Docker.IO":                   "docker.io",
		"127.0.0.1:5000":              "127.0.0.1:5000",
		"http://127.0.0.1:5000/":      "127.0.0.1:5000",
		"registry.example.com/":       "registry.example.com",
		" registry.example.com ":      "registry.example.com",
		"[::1]:5000":                  "[::1]:5000",
	} {
		if got := canonicalHost(in); got != want {
			t.Errorf("canonicalHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostMatches(t *testing.T) {
	for _, tc := range []struct {
		entry, host string
		want        bool
	}{
		{"127.0.0.1:5000", "127.0.0.1:5000", true},
		{"127.0.0.1", "127.0.0.1:5000", true}, // no port: any port
		{"127.0.0.1:5001", "127.0.0.1:5000", false},
		{"127.0.0.1:5000", "127.0.0.1", false},
		{"127.0.0.2", "127.0.0.1:5000", false},
		{"reg.example.com", "reg.example.com", true},
		{"reg.example.com", "reg.example.com:443", true},
		{"example.com", "reg.example.com", false}, // no suffix matching
		{"docker.io", "registry-1.docker.io", true},
		{"index.docker.io", "docker.io", true},
		{"[::1]", "[::1]:5000", true},
		{"", "reg.example.com", false},
	} {
		if got := hostMatches(tc.entry, tc.host); got != tc.want {
			t.Errorf("hostMatches(%q, %q) = %v, want %v", tc.entry, tc.host, got, tc.want)
		}
	}
}

func TestCredentialFor(t *testing.T) {
	creds := []Credential{
		{Server: "reg.example.com", UserName: "any-port"},
		{Server: "reg.example.com:5000", UserName: "port-5000"},
		{Server: "https://index.docker.io/v1/", UserName: "hub"},
	}
	for _, tc := range []struct {
		host, want string
	}{
		{"reg.example.com:5000", "port-5000"}, // exact beats host-only, whatever the order
		{"reg.example.com:6000", "any-port"},
		{"reg.example.com", "any-port"},
		{"registry-1.docker.io", "hub"}, // what the authorizer asks for Docker Hub
		{"docker.io", "hub"},
		{"other.example.com", ""},
	} {
		c, ok := credentialFor(creds, tc.host)
		if got := c.UserName; got != tc.want || ok != (tc.want != "") {
			t.Errorf("credentialFor(%q) = %q, %v; want %q", tc.host, got, ok, tc.want)
		}
	}
}

func TestRegistryHosts(t *testing.T) {
	opts := PullOptions{
		PlainHTTP:   []string{"127.0.0.1:5000"},
		Insecure:    []string{"secure.example.com"},
		Credentials: []Credential{{Server: "127.0.0.1:5000", UserName: "u", Password: "p"}},
	}
	for _, tc := range []struct {
		host, wantHost, wantScheme string
		wantInsecure               bool
	}{
		{"127.0.0.1:5000", "127.0.0.1:5000", "http", false},
		{"127.0.0.1:5001", "127.0.0.1:5001", "https", false},
		{"secure.example.com", "secure.example.com", "https", true},
		{"docker.io", "registry-1.docker.io", "https", false},
	} {
		hosts, err := opts.registryHosts(t.Context())(tc.host)
		if err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		if len(hosts) != 1 {
			t.Fatalf("%s: %d hosts, want 1", tc.host, len(hosts))
		}
		h := hosts[0]
		if h.Host != tc.wantHost || h.Scheme != tc.wantScheme || h.Path != "/v2" {
			t.Errorf("%s: got %s://%s%s, want %s://%s/v2", tc.host, h.Scheme, h.Host, h.Path, tc.wantScheme, tc.wantHost)
		}
		tr, ok := h.Client.Transport.(*http.Transport)
		if !ok {
			t.Fatalf("%s: transport %T", tc.host, h.Client.Transport)
		}
		insecure := tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify
		if insecure != tc.wantInsecure {
			t.Errorf("%s: insecure %v, want %v", tc.host, insecure, tc.wantInsecure)
		}
	}
}

func TestCredentialRedacted(t *testing.T) {
	c := Credential{Server: "reg.example.com", UserName: "u", Password: "s3cret"}
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	log.Info("pull", "cred", c, "opts", PullOptions{Credentials: []Credential{c}})
	out := buf.String() + fmt.Sprint(c) + fmt.Sprintf("%v %+v", []Credential{c}, PullOptions{Credentials: []Credential{c}})
	if strings.Contains(out, "s3cret") {
		t.Errorf("password leaked: %s", out)
	}
	if !strings.Contains(out, "reg.example.com") {
		t.Errorf("server missing: %s", out)
	}
}
