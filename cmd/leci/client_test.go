package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/pkg/jsonmessage"
	"github.com/spf13/cobra"

	"leci/api"
	"leci/internal/pullprogress"
	"leci/internal/testutil"
	"leci/pod"
	"leci/runtime"
	"leci/server"
	"leci/store"
)

// memGroups is a tiny in-memory engine for the client commands' tests.
type memGroups struct {
	mu     sync.Mutex
	groups map[string]runtime.GroupStatus
	n      int
}

func (m *memGroups) Create(ctx context.Context, req *api.CreateContainerGroupRequest) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	id := fmt.Sprintf("eci-test%016d", m.n)
	st := runtime.GroupStatus{ID: id, Request: req, Phase: api.GroupRunning, CreatedAt: time.Now(), IPv4: "10.89.0.9"}
	for _, c := range req.Container {
		st.Containers = append(st.Containers, runtime.ContainerStatus{Name: c.Name, Attempt: 1, Ready: true,
			Current: runtime.ContainerState{State: api.StateRunning, StartedAt: time.Now()}})
	}
	m.groups[id] = st
	// Its images are "pulled" for a create that follows its pulls.
	if feed := pullprogress.TakeFeed(ctx); feed != nil {
		for _, c := range req.Container {
			feed.Message(jsonmessage.JSONMessage{ID: c.Image, Status: "Pulling from " + c.Image})
			feed.Message(jsonmessage.JSONMessage{ID: "0123456789ab", Status: "Downloading", Progress: &jsonmessage.JSONProgress{Current: 1, Total: 2}})
			feed.Message(jsonmessage.JSONMessage{ID: "0123456789ab", Status: "Pull complete"})
		}
		feed.Close()
	}
	return id, nil
}

func (m *memGroups) Get(id string) (runtime.GroupStatus, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st, ok := m.groups[id]
	if !ok {
		return st, fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	return st, nil
}

func (m *memGroups) List() []runtime.GroupStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []runtime.GroupStatus
	for _, st := range m.groups {
		out = append(out, st)
	}
	return out
}

func (m *memGroups) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.groups, id)
	return nil
}

func (m *memGroups) Restart(context.Context, string) error {
	return server.NotImplemented("RestartContainerGroup")
}

func (m *memGroups) Exec(_ context.Context, id, container string, cmd []string, _ int) (pod.ExecResult, error) {
	return pod.ExecResult{Output: []byte(container + ": " + strings.Join(cmd, " ") + "\n")}, nil
}

// ExecAttach runs two commands: cat (stdin to stdout) and exit N; it tells
// on stderr whether it had a terminal.
func (m *memGroups) ExecAttach(_ context.Context, _, container string, eio pod.ExecIO) (int, error) {
	if eio.Stderr != nil {
		fmt.Fprintf(eio.Stderr, "%s: tty=%v\n", container, eio.TTY)
	}
	switch {
	case len(eio.Cmd) == 1 && eio.Cmd[0] == "cat" && eio.Stdin != nil:
		_, err := io.Copy(eio.Stdout, eio.Stdin)
		return 0, err
	case len(eio.Cmd) == 2 && eio.Cmd[0] == "exit":
		return strconv.Atoi(eio.Cmd[1])
	case len(eio.Cmd) == 1 && eio.Cmd[0] == "settings":
		fmt.Fprintf(eio.Stdout, "env=%q workdir=%q user=%q\n", eio.Env, eio.WorkingDir, eio.User)
		return 0, nil
	}
	return 127, nil
}

// Metrics answers one record of half a core for a known group.
func (m *memGroups) Metrics(_ context.Context, id string, _, _ time.Time, _ time.Duration) ([]api.MetricRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.groups[id]; !ok {
		return nil, fmt.Errorf("%s: %w", id, runtime.ErrNotFound)
	}
	return []api.MetricRecord{{
		Timestamp: "2026-11-27T15:00:00.000Z",
		CPU:       api.CPUMetric{Limit: 1000, Load: 500, UsageCoreNanoSeconds: 3e9, UsageNanoCores: 5e8},
		Memory:    api.MemoryMetric{UsageBytes: 20 << 20, WorkingSet: 18 << 20, AvailableBytes: 1<<30 - 18<<20},
		Network:   api.NetworkMetric{Interfaces: []api.NetworkInterfaceMetric{{Name: "eth0", RxBytes: 2048, TxBytes: 1024}}},
		Containers: []api.ContainerMetric{{Name: "web", CPU: api.CPUMetric{Limit: 1000, UsageNanoCores: 5e8},
			Memory: api.MemoryMetric{UsageBytes: 20 << 20, WorkingSet: 18 << 20}}},
	}}, nil
}

