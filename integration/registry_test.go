//go:build integration

package integration

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"leci/host"
	"leci/internal/testimage"
	"leci/internal/testutil"
)

// uniqueImage writes an OCI layout tar of the test busybox whose one layer
// no store holds yet (the binary carries random trailing bytes, which it
// ignores), so that a pull of it downloads the layer, and returns its path.
func uniqueImage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin, err := os.ReadFile(testimage.BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	busybox := filepath.Join(dir, "busybox")
	if err := os.WriteFile(busybox, append(bin, rand.Text()...), 0o755); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := testimage.BuildFrom(f, "leci.local/unique:1", busybox); err != nil {
		t.Fatal(err)
	}
	return archive
}

// registrySetup is what a user writes for a registry that wants a login
// and speaks plain HTTP: a credential helper on PATH that docker's
// config.json names for the registry, and leci's configuration file with
// the registry's plainHTTP.
type registrySetup struct {
	env        []string // the environment leci runs in
	configFile string
	helperLog  string // the servers the helper was asked for, one a line
}

func newRegistrySetup(t *testing.T, reg *testutil.Registry) registrySetup {
	t.Helper()
	dir := t.TempDir()
	s := registrySetup{configFile: filepath.Join(dir, "leci.yaml"), helperLog: filepath.Join(dir, "helper.log")}
	helper := fmt.Sprintf(`#!/bin/sh
[ "$1" = get ] || exit 1
read server
echo "$server" >> %s
if [ "$server" = %q ]; then
  printf '{"ServerURL":"%%s","Username":%q,"Secret":%q}' "$server"
else
  echo "credentials not found in native keychain"; exit 1
fi
`, s.helperLog, reg.Host, reg.User, reg.Pass)
	bin := filepath.Join(dir, "bin")
	dockerDir := filepath.Join(dir, "docker")
	for _, d := range []string{bin, dockerDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, content := range map[string]string{
		filepath.Join(bin, "docker-credential-leci-it"): helper,
		filepath.Join(dockerDir, "config.json"):         fmt.Sprintf(`{"credHelpers": {%q: "leci-it"}}`, reg.Host),
		s.configFile:                                    fmt.Sprintf("registries:\n  %q:\n    plainHTTP: true\n", reg.Host),
	} {
		if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s.env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DOCKER_CONFIG="+dockerDir, "DOCKER_AUTH_CONFIG=")
	return s
}

// layerLine is a line of plain pull progress about one layer.
var layerLine = regexp.MustCompile(`^([0-9a-f]{12}): (.+)$`)

// checkPlainProgress checks pull progress written off a terminal: lines,
// no bars or cursor movements, each layer's state once, and the image's
// one layer downloaded and complete.
func checkPlainProgress(t *testing.T, out string) {
	t.Helper()
	if strings.ContainsAny(out, "\r\x1b") || strings.Contains(out, "=>") {
		t.Errorf("progress off a terminal has bars or cursor movements:\n%q", out)
	}
	seen := map[string]bool{}
	states := map[string][]string{}
	for _, l := range strings.Split(out, "\n") {
		m := layerLine.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if seen[l] {
			t.Errorf("line %q twice: one line per change of state", l)
		}
		seen[l] = true
		states[m[1]] = append(states[m[1]], m[2])
	}
	if len(states) != 1 {
		t.Fatalf("progress of %d layers, want the image's one:\n%s", len(states), out)
	}
	// leci words containerd's progress itself, so every state shows. Docker's
	// daemon hands each watcher only a transfer's latest state, so a fast
	// layer may pass "Download complete" unseen: there, any download state
	// before "Pull complete" is what a user sees.
	downloaded := []string{"Download complete"}
	if testRuntime == host.RuntimeDocker {
		downloaded = append(downloaded, "Downloading", "Verifying Checksum")
	}
	for id, s := range states {
		if len(s) < 2 || s[len(s)-1] != "Pull complete" || !containsAny(s, downloaded) {
			t.Errorf("layer %s went %q, want it downloaded and then complete", id, s)
		}
	}
	if !strings.Contains(out, "Pulling from ") {
		t.Errorf("progress does not say what is pulled:\n%s", out)
	}
}

func containsAny(list, want []string) bool {
	for _, e := range list {
		if slices.Contains(want, e) {
			return true
		}
	}
	return false
}

// TestImagePullCredentialHelperAndProgress: leci image pull logs in to a
// registry with the credential helper docker's config.json names, reaches
// it over plain HTTP as leci's configuration file says, and shows each
// layer's progress in plain lines when its output is no terminal.
func TestImagePullCredentialHelperAndProgress(t *testing.T) {
	hr := newHarness(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Auth: true})
	ref := reg.Push(t, uniqueImage(t), "leci-it/pull:1")
	setup := newRegistrySetup(t, reg)

	// Without docker's config.json, the registry wants a login.
	cmd := hr.leci("", "image", "pull", "--config", setup.configFile, ref)
	cmd.Env = append(os.Environ(), "DOCKER_CONFIG="+t.TempDir(), "DOCKER_AUTH_CONFIG=")
	if code, out, errOut := runCmd(t, cmd); code == 0 {
		t.Fatalf("pulled with no login: %s %s", out, errOut)
	}

	cmd = hr.leci("", "image", "pull", "--config", setup.configFile, ref)
	cmd.Env = setup.env
	code, out, errOut := runCmd(t, cmd)
	if code != 0 {
		t.Fatalf("image pull: exit %d\n%s", code, errOut)
	}
	t.Cleanup(func() { runCmd(t, hr.leci("", "image", "rm", ref)) })
	if !strings.HasPrefix(out, ref+" ") {
		t.Errorf("stdout = %q, want the image's name and digest", out)
	}
	checkPlainProgress(t, errOut)
	asked, _ := os.ReadFile(setup.helperLog)
	if !strings.Contains(string(asked), reg.Host) {
		t.Errorf("the credential helper was not asked for %s (asked: %q)", reg.Host, asked)
	}
}

// TestRunPullProgress: leci run pulls with the same registry setup and
// shows the layers' progress on standard error, beside the group's status.
func TestRunPullProgress(t *testing.T) {
	hr := newHarness(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{Auth: true})
	ref := reg.Push(t, uniqueImage(t), "leci-it/run:1")
	setup := newRegistrySetup(t, reg)
	request := fmt.Sprintf(`ContainerGroupName: pull-progress
RestartPolicy: Never
Container:
  - Name: job
    Image: %s
    Command: [sh, -c, "echo pulled"]
`, ref)
	cmd := hr.leci(request, "run", "-f", "-", "--config", setup.configFile)
	cmd.Env = setup.env
	code, out, errOut := runCmd(t, cmd)
	t.Cleanup(func() { runCmd(t, hr.leci("", "image", "rm", ref)) })
	if code != 0 || out != "job| pulled\n" {
		t.Fatalf("run: exit %d, stdout %q\n%s", code, out, errOut)
	}
	checkPlainProgress(t, errOut)
}

// TestHostsTomlCA: a registry serving TLS with a certificate no system CA
// signed is reached once hosts.toml, in a --registry-config-dir, names its
// CA file, as containerd reads it. Docker's daemon does its own TLS (its
// /etc/docker/certs.d, loopback registries trusted): containerd only.
func TestHostsTomlCA(t *testing.T) {
	if !runsOn(t, host.RuntimeContainerd) {
		return
	}
	hr := newHarness(t)
	reg := testutil.StartRegistry(t, testutil.RegistryOptions{TLS: true})
	ref := reg.Push(t, uniqueImage(t), "leci-it/tls:1")

	empty := t.TempDir()
	code, _, errOut := runCmd(t, hr.leci("", "image", "pull", "--registry-config-dir", empty, ref))
	if code == 0 || !strings.Contains(errOut, "certificate") {
		t.Fatalf("pulled from a registry whose CA is unknown, or failed for another reason: exit %d\n%s", code, errOut)
	}

	dirs := t.TempDir()
	hostDir := filepath.Join(dirs, reg.Host)
	if err := os.MkdirAll(hostDir, 0o755); err != nil {
		t.Fatal(err)
	}
	hostsToml := fmt.Sprintf("server = \"https://%s\"\n\n[host.\"https://%s\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = %q\n", reg.Host, reg.Host, reg.CAFile)
	if err := os.WriteFile(filepath.Join(hostDir, "hosts.toml"), []byte(hostsToml), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, hr.leci("", "image", "pull", "--registry-config-dir", empty+":"+dirs, ref))
	if code != 0 {
		t.Fatalf("image pull with hosts.toml: exit %d\n%s", code, errOut)
	}
	t.Cleanup(func() { runCmd(t, hr.leci("", "image", "rm", ref)) })
	if !strings.HasPrefix(out, ref+" ") {
		t.Errorf("stdout = %q", out)
	}
}
