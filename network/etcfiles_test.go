package network

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// hostFiles writes fake host resolv.conf files and returns their paths;
// an empty content means the file does not exist.
func hostFiles(t *testing.T, etc, resolved string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if content != "" {
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	return write("etc-resolv.conf", etc), write("resolved-resolv.conf", resolved)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteEtcFilesHostsAndHostname(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	hostResolv, resolved := hostFiles(t, "nameserver 192.0.2.1\n", "")
	p, err := writeEtcFiles(dir, EtcFiles{
		Hostname: "web-1",
		IP:       "10.89.0.7",
		Aliases: []HostAlias{
			{IP: "10.89.0.9", Hostnames: []string{"db", "db.local"}},
			{IP: "fd00::9", Hostnames: []string{"db6"}},
		},
	}, hostResolv, resolved, replaceFile)
	if err != nil {
		t.Fatalf("writeEtcFiles: %v", err)
	}
	want := EtcPaths{
		Hosts:    filepath.Join(dir, "hosts"),
		Hostname: filepath.Join(dir, "hostname"),
		Resolv:   filepath.Join(dir, "resolv.conf"),
	}
	if p != want {
		t.Errorf("paths: got %+v, want %+v", p, want)
	}
	if got, want := readFile(t, p.Hostname), "web-1\n"; got != want {
		t.Errorf("hostname: got %q, want %q", got, want)
	}
	wantHosts := "127.0.0.1 localhost\n" +
		"::1 localhost ip6-localhost ip6-loopback\n" +
		"10.89.0.7 web-1\n" +
		"10.89.0.9 db db.local\n" +
		"fd00::9 db6\n"
	if got := readFile(t, p.Hosts); got != wantHosts {
		t.Errorf("hosts:\n got %q\nwant %q", got, wantHosts)
	}
	for _, f := range []string{p.Hosts, p.Hostname, p.Resolv} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v, want 0644", f, st.Mode().Perm())
		}
	}
	// No temporary files are left beside them.
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%s holds %d entries, want 3", dir, len(entries))
	}

	// Written again, the files are replaced, not appended to.
	if _, err := writeEtcFiles(dir, EtcFiles{Hostname: "web-2"}, hostResolv, resolved, replaceFile); err != nil {
		t.Fatal(err)
	}
	if got, want := readFile(t, p.Hostname), "web-2\n"; got != want {
		t.Errorf("hostname rewritten: got %q, want %q", got, want)
	}
	if got := readFile(t, p.Hosts); strings.Contains(got, "web-1") {
		t.Errorf("hosts rewritten still has the old name:\n%s", got)
	}
}

// A container bind mounts the files: the inode it holds is what it sees.
// WriteEtcFiles replaces each file (one created before keeps the old
// content, whole); FillEtcFiles writes into it (one created before, not
// started yet, sees the group's address).
func TestEtcFilesReplacedOrFilledInPlace(t *testing.T) {
	hostResolv, resolved := hostFiles(t, "nameserver 192.0.2.1\n", "")
	for _, tt := range []struct {
		name      string
		write     func(path string, data []byte) error
		sameInode bool
	}{
		{"replaced", replaceFile, false},
		{"filled in place", overwriteFile, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etc")
			p, err := writeEtcFiles(dir, EtcFiles{Hostname: "web-1"}, hostResolv, resolved, replaceFile)
			if err != nil {
				t.Fatal(err)
			}
			// What a bind mount made now would show: the open file.
			mounted, err := os.Open(p.Hosts)
			if err != nil {
				t.Fatal(err)
			}
			defer mounted.Close()
			if _, err := writeEtcFiles(dir, EtcFiles{Hostname: "web-1", IP: "10.89.0.7"}, hostResolv, resolved, tt.write); err != nil {
				t.Fatal(err)
			}
			seen, err := io.ReadAll(mounted)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(seen), "10.89.0.7 web-1"); got != tt.sameInode {
				t.Errorf("the file held open shows the address: %v, want %v:\n%s", got, tt.sameInode, seen)
			}
			if got := readFile(t, p.Hosts); !strings.Contains(got, "10.89.0.7 web-1\n") {
				t.Errorf("hosts by its name lacks the address:\n%s", got)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 3 {
				t.Errorf("%s holds %d entries, want 3", dir, len(entries))
			}
		})
	}
}