// clientEnv is a daemon's API (on memGroups) on a unix socket and a TCP
// port.
type clientEnv struct {
	root, sock, tcp string
	groups          *memGroups
}

func newClientEnv(t *testing.T) *clientEnv {
	t.Helper()
	root := t.TempDir()
	st, err := store.Open(filepath.Join(root, "leci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	g := &memGroups{groups: map[string]runtime.GroupStatus{}}
	srv, err := server.New(server.Options{Groups: g, Tokens: st, Root: root, AccessKeys: map[string]string{"cliak": "clisecret"}, Check: (&globalOptions{root: root}).checkLocal})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "leci.sock")
	ul, err := listen(listenAddr{network: "unix", address: sock})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []net.Listener{ul, tl} {
		hs := &http.Server{Handler: srv}
		go hs.Serve(l)
		t.Cleanup(func() { hs.Close() })
	}
	t.Cleanup(func() { srv.Close(context.Background()) })
	return &clientEnv{root: root, sock: sock, tcp: tl.Addr().String(), groups: g}
}

// leci runs a client command line as main's run does and returns the exit
// code, standard output and standard error.
func (e *clientEnv) leci(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	root := &cobra.Command{Use: "leci", SilenceUsage: true, SilenceErrors: true}
	var g globalOptions
	root.AddCommand(newClientCommands(&g)...)
	var stdout, stderr bytes.Buffer
	root.SetArgs(args)
	root.SetIn(strings.NewReader(stdin))
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	code := exitOK
	if err := root.Execute(); err != nil {
		code = exitUnknown
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
			if ee.err != nil {
				fmt.Fprintln(&stderr, "leci:", ee.err)
			}
		} else {
			fmt.Fprintln(&stderr, "leci:", err)
		}
	}
	return code, stdout.String(), stderr.String()
}

// create creates a group through the daemon at host and returns its id.
func (e *clientEnv) create(t *testing.T, host, req string) string {
	t.Helper()
	code, out, errOut := e.leci(t, req, "create", "-f", "-", "--host", host)
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	return strings.TrimSpace(out)
}

const webYAML = `ContainerGroupName: cli-web
Container:
  - Name: web
    Image: busybox:1.35
    Command: [httpd, -f]
    EnvironmentVar:
      - {Key: GREETING, Value: "hello world & more=1"}
  - Name: side
    Image: busybox:1.35
Volume:
  - Name: cfg
    Type: ConfigFileVolume
    ConfigFileVolume:
      DefaultMode: 0644
      ConfigFileToPath:
        - {Path: a.txt, Content: aGVsbG8K}
`

