//go:build integration

package integration

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"leci/api"
	"leci/kube"
)

// configMapRequest is examples/kube/configmap.yaml written as an ECI request.
var configMapRequest = `ContainerGroupName: configmap
RestartPolicy: Never
Container:
  - Name: app
    Image: ` + exampleImageRef + `
    Command: [sh, -c, "cat /etc/app/greeting; echo; echo ip=$POD_IP; exit 3"]
    EnvironmentVar:
      - Key: POD_IP
        FieldRef: {FieldPath: status.podIP}
    VolumeMount:
      - {Name: settings, MountPath: /etc/app, ReadOnly: true}
Volume:
  - Name: settings
    Type: ConfigFileVolume
    ConfigFileVolume:
      ConfigFileToPath:
        - {Path: greeting, Content: ` + base64.StdEncoding.EncodeToString([]byte("hello from a ConfigMap")) + `}
`

// kubeRun is what one leci run of a file shows: its exit code, its output
// with the group's address written IP, and its final status.
type kubeRun struct {
	code   int
	out    string
	status api.ContainerGroupDetail
}

func runFile(t *testing.T, hr *harness, file string) kubeRun {
	t.Helper()
	final := filepath.Join(t.TempDir(), "final.json")
	code, out, errOut := runCmd(t, hr.leci("", "run", "-f", file, "--final-status", final))
	data, err := os.ReadFile(final)
	if err != nil {
		t.Fatalf("leci run -f %s: exit %d, no final status: %v\n%s", file, code, err, errOut)
	}
	var g api.ContainerGroupDetail
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if g.IntranetIP == "" {
		t.Fatalf("leci run -f %s: the group had no address:\n%s", file, data)
	}
	return kubeRun{code: code, out: strings.ReplaceAll(out, g.IntranetIP, "IP"), status: g}
}

// TestRunPodsAsRequests runs two Pod manifests and the ECI requests they
// stand for: both end the same, print the same (the group's address from
// status.podIP, the volumes' content) and describe the same containers.
func TestRunPodsAsRequests(t *testing.T) {
	hr := newHarness(t)
	request := filepath.Join(t.TempDir(), "configmap.yaml")
	if err := os.WriteFile(request, []byte(configMapRequest), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pod, request string
		code         int
		out          string
		phase        api.GroupStatus
		exitCode     int
	}{
		{"../examples/kube/job-init.yaml", "../examples/job-init.yaml", 0, "job| fetched\njob| prepared\njob| done\n", api.GroupSucceeded, 0},
		{"../examples/kube/configmap.yaml", request, 1, "app| hello from a ConfigMap\napp| ip=IP\n", api.GroupFailed, 3},
	} {
		t.Run(filepath.Base(tc.pod), func(t *testing.T) {
			fromPod, fromRequest := runFile(t, hr, tc.pod), runFile(t, hr, tc.request)
			for _, r := range []struct {
				what string
				run  kubeRun
			}{{"Pod", fromPod}, {"request", fromRequest}} {
				st := r.run.status
				if r.run.code != tc.code || r.run.out != tc.out || st.Status != tc.phase ||
					st.Containers[0].CurrentState.ExitCode != tc.exitCode {
					t.Errorf("%s: exit %d, status %s, container exit code %d, output %q; want %d, %s, %d, %q",
						r.what, r.run.code, st.Status, st.Containers[0].CurrentState.ExitCode, r.run.out, tc.code, tc.phase, tc.exitCode, tc.out)
				}
			}
			// The two groups are the same group: containers, their
			// environment and mounts, and the volumes.
			a, b := fromPod.status, fromRequest.status
			for i := range a.Containers {
				if !reflect.DeepEqual(a.Containers[i].EnvironmentVars, b.Containers[i].EnvironmentVars) ||
					!reflect.DeepEqual(a.Containers[i].VolumeMounts, b.Containers[i].VolumeMounts) ||
					!reflect.DeepEqual(a.Containers[i].Commands, b.Containers[i].Commands) {
					t.Errorf("container %d differs:\nPod:     %+v\nrequest: %+v", i, a.Containers[i], b.Containers[i])
				}
			}
			if len(a.InitContainers) != len(b.InitContainers) || !reflect.DeepEqual(a.Volumes, b.Volumes) {
				t.Errorf("init containers or volumes differ:\nPod:     %+v %+v\nrequest: %+v %+v", a.InitContainers, a.Volumes, b.InitContainers, b.Volumes)
			}
		})
	}
}

// TestKubeCreateAndGenerate sends a Pod to the daemon with leci create and
// reads the group back as a Pod with leci kube generate: the Pod a cluster
// would run is the one sent.
func TestKubeCreateAndGenerate(t *testing.T) {
	hr := newHarness(t)
	d := hr.startDaemon()
	out, err := d.client("", "create", "-f", "../examples/kube/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out)
	d.waitStatus(id, api.GroupFailed)
	generated, err := d.client("", "kube", "generate", id)
	if err != nil {
		t.Fatal(err)
	}
	back, err := kube.Decode([]byte(generated), nil)
	if err != nil {
		t.Fatalf("the generated manifest does not read: %v\n%s", err, generated)
	}
	data, err := os.ReadFile("../examples/kube/configmap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sent, err := kube.Decode(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The daemon describes the group with its defaults applied: compare
	// what the Pod said.
	got, want := back.Request, sent.Request
	gc, wc := got.Container[0], want.Container[0]
	if got.ContainerGroupName != want.ContainerGroupName || got.RestartPolicy != want.RestartPolicy ||
		!reflect.DeepEqual(gc.Command, wc.Command) || !reflect.DeepEqual(gc.EnvironmentVar, wc.EnvironmentVar) ||
		len(gc.VolumeMount) != 1 || gc.VolumeMount[0].Name != wc.VolumeMount[0].Name ||
		gc.VolumeMount[0].MountPath != wc.VolumeMount[0].MountPath || !gc.VolumeMount[0].ReadOnly || len(got.Volume) != 1 ||
		!reflect.DeepEqual(got.Volume[0].ConfigFileVolume.ConfigFileToPath, want.Volume[0].ConfigFileVolume.ConfigFileToPath) {
		t.Errorf("generated Pod:\n%s\nreads as %+v\nwant %+v", generated, got, want)
	}
	if _, err := d.client("", "delete", id); err != nil {
		t.Fatal(err)
	}
}