func TestWriteEtcFilesResolv(t *testing.T) {
	tests := []struct {
		name          string
		etc, resolved string // host files; "" is absent
		files         EtcFiles
		want          string
	}{
		{
			name:  "none uses only the request",
			etc:   "nameserver 192.0.2.1\nsearch host.example\n",
			files: EtcFiles{DNSPolicy: "None", NameServers: []string{"192.0.2.53", "2001:db8::53"}, Searches: []string{"a.example", "b.example"}, Options: []DNSOption{{Name: "ndots", Value: "2"}, {Name: "edns0"}}},
			want:  "nameserver 192.0.2.53\nnameserver 2001:db8::53\nsearch a.example b.example\noptions ndots:2 edns0\n",
		},
		{
			name:  "none with nothing",
			etc:   "nameserver 192.0.2.1\n",
			files: EtcFiles{DNSPolicy: "None"},
			want:  "",
		},
		{
			name:  "default copies the host",
			etc:   "# generated\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch host.example\noptions ndots:1 rotate\nsortlist 192.0.2.0/255.255.255.0\n",
			files: EtcFiles{DNSPolicy: "Default"},
			want:  "nameserver 192.0.2.1\nnameserver 192.0.2.2\nsearch host.example\noptions ndots:1 rotate\nsortlist 192.0.2.0/255.255.255.0\n",
		},
		{
			name:  "empty policy is default",
			etc:   "nameserver 192.0.2.1\n",
			files: EtcFiles{},
			want:  "nameserver 192.0.2.1\n",
		},
		{
			name:  "default adds the request's config",
			etc:   "nameserver 192.0.2.1\nsearch host.example\noptions ndots:1 rotate\n",
			files: EtcFiles{DNSPolicy: "Default", NameServers: []string{"192.0.2.53", "192.0.2.1"}, Searches: []string{"svc.example"}, Options: []DNSOption{{Name: "ndots", Value: "5"}, {Name: "edns0"}}},
			want:  "nameserver 192.0.2.1\nnameserver 192.0.2.53\nsearch host.example svc.example\noptions ndots:5 rotate edns0\n",
		},
		{
			name:     "resolved stub is replaced by its upstreams",
			etc:      "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch lan\n",
			resolved: "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch lan\n",
			files:    EtcFiles{DNSPolicy: "Default", Searches: []string{"svc.example"}},
			want:     "nameserver 192.0.2.10\nnameserver 192.0.2.11\nsearch lan svc.example\n",
		},
		{
			// Unreachable from the group, the stub would only make every
			// lookup wait for its timeout.
			name:  "resolved stub dropped when upstream file is absent",
			etc:   "nameserver 127.0.0.53\noptions edns0\n",
			files: EtcFiles{DNSPolicy: "Default", NameServers: []string{"192.0.2.53"}},
			want:  "nameserver 192.0.2.53\noptions edns0\n",
		},
		{
			name:     "stub beside another server is replaced too",
			etc:      "nameserver 127.0.0.53\nnameserver 192.0.2.1\n",
			resolved: "nameserver 192.0.2.10\n",
			files:    EtcFiles{DNSPolicy: "Default"},
			want:     "nameserver 192.0.2.10\n",
		},
		{
			name:     "upstream file without servers: stub dropped, others kept",
			etc:      "nameserver 127.0.0.53\nnameserver 192.0.2.1\n",
			resolved: "# no servers\n",
			files:    EtcFiles{DNSPolicy: "Default"},
			want:     "nameserver 192.0.2.1\n",
		},
		{
			name:     "none ignores the host and its stub",
			etc:      "nameserver 127.0.0.53\n",
			resolved: "nameserver 192.0.2.10\n",
			files:    EtcFiles{DNSPolicy: "None", NameServers: []string{"192.0.2.53"}},
			want:     "nameserver 192.0.2.53\n",
		},
		{
			name:  "last search or domain line wins",
			etc:   "domain one.example\nsearch two.example three.example\n",
			files: EtcFiles{},
			want:  "search two.example three.example\n",
		},
		{
			name:  "host without resolv.conf",
			files: EtcFiles{NameServers: []string{"192.0.2.53"}},
			want:  "nameserver 192.0.2.53\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostResolv, resolved := hostFiles(t, tt.etc, tt.resolved)
			f := tt.files
			f.Hostname = "h"
			p, err := writeEtcFiles(t.TempDir(), f, hostResolv, resolved, replaceFile)
			if err != nil {
				t.Fatalf("writeEtcFiles: %v", err)
			}
			if got := readFile(t, p.Resolv); got != tt.want {
				t.Errorf("resolv.conf:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestWriteEtcFilesRejects(t *testing.T) {
	tests := []struct {
		name  string
		files EtcFiles
	}{
		{"no hostname", EtcFiles{}},
		{"hostname with newline", EtcFiles{Hostname: "a\n10.0.0.1 evil"}},
		{"bad ip", EtcFiles{Hostname: "h", IP: "10.0.0.300"}},
		{"bad alias ip", EtcFiles{Hostname: "h", Aliases: []HostAlias{{IP: "x", Hostnames: []string{"a"}}}}},
		{"alias without names", EtcFiles{Hostname: "h", Aliases: []HostAlias{{IP: "10.0.0.1"}}}},
		{"alias name with space", EtcFiles{Hostname: "h", Aliases: []HostAlias{{IP: "10.0.0.1", Hostnames: []string{"a b"}}}}},
		{"bad nameserver", EtcFiles{Hostname: "h", DNSPolicy: "None", NameServers: []string{"dns.example"}}},
		{"search with newline", EtcFiles{Hostname: "h", Searches: []string{"a\nnameserver 1.2.3.4"}}},
		{"option with space", EtcFiles{Hostname: "h", Options: []DNSOption{{Name: "ndots", Value: "1 x"}}}},
		{"unknown policy", EtcFiles{Hostname: "h", DNSPolicy: "ClusterFirst"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hostResolv, resolved := hostFiles(t, "nameserver 192.0.2.1\n", "")
			dir := filepath.Join(t.TempDir(), "etc")
			if _, err := writeEtcFiles(dir, tt.files, hostResolv, resolved, replaceFile); err == nil {
				t.Fatal("no error")
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a rejected request left %s behind", dir)
			}
		})
	}
}
