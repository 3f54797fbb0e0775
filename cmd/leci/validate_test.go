package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"leci/api"
	"leci/volumes"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateExamples(t *testing.T) {
	for _, file := range []string{
		"../../examples/every-field.yaml", "../../examples/every-field.json", "../../examples/every-field.rpc",
		"../../examples/web-readiness.yaml", "../../examples/job-init.yaml", "../../examples/volumes.yaml",
	} {
		code, out, errOut := runCLI(t, "", "validate", "-f", file)
		if code != 0 || out != "valid\n" {
			t.Errorf("validate %s: exit %d, stdout %q, stderr %q; want 0 and valid", file, code, out, errOut)
		}
	}
}

func TestValidateInvalid(t *testing.T) {
	in := "ContainerGroupName: Bad\nContainer:\n  - Name: a\n  - Name: a\n    Image: busybox\n"
	code, out, errOut := runCLI(t, in, "validate", "-f", "-")
	if code != exitUsage {
		t.Errorf("exit = %d, want 2 (an invalid request)", code)
	}
	if out != "" {
		t.Errorf("stdout = %q, want nothing", out)
	}
	want := []string{
		"ERROR InvalidParameter: ContainerGroupName: ",
		"ERROR MissingParameter: Container.1.Image: is required",
		"ERROR InvalidParameter.DuplicatedName: Container.2.Name: ",
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != len(want) {
		t.Fatalf("stderr has %d lines, want %d:\n%s", len(lines), len(want), errOut)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"validate"},
		{"validate", "--bogus"},
		{"validate", "-f", "/nonexistent/group.yaml"},
		{"validate", "-f", "-", "--input-format", "xml"},
		{"nonesuch"},
		{"validate", "-f", "-", "-o", "yaml"},
		{"validate", "extra"},
	} {
		if code, _, _ := runCLI(t, "{}", args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

func TestValidateOutputJSON(t *testing.T) {
	in := "ContainerGroupName=gg&Container.1.Name=app&Container.1.Image=busybox&ZoneId=cn-hangzhou-b"
	code, out, errOut := runCLI(t, in, "validate", "-f", "-", "--input-format", "rpc", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if got["RestartPolicy"] != "Always" || got["TerminationGracePeriodSeconds"] != float64(30) {
		t.Errorf("defaults not applied: %s", out)
	}
	c := got["Container"].([]any)[0].(map[string]any)
	if c["ImagePullPolicy"] != "Always" {
		t.Errorf("ImagePullPolicy = %v, want Always for an untagged image", c["ImagePullPolicy"])
	}
	if !strings.Contains(errOut, "NOTE ZoneId:") {
		t.Errorf("stderr does not note ZoneId as not applied locally: %q", errOut)
	}
}

// --fields lists every cloud-only parameter with what leci does with it.
func TestValidateFields(t *testing.T) {
	code, out, errOut := runCLI(t, "", "validate", "--fields")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(api.CloudFields)+1 {
		t.Errorf("%d lines, want a header and %d parameters:\n%s", len(lines), len(api.CloudFields), out)
	}
	for _, want := range []string{`(?m)^InstanceType\s+analogy\s`, `(?m)^ZoneId\s+recorded\s`, `(?m)^Container\.N\.Gpu\s`} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("--fields does not show %q:\n%s", want, out)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "leci ") {
		t.Errorf("version: exit %d, %q", code, out)
	}
	code, flagOut, _ := runCLI(t, "", "--version")
	if code != 0 || flagOut != out {
		t.Errorf("--version: exit %d, %q; want what leci version prints, %q", code, flagOut, out)
	}
}

// The request's form is --input-format; --format still works there, with
// a warning, for a while.
func TestInputFormatFlag(t *testing.T) {
	req := "ContainerGroupName: web\nContainer:\n  - {Name: a, Image: busybox}\n"
	code, out, errOut := runCLI(t, req, "validate", "-f", "-", "--input-format", "yaml")
	if code != 0 || out != "valid\n" || errOut != "" {
		t.Errorf("--input-format yaml: exit %d, %q, %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, req, "validate", "-f", "-", "--format", "yaml")
	if code != 0 || out != "valid\n" || !strings.Contains(errOut, "--format is deprecated here, use --input-format") {
		t.Errorf("--format yaml: exit %d, %q, %q; want valid and a deprecation warning", code, out, errOut)
	}
	if code, _, _ := runCLI(t, req, "validate", "-f", "-", "--input-format", "json"); code != exitUsage {
		t.Errorf("a YAML request read as JSON: exit %d, want 2", code)
	}
}

// `leci run` refuses a privileged container, before it touches anything,
// unless --allow-privileged is given (DryRun stops the allowed run there).
func TestRunRefusesPrivilegedWithoutOptIn(t *testing.T) {
	in := "ContainerGroupName: root\nDryRun: true\nContainer:\n  - Name: a\n    Image: busybox\n    SecurityContextPrivileged: true\n"
	code, _, errOut := runCLI(t, in, "run", "--root", t.TempDir(), "-f", "-")
	if code != 2 || !strings.Contains(errOut, "Forbidden.Privileged: Container.1.SecurityContextPrivileged") || !strings.Contains(errOut, "--allow-privileged") {
		t.Errorf("run without --allow-privileged: exit %d, stderr %q; want 2 and Forbidden.Privileged naming the field and the switch", code, errOut)
	}
	code, _, errOut = runCLI(t, in, "run", "--root", t.TempDir(), "--allow-privileged", "-f", "-")
	if code != 0 || !strings.Contains(errOut, "DryRunOperation") {
		t.Errorf("run --allow-privileged: exit %d, stderr %q; want 0 and DryRunOperation", code, errOut)
	}
}

// allowPrivileged in the daemon's configuration file enables privileged
// containers as --allow-privileged does.
func TestDaemonConfigAllowPrivileged(t *testing.T) {
	for _, c := range []struct {
		config  string
		flagSet bool
		flag    bool
		want    bool
	}{
		{config: "allowPrivileged: true\n", want: true},
		{config: "runtime: containerd\n", want: false},
		{config: "allowPrivileged: true\n", flagSet: true, flag: false, want: false},
		{config: "allowPrivileged: false\n", flagSet: true, flag: true, want: true},
	} {
		path := filepath.Join(t.TempDir(), "leci.yaml")
		if err := os.WriteFile(path, []byte(c.config), 0o600); err != nil {
			t.Fatal(err)
		}
		g := &globalOptions{allowPrivileged: c.flag}
		if err := daemonRuntimeSettings(path, g, false, false, c.flagSet); err != nil {
			t.Fatal(err)
		}
		if g.allowPrivileged != c.want {
			t.Errorf("config %q, flag set %v (%v): allowPrivileged %v, want %v", c.config, c.flagSet, c.flag, g.allowPrivileged, c.want)
		}
	}
}

// The daemon's socket directories and its configuration file's directory
// are never HostPaths.
func TestDaemonPathsDeniedAsHostPath(t *testing.T) {
	sockDir, confDir := t.TempDir(), t.TempDir()
	g := &globalOptions{root: t.TempDir()}
	denyDaemonPaths(g, []listenAddr{{network: "unix", address: filepath.Join(sockDir, "leci.sock")}, {network: "tcp", address: "127.0.0.1:0"}}, filepath.Join(confDir, "leci.yaml"))
	for _, p := range []string{sockDir, confDir} {
		req := &api.CreateContainerGroupRequest{Volume: []api.Volume{{Name: "h", Type: api.VolumeHostPath, HostPathVolume: &api.HostPathVolume{Path: p}}}}
		err := g.checkLocal(req)
		if !errors.Is(err, volumes.ErrForbiddenHostPath) {
			t.Errorf("HostPath %s: %v, want Forbidden.HostPath", p, err)
		}
	}
}
