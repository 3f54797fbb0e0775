package containerd

import (
	"net/http"
	"testing"

	"leci/internal/registries"
)

// The host's configuration: a reference's host is reached through its
// mirrors first, then itself; its settings fill in what the request leaves
// out, and the request's own credentials win.
func TestRegistryHostsWithConfig(t *testing.T) {
	reg, err := registries.New(map[string]registries.Host{
		"registry.invalid":   {Mirrors: []string{"http://127.0.0.1:5000", "mirror.example.com/cache"}},
		"mirror.example.com": {Insecure: true, Username: "mirror-user", Password: "mirror-pw"},
		"own.example.com":    {PlainHTTP: true, Username: "conf-user", Password: "conf-pw"},
	}, "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := PullOptions{
		Credentials: []Credential{{Server: "own.example.com", UserName: "req-user", Password: "req-pw"}},
		Registries:  reg,
	}
	hosts, err := opts.registryHosts(t.Context())("registry.invalid")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		url      string
		insecure bool
	}
	var got []want
	for _, h := range hosts {
		tr := h.Client.Transport.(*http.Transport)
		got = append(got, want{h.Scheme + "://" + h.Host + h.Path, tr.TLSClientConfig != nil && tr.TLSClientConfig.InsecureSkipVerify})
	}
	wantHosts := []want{
		{"http://127.0.0.1:5000/v2", false},
		{"https://mirror.example.com/cache/v2", true},
		{"https://registry.invalid/v2", false},
	}
	if len(got) != len(wantHosts) {
		t.Fatalf("hosts %v, want %v", got, wantHosts)
	}
	for i := range got {
		if got[i] != wantHosts[i] {
			t.Errorf("host %d: %+v, want %+v", i, got[i], wantHosts[i])
		}
	}
	if hosts, _ := opts.registryHosts(t.Context())("own.example.com"); len(hosts) != 1 || hosts[0].Scheme != "http" {
		t.Errorf("own.example.com: %+v, want one host over plain HTTP", hosts)
	}

	for _, tc := range []struct{ host, user, pass string }{
		{"own.example.com", "req-user", "req-pw"},          // the request's credential wins
		{"mirror.example.com", "mirror-user", "mirror-pw"}, // the configuration's, for a mirror
		{"registry.invalid", "", ""},
	} {
		user, pass, err := opts.login(tc.host)
		if err != nil || user != tc.user || pass != tc.pass {
			t.Errorf("login(%s) = %s/%s %v, want %s/%s", tc.host, user, pass, err, tc.user, tc.pass)
		}
	}
	// Without the request's credential, the configuration's login is used.
	if user, _, _ := (PullOptions{Registries: reg}).login("own.example.com"); user != "conf-user" {
		t.Errorf("login without a request credential: %s, want conf-user", user)
	}
}