func TestClientCommands(t *testing.T) {
	e := newClientEnv(t)
	host := "unix://" + e.sock

	code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host)
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	st, err := e.groups.Get(id)
	if err != nil {
		t.Fatalf("create printed %q: %v", out, err)
	}
	if v := st.Request.Container[0].EnvironmentVar[0].Value; v != "hello world & more=1" {
		t.Errorf("env value %q came through as %q", "hello world & more=1", v)
	}
	if m := st.Request.Volume[0].ConfigFileVolume.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("DefaultMode %v", m)
	}

	// The same client token gives the same group; DryRun creates nothing.
	_, out1, _ := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host, "--client-token", "t1")
	_, out2, _ := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host, "--client-token", "t1")
	if out1 != out2 || out1 == "" {
		t.Errorf("client token: %q then %q", out1, out2)
	}
	code, out, errOut = e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml", "--host", host, "--dry-run")
	if code != 0 || out != "" || !strings.Contains(errOut, "DryRunOperation") {
		t.Errorf("dry run: %d %q %q", code, out, errOut)
	}
	if n := len(e.groups.List()); n != 2 {
		t.Errorf("%d groups, want 2", n)
	}
	// An invalid request.
	code, _, errOut = e.leci(t, strings.Replace(webYAML, "Name: side", "Name: web", 1), "create", "-f", "-", "--input-format", "yaml", "--host", host)
	if code != exitUsage || !strings.Contains(errOut, "ERROR InvalidParameter.DuplicatedName") {
		t.Errorf("invalid create: %d %q", code, errOut)
	}

	// ps.
	code, out, errOut = e.leci(t, "", "ps", "--host", host)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "cli-web") || !strings.Contains(out, "2/2") {
		t.Errorf("ps: %d %q %q", code, out, errOut)
	}
	code, out, _ = e.leci(t, "", "ps", "-o", "json", "--host", host)
	var groups []api.ContainerGroupDetail
	if code != 0 || json.Unmarshal([]byte(out), &groups) != nil || len(groups) != 2 {
		t.Errorf("ps -o json: %d %q", code, out)
	}

	// describe, by id and by name (two groups share the name now).
	code, out, _ = e.leci(t, "", "describe", id, "-o", "json", "--host", host)
	var g api.ContainerGroupDetail
	if code != 0 || json.Unmarshal([]byte(out), &g) != nil || g.ContainerGroupID != id {
		t.Errorf("describe -o json: %d %q", code, out)
	}
	// By default a summary, as kubectl describe pod prints one.
	code, out, _ = e.leci(t, "", "inspect", id, "--host", host)
	squeezed := regexp.MustCompile(` +`).ReplaceAllString(out, " ")
	for _, want := range []string{
		"Name: cli-web\n", "ID: " + id + "\n", "Status: Running\n",
		"Containers:\n web:\n Image: busybox:1.35\n Command: httpd -f\n State: Running\n",
		" Ready: true\n Restart Count: 0\n", "Volumes:\n cfg:\n Type: ConfigFileVolume\n Files: a.txt\n",
		"Conditions:\n Type Status Reason\n PodScheduled True -\n",
	} {
		if !strings.Contains(squeezed, want) {
			t.Errorf("describe lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("describe: exit %d", code)
	}
	code, out, _ = e.leci(t, "", "describe", id, "-o", "yaml", "--host", host)
	if code != 0 || !strings.Contains(out, "ContainerGroupId: "+id) {
		t.Errorf("describe -o yaml: %d %q", code, out)
	}
	code, _, errOut = e.leci(t, "", "describe", "cli-web", "--host", host)
	if code == 0 || !strings.Contains(errOut, "give an id") {
		t.Errorf("describe an ambiguous name: %d %q", code, errOut)
	}
	code, _, errOut = e.leci(t, "", "describe", "eci-nothere", "--host", host)
	if code == 0 || !strings.Contains(errOut, "no container group") {
		t.Errorf("describe a missing group: %d %q", code, errOut)
	}

	// logs.
	path := runtime.LogPath(e.root, id, "web", 1)
	os.MkdirAll(filepath.Dir(path), 0o755)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	os.WriteFile(path, []byte(now+" stdout F one\n"+now+" stderr F two\n"), 0o644)
	code, out, errOut = e.leci(t, "", "logs", id, "--host", host)
	if code != 0 || out != "one\ntwo\n" {
		t.Errorf("logs: %d %q %q", code, out, errOut)
	}
	code, out, _ = e.leci(t, "", "logs", id, "-c", "web", "--tail", "1", "--host", host)
	if code != 0 || out != "two\n" {
		t.Errorf("logs --tail 1: %d %q", code, out)
	}

	// exec.
	// exec: always a session, the exit code and the streams kept; "--"
	// only when the command has flags.
	code, out, errOut = e.leci(t, "", "exec", id, "-c", "side", "--host", host, "--", "exit", "5")
	if code != 5 || out != "" || errOut != "side: tty=false\n" {
		t.Errorf("exec exit 5: %d %q %q, want 5 and the command's stderr", code, out, errOut)
	}
	code, _, errOut = e.leci(t, "", "exec", id, "--host", host, "exit", "0")
	if code != 0 || errOut != "web: tty=false\n" {
		t.Errorf("exec without --: %d %q", code, errOut)
	}
	if code, _, _ := e.leci(t, "", "exec", id, "--host", host); code != exitUsage {
		t.Errorf("exec without a command: %d", code)
	}

	// delete.
	code, out, errOut = e.leci(t, "", "delete", id, "eci-nothere", "--host", host)
	if code != exitFailed || strings.TrimSpace(out) != id || !strings.Contains(errOut, "eci-nothere") {
		t.Errorf("delete: %d %q %q", code, out, errOut)
	}
}

func TestClientOverTCP(t *testing.T) {
	e := newClientEnv(t)
	host := "tcp://" + e.tcp
	t.Setenv(envAccessKey, "")
	if code, _, errOut := e.leci(t, "", "ps", "--host", host); code != exitUsage || !strings.Contains(errOut, envAccessKey) {
		t.Errorf("without a key: %d %q", code, errOut)
	}
	t.Setenv(envAccessKey, "cliak:wrong")
	if code, _, errOut := e.leci(t, "", "ps", "--host", host); code == 0 || !strings.Contains(errOut, "SignatureDoesNotMatch") {
		t.Errorf("wrong secret: %d %q", code, errOut)
	}
	t.Setenv(envAccessKey, "cliak:clisecret")
	t.Setenv(envHost, host)
	code, out, errOut := e.leci(t, webYAML, "create", "-f", "-", "--input-format", "yaml")
	if code != 0 || !strings.HasPrefix(out, "eci-") {
		t.Fatalf("create over TCP: %d %q %q", code, out, errOut)
	}
	id := strings.TrimSpace(out)
	if code, out, _ := e.leci(t, "", "ps"); code != 0 || !strings.Contains(out, id) {
		t.Errorf("ps over TCP: %d %q", code, out)
	}
}

func TestClientNoDaemon(t *testing.T) {
	e := &clientEnv{}
	code, _, errOut := e.leci(t, "", "ps", "--host", "unix://"+filepath.Join(t.TempDir(), "none.sock"))
	if code == 0 || !strings.Contains(errOut, "leci daemon") {
		t.Errorf("%d %q", code, errOut)
	}
	code, _, _ = e.leci(t, "", "ps", "--host", "http://x")
	if code != exitUsage {
		t.Errorf("bad --host: %d", code)
	}
}

func TestDaemonSettings(t *testing.T) {
	dir := t.TempDir()
	cert, key, _ := testutil.SelfSignedCert(t, dir)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cfg := write("leci.yaml", "listen: [unix:///run/x.sock, tcp://127.0.0.1:8080]\naccessKeys:\n  - {id: a, secret: s}\n")
	bad := write("bad.yaml", "listen: [unix:///x]\naccesKeys: []\n")
	tlsCfg := write("tls.yaml", "listen: [tcp://0.0.0.0:8443]\ntlsCert: "+cert+"\ntlsKey: "+key+"\nmetricsListen: tcp://0.0.0.0:9100\naccessKeyFiles: ["+
		write("keys", "# leci's keys\nk1:s1\n\n  k2 : s2\n")+"]\n")
	insecureCfg := write("insecure.yaml", "listen: [tcp://0.0.0.0:8080]\ninsecureTCP: true\naccessKeys: [{id: a, secret: s}]\n")
	badKeys := write("badkeys", "k1:s1\nnosecret\n")

	const argvWarning = "process list"
	for _, tc := range []struct {
		name    string
		opts    daemonOptions
		env     string // LECI_ACCESS_KEY
		listen  string
		metrics string
		keys    int
		tls     bool
		warn    string // in a warning
		err     string
	}{
		{name: "default", listen: defaultListen},
		{name: "config", opts: daemonOptions{config: cfg}, listen: "unix:///run/x.sock,tcp://127.0.0.1:8080", keys: 1},
		{name: "flags replace listen, add keys", opts: daemonOptions{config: cfg, listen: []string{"tcp://[::1]:9"}, accessKeys: []string{"b:t"}}, listen: "tcp://[::1]:9", keys: 2, warn: argvWarning},
		{name: "loopback tcp without keys", opts: daemonOptions{listen: []string{"tcp://127.0.0.1:8080"}}, err: "needs an AccessKey"},
		{name: "public tcp without keys", opts: daemonOptions{listen: []string{"tcp://0.0.0.0:8080"}}, err: "needs an AccessKey"},
		{name: "bad key", opts: daemonOptions{accessKeys: []string{"nosecret"}}, err: "ID:SECRET"},
		{name: "conflicting keys", opts: daemonOptions{accessKeys: []string{"a:s", "a:t"}}, err: "different secrets"},
		{name: "relative socket", opts: daemonOptions{listen: []string{"unix://leci.sock"}}, err: "ABSOLUTE"},
		{name: "no port", opts: daemonOptions{listen: []string{"tcp://127.0.0.1"}, accessKeys: []string{"a:s"}}, err: "HOST:PORT"},
		{name: "other scheme", opts: daemonOptions{listen: []string{"http://127.0.0.1:80"}}, err: "want unix"},
		{name: "unknown config key", opts: daemonOptions{config: bad}, err: "accesKeys"},

		// Plain HTTP only on loopback, unless --insecure-tcp.
		{name: "public tcp, plain", opts: daemonOptions{listen: []string{"tcp://0.0.0.0:8080"}, accessKeyFiles: []string{filepath.Join(dir, "keys")}}, err: "--insecure-tcp"},
		{name: "all interfaces, plain", opts: daemonOptions{listen: []string{"tcp://:8080"}, accessKeyFiles: []string{filepath.Join(dir, "keys")}}, err: "non-loopback"},
		{name: "public tcp, plain, --insecure-tcp", opts: daemonOptions{listen: []string{"tcp://0.0.0.0:8080"}, accessKeyFiles: []string{filepath.Join(dir, "keys")}, insecureTCP: true},
			listen: "tcp://0.0.0.0:8080", keys: 2, warn: "plain HTTP"},
		{name: "public tcp, plain, insecureTCP in the config", opts: daemonOptions{config: insecureCfg}, listen: "tcp://0.0.0.0:8080", keys: 1, warn: "plain HTTP"},
		{name: "public tcp with TLS", opts: daemonOptions{listen: []string{"tcp://0.0.0.0:8443"}, tlsCert: cert, tlsKey: key, accessKeyFiles: []string{filepath.Join(dir, "keys")}},
			listen: "tcp://0.0.0.0:8443", keys: 2, tls: true},
		{name: "TLS, metrics listener and key file from the config", opts: daemonOptions{config: tlsCfg}, listen: "tcp://0.0.0.0:8443", metrics: "tcp://0.0.0.0:9100", keys: 2, tls: true},
		{name: "a cert without its key", opts: daemonOptions{tlsCert: cert}, err: "go together"},
		{name: "a key that is no key", opts: daemonOptions{tlsCert: cert, tlsKey: cert}, err: "--tls-key"},
		{name: "public metrics, plain", opts: daemonOptions{metricsListen: "tcp://0.0.0.0:9100"}, err: "--insecure-tcp"},
		{name: "loopback metrics, plain", opts: daemonOptions{metricsListen: "tcp://127.0.0.1:9100"}, listen: defaultListen, metrics: "tcp://127.0.0.1:9100"},

		// Secrets from a file or the environment; argv warns.
		{name: "key from the environment", opts: daemonOptions{listen: []string{"tcp://127.0.0.1:8080"}}, env: "e1:s1, e2:s2", listen: "tcp://127.0.0.1:8080", keys: 2},
		{name: "bad key in the environment", env: "e1", err: envAccessKey},
		{name: "bad key file line", opts: daemonOptions{accessKeyFiles: []string{badKeys}}, err: "line 2"},
		{name: "missing key file", opts: daemonOptions{accessKeyFiles: []string{filepath.Join(dir, "none")}}, err: "access key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envAccessKey, tc.env)
			setup, err := daemonSettings(tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error with %q", err, tc.err)
				}
				var ee *exitError
				if !errors.As(err, &ee) || ee.code != exitUsage {
					t.Errorf("not a usage error: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range setup.listen {
				got = append(got, a.String())
			}
			metrics := ""
			if setup.metrics != nil {
				metrics = setup.metrics.String()
			}
			if strings.Join(got, ",") != tc.listen || metrics != tc.metrics || len(setup.keys) != tc.keys || (setup.tls != nil) != tc.tls {
				t.Errorf("got %v, metrics %q, %d keys, TLS %v; want %s, %q, %d, %v", got, metrics, len(setup.keys), setup.tls != nil, tc.listen, tc.metrics, tc.keys, tc.tls)
			}
			warnings := strings.Join(setup.warnings, "\n")
			if (tc.warn == "") != (warnings == "") || !strings.Contains(warnings, tc.warn) {
				t.Errorf("warnings %q, want one with %q", warnings, tc.warn)
			}
		})
	}
}

func TestListenUnix(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run", "leci")
	sock := filepath.Join(dir, "leci.sock")
	a := listenAddr{network: "unix", address: sock}
	l, err := listen(a)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Errorf("socket mode %s, want 0600 socket", fi.Mode())
	}
	// A live socket is not taken over.
	if _, err := listen(a); err == nil || !strings.Contains(err.Error(), "another process answers") {
		t.Errorf("second listen: %v", err)
	}
	// A stale socket file is replaced.
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("stale socket file gone: %v", err)
	}
	l, err = listen(a)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	l.Close()
}

func TestLoopback(t *testing.T) {
	for hp, want := range map[string]bool{
		"127.0.0.1:80": true, "[::1]:80": true, "localhost:80": true, "127.1.2.3:1": true,
		"0.0.0.0:80": false, ":80": false, "10.0.0.1:80": false, "[::]:80": false, "example.com:80": false,
	} {
		if got := loopback(hp); got != want {
			t.Errorf("loopback(%q) = %v, want %v", hp, got, want)
		}
	}
}
