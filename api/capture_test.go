package api

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir is the reference material beside the repository. It is always
// there in CI; a developer without it skips the tests that read it.
const sharedDir = "../../shared/reference/wire-captures"

func requireShared(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(sharedDir); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("reference captures missing: %v", err)
		}
		t.Skipf("reference captures missing: %v", err)
	}
	return sharedDir
}

// readCapture returns the parameters of a captured SDK request: its query
// merged with a form body, as the server will merge them.
func readCapture(t *testing.T, name string) url.Values {
	t.Helper()
	f, err := os.Open(filepath.Join(requireShared(t), name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		method, rest, ok := strings.Cut(line, " ")
		if !ok || (method != "POST" && method != "GET") {
			continue
		}
		target, _, _ := strings.Cut(rest, " ")
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return u.Query()
	}
	t.Fatalf("%s: no request line", name)
	return nil
}

func TestCapturesDecodeAndValidate(t *testing.T) {
	for _, name := range []string{"create-tea-v3.txt", "create-tea-v1.txt", "create-legacy-v1.txt"} {
		t.Run(name, func(t *testing.T) {
			var req CreateContainerGroupRequest
			if err := DecodeValues(readCapture(t, name), &req); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if err := req.Normalize(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			if got, want := req.ContainerGroupName, "sdkclient-demo"; got != want {
				t.Errorf("ContainerGroupName = %q, want %q", got, want)
			}
			if got := len(req.Container); got != 2 {
				t.Fatalf("containers = %d, want 2", got)
			}
			web := req.Container[0]
			if got, want := strings.Join(web.Command, " "), "sh -c httpd -f -p 8080 -h /www"; got != want {
				t.Errorf("Command = %q, want %q", got, want)
			}
			if got, want := web.EnvironmentVar[0].Value, "hello world & more=1"; got != want {
				t.Errorf("env value = %q, want %q", got, want)
			}
			if web.EnvironmentVar[1].FieldRef == nil || web.EnvironmentVar[1].FieldRef.FieldPath != FieldPathPodIP {
				t.Errorf("env 2 FieldRef = %+v, want status.podIP", web.EnvironmentVar[1].FieldRef)
			}
			if web.Cpu != 1 || web.Memory != 2 || req.Container[1].Cpu != 0.5 {
				t.Errorf("Cpu/Memory = %v/%v/%v, want 1/2/0.5 (legacy sends 1.000000)", web.Cpu, web.Memory, req.Container[1].Cpu)
			}
			// The legacy SDK's bare Exec.Command keys must not make probes
			// appear: web has a TCP liveness probe only.
			if lp := web.LivenessProbe; lp == nil || lp.Exec != nil || lp.TCPSocket == nil || lp.TCPSocket.Port != 8080 {
				t.Errorf("web LivenessProbe = %+v, want TcpSocket 8080 only", lp)
			}
			if req.Container[1].LivenessProbe != nil {
				t.Errorf("sidecar LivenessProbe = %+v, want none", req.Container[1].LivenessProbe)
			}
			if ps := web.PostStart(); ps == nil || len(ps.Exec) != 3 {
				t.Errorf("web PostStart = %+v, want a 3-item exec", ps)
			}
			if pre := web.PreStop(); pre == nil || pre.HTTPGet == nil || pre.HTTPGet.Port != 8080 || pre.HTTPGet.Path != "/index.html" {
				t.Errorf("web PreStop = %+v, want HTTP GET :8080/index.html", pre)
			}
			cf := req.Volume[0].ConfigFileVolume
			if cf == nil || cf.ConfigFileToPath[0].Mode == nil || cf.ConfigFileToPath[0].Mode.Perm() != 0o644 {
				t.Errorf("config file mode = %+v, want 0644 from decimal 420", cf)
			}
			if got, want := req.HostAliase[0].Hostname, []string{"db.local", "cache.local"}; strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("HostAliase hostnames = %v, want %v", got, want)
			}
			if got := len(req.InitContainer); got != 1 || req.InitContainer[0].Name != "init" {
				t.Errorf("init containers = %+v, want one named init", req.InitContainer)
			}
			if *req.TerminationGracePeriodSeconds != 10 || req.DNSPolicy != DNSPolicyNone || len(req.Tag) != 2 {
				t.Errorf("grace=%d dns=%q tags=%d, want 10, None, 2", *req.TerminationGracePeriodSeconds, req.DNSPolicy, len(req.Tag))
			}
		})
	}
}

// The three SDK modes send the same business parameters: they must decode to
// the same request, whatever their signature parameters and float spelling.
func TestCapturesAgree(t *testing.T) {
	decode := func(name string) CreateContainerGroupRequest {
		var req CreateContainerGroupRequest
		if err := DecodeValues(readCapture(t, name), &req); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return req
	}
	v3, v1 := decode("create-tea-v3.txt"), decode("create-tea-v1.txt")
	if diff := diffJSON(t, v3, v1); diff != "" {
		t.Errorf("tea v3 and v1 decode differently: %s", diff)
	}
}
