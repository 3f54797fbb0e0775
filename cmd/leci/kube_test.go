package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateKubeManifests(t *testing.T) {
	files, _ := filepath.Glob("../../examples/kube/*.yaml")
	if len(files) == 0 {
		t.Fatal("no manifests in examples/kube")
	}
	for _, file := range files {
		code, out, errOut := runCLI(t, "", "validate", "-f", file)
		if code != 0 || out != "valid\n" {
			t.Errorf("validate %s: exit %d, stdout %q, stderr %q; want 0 and valid", file, code, out, errOut)
		}
	}
}

func TestValidatePodRefusesAndWarns(t *testing.T) {
	in := "apiVersion: v1\nkind: Pod\nmetadata: {name: demo}\nspec:\n  hostPID: true\n  nodeSelector: {a: b}\n  containers:\n  - name: app\n    image: busybox\n"
	code, _, errOut := runCLI(t, in, "validate", "-f", "-")
	if code != exitUsage || !strings.Contains(errOut, "ERROR InvalidParameter: spec.hostPID: not supported: ") {
		t.Errorf("exit %d, stderr %q; want 2 (invalid request) and the refused field", code, errOut)
	}
	in = strings.Replace(in, "  hostPID: true\n", "", 1)
	code, out, errOut := runCLI(t, in, "validate", "-f", "-")
	if code != 0 || out != "valid\n" || !strings.HasPrefix(errOut, "WARNING spec.nodeSelector: left out: ") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0, valid and a warning", code, out, errOut)
	}
}

// A Secret the Pod names comes from --from-file.
func TestValidatePodFromFile(t *testing.T) {
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: demo}\nspec:\n  containers:\n  - name: app\n    image: busybox\n    env:\n    - name: T\n      valueFrom:\n        secretKeyRef: {name: s, key: t}\n"
	code, _, errOut := runCLI(t, pod, "validate", "-f", "-")
	if code != exitUsage || !strings.Contains(errOut, `Secret "s" is not given`) {
		t.Errorf("without --from-file: exit %d, stderr %q", code, errOut)
	}
	secret := filepath.Join(t.TempDir(), "secret.yaml")
	if err := os.WriteFile(secret, []byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {t: x}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, pod, "validate", "-f", "-", "--from-file", secret, "-o", "json")
	if code != 0 || !strings.Contains(out, `"Key": "T"`) || !strings.Contains(out, `"Value": "x"`) {
		t.Errorf("with --from-file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestKubeGenerateFile(t *testing.T) {
	code, out, errOut := runCLI(t, "", "kube", "generate", "-f", "../../examples/job-init.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want, err := os.ReadFile("../../examples/kube/job-init.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The generated Pod is the example's, as the API types print it; the
	// example validates as the same request (TestPodRoundTrip), so compare
	// what matters to a reader: the names and commands.
	for _, s := range []string{"kind: Pod", "name: job-init", "name: fetch", "name: prepare", "fieldPath: status.podIP", "emptyDir: {}", "restartPolicy: Never"} {
		if !strings.Contains(out, s) || !strings.Contains(string(want), s) {
			t.Errorf("generated Pod or example lacks %q:\n%s", s, out)
		}
	}
	if errOut != "" {
		t.Errorf("stderr = %q, want nothing lost", errOut)
	}
	code, _, errOut = runCLI(t, "", "kube", "generate", "-f", "../../examples/every-field.yaml")
	if code != 0 || !strings.Contains(errOut, "NOTE Volume.5.DiskVolume.DiskId: no Pod field or ECI annotation carries it") {
		t.Errorf("every-field: exit %d, stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "", "kube", "generate"); code != 2 {
		t.Errorf("no group and no file: exit %d, want 2", code)
	}
}

func TestKubeHelpListsRefusedFields(t *testing.T) {
	code, out, _ := runCLI(t, "", "kube", "--help")
	if code != 0 || !strings.Contains(out, "spec.hostNetwork: a group always has namespaces of its own") ||
		!strings.Contains(out, "spec.nodeSelector: only the cluster's scheduler reads it") {
		t.Errorf("exit %d, help:\n%s", code, out)
	}
}
