//go:build integration && cluster

package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"leci/api"
)

// The cluster tests run a real control plane (hack/kube-cluster.sh: etcd
// and a kube-apiserver built from k8s.io/kubernetes) and leci daemons that
// join it as nodes. They have a build tag of their own, cluster, and a
// make target, test-cluster: the apiserver's build takes minutes when its
// cache is cold.

// kubeCluster is the running control plane.
type kubeCluster struct {
	kubeconfig string
	bin        string
}

// startCluster starts the control plane afresh (its state from an earlier
// run removed) and stops it when the test ends.
func startCluster(t *testing.T) *kubeCluster {
	t.Helper()
	requirePrereqs(t)
	for _, bin := range []string{"etcd", "openssl"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found: run hack/install-deps.sh", bin)
			}
			t.Skipf("%s not found: run hack/install-deps.sh", bin)
		}
	}
	script, err := filepath.Abs("../hack/kube-cluster.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(arg string) string {
		cmd := exec.Command(script, arg)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kube-cluster.sh %s: %v\n%s", arg, err, errOut.String())
		}
		return strings.TrimSpace(string(out))
	}
	run("reset")
	kubeconfig := run("start")
	t.Cleanup(func() { run("reset") })
	env := run("env")
	c := &kubeCluster{kubeconfig: kubeconfig}
	for _, line := range strings.Split(env, "\n") {
		if dir, ok := strings.CutPrefix(line, "PATH="); ok {
			c.bin = filepath.Join(strings.Split(dir, ":")[0], "kubectl")
		}
	}
	if c.bin == "" {
		t.Fatalf("kube-cluster.sh env names no kubectl:\n%s", env)
	}
	return c
}

// kubectl runs kubectl on the cluster and returns its output and exit code.
func (c *kubeCluster) run(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(c.bin, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func (c *kubeCluster) kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, code := c.run(t, stdin, args...)
	if code != 0 {
		t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

func (c *kubeCluster) pod(t *testing.T, name string) (*corev1.Pod, bool) {
	t.Helper()
	out, code := c.run(t, "", "get", "pod", name, "-o", "json")
	if code != 0 {
		if strings.Contains(out, "NotFound") {
			return nil, false
		}
		t.Fatalf("kubectl get pod %s: exit %d\n%s", name, code, out)
	}
	var p corev1.Pod
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("kubectl get pod %s: %v\n%s", name, err, out)
	}
	return &p, true
}

// waitPod polls the Pod until cond holds.
func (c *kubeCluster) waitPod(t *testing.T, name, what string, timeout time.Duration, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, ok := c.pod(t, name)
		if ok && cond(p) {
			return p
		}
		if time.Now().After(deadline) {
			b, _ := json.MarshalIndent(p, "", "  ")
			t.Fatalf("pod %s: not %s after %s:\n%s", name, what, timeout, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// startNode starts a leci daemon on the harness's root that joins the
// cluster as node name, its kubelet API on the loopback address kubelet.
func (c *kubeCluster) startNode(hr *harness, name, kubelet string) *daemon {
	hr.t.Helper()
	d := hr.startDaemon("--kubeconfig", c.kubeconfig, "--node-name", name, "--node-ip", "127.0.0.1", "--kubelet-listen", kubelet)
	c.waitNodeReady(hr.t, name)
	return d
}

func (c *kubeCluster) waitNodeReady(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, code := c.run(t, "", "get", "node", name, "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}")
		if code == 0 && out == "True" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s not Ready: %s", name, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// webPod is a Pod with an init container that prepares a file and an app
// container that shows it and turns ready through an exec probe.
func webPod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 3
  initContainers:
  - name: prepare
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "echo prepared > /work/state"]
    volumeMounts: [{name: work, mountPath: /work}]
  containers:
  - name: app
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "cat /work/state; touch /tmp/ready; exec sleep 3600"]
    readinessProbe:
      exec: {command: [cat, /tmp/ready]}
      periodSeconds: 1
    volumeMounts: [{name: work, mountPath: /work}]
  volumes:
  - name: work
    emptyDir: {}
`, name, node, exampleImageRef)
}

// groupOfPod is the id of the daemon's only group, which must run the Pod.
func groupOfPod(t *testing.T, d *daemon, pod string) string {
	t.Helper()
	ids := d.groupIDs()
	if len(ids) != 1 {
		t.Fatalf("the daemon has groups %v, want one for pod %s", ids, pod)
	}
	return ids[0]
}

// checkMatchesDescribe compares the Pod's status with leci describe of its
// group.
func checkMatchesDescribe(t *testing.T, p *corev1.Pod, g api.ContainerGroupDetail) {
	t.Helper()
	if g.ContainerGroupName != p.Name {
		t.Errorf("group name %q, want the pod's %q", g.ContainerGroupName, p.Name)
	}
	if string(p.Status.Phase) != "Running" || g.Status != api.GroupRunning {
		t.Errorf("pod phase %s, group %s; want Running and Running", p.Status.Phase, g.Status)
	}
	if p.Status.PodIP == "" || p.Status.PodIP != g.IntranetIP {
		t.Errorf("pod IP %q, group address %q: want the same, not empty", p.Status.PodIP, g.IntranetIP)
	}
	if len(p.Status.ContainerStatuses) != len(g.Containers) {
		t.Fatalf("pod has %d container statuses, group %d containers", len(p.Status.ContainerStatuses), len(g.Containers))
	}
	for i, cs := range p.Status.ContainerStatuses {
		gc := g.Containers[i]
		if cs.Name != gc.Name || cs.Ready != gc.Ready || int(cs.RestartCount) != gc.RestartCount {
			t.Errorf("container %d: pod says %s ready=%v restarts=%d, group %s ready=%v restarts=%d",
				i, cs.Name, cs.Ready, cs.RestartCount, gc.Name, gc.Ready, gc.RestartCount)
		}
		if (cs.State.Running != nil) != (gc.CurrentState.State == api.StateRunning) {
			t.Errorf("container %s: pod state %+v, group %s", cs.Name, cs.State, gc.CurrentState.State)
		}
	}
	if len(p.Status.InitContainerStatuses) != len(g.InitContainers) {
		t.Fatalf("pod has %d init container statuses, group %d", len(p.Status.InitContainerStatuses), len(g.InitContainers))
	}
	for i, cs := range p.Status.InitContainerStatuses {
		gc := g.InitContainers[i]
		if cs.State.Terminated == nil || cs.State.Terminated.Reason != "Completed" || gc.CurrentState.State != api.StateTerminated {
			t.Errorf("init container %s: pod state %+v, group %s; want terminated, Completed", cs.Name, cs.State, gc.CurrentState.State)
		}
	}
}

// TestClusterNode joins a real cluster as a node and runs a Pod bound to
// it: it becomes Ready with the status leci describe shows, kubectl logs
// and exec reach its container, it survives a restart of leci, and
// deleting it leaves nothing on the host; a group whose Pod was deleted
// while leci was down goes when leci starts again.
func TestClusterNode(t *testing.T) {
	c := startCluster(t)
	hr := newHarness(t)
	const node = "leci-it-1"
	kubelet := freeLoopbackPort(t)
	d := c.startNode(hr, node, kubelet)

	out := c.kubectl(t, "", "get", "node", node, "-o", "json")
	var n corev1.Node
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		t.Fatal(err)
	}
	if n.Status.Capacity.Cpu().IsZero() || n.Status.Capacity.Memory().IsZero() || n.Status.Capacity.Pods().Value() != 110 {
		t.Errorf("node capacity %v: want this host's CPUs and memory, 110 pods", n.Status.Capacity)
	}

	c.kubectl(t, webPod("web", node), "apply", "-f", "-")
	p := c.waitPod(t, "web", "Ready", 60*time.Second, podReady)
	id := groupOfPod(t, d, "web")
	checkMatchesDescribe(t, p, d.describe(id))

	if got := c.kubectl(t, "", "logs", "web", "-c", "app"); got != "prepared\n" {
		t.Errorf("kubectl logs = %q, want %q", got, "prepared\n")
	}
	execOut, code := c.run(t, "", "exec", "web", "-c", "app", "--", "sh", "-c", "cat /work/state; echo to-stderr >&2; exit 3")
	if code != 3 || !strings.Contains(execOut, "prepared\n") || !strings.Contains(execOut, "to-stderr\n") {
		t.Errorf("kubectl exec: exit %d, output %q; want 3 and the file and stderr", code, execOut)
	}

	// Killed and started again, leci takes the group back: same group,
	// Pod still Ready, no restart.
	d.kill()
	d = c.startNode(hr, node, kubelet)
	if again := groupOfPod(t, d, "web"); again != id {
		t.Fatalf("after a restart the pod runs as group %s, want %s", again, id)
	}
	p = c.waitPod(t, "web", "Ready after a restart", 30*time.Second, podReady)
	checkMatchesDescribe(t, p, d.describe(id))

	// Deleted in the cluster: the group goes, and the Pod with it.
	c.kubectl(t, "", "delete", "pod", "web", "--timeout", "60s")
	if _, ok := c.pod(t, "web"); ok {
		t.Error("pod web still there after kubectl delete returned")
	}
	waitNoGroups(t, d)

	// A Pod deleted while leci is down: its group is collected at start.
	c.kubectl(t, webPod("gone", node), "apply", "-f", "-")
	c.waitPod(t, "gone", "Ready", 60*time.Second, podReady)
	d.kill()
	c.kubectl(t, "", "delete", "pod", "gone", "--grace-period=0", "--force")
	d = c.startNode(hr, node, kubelet)
	waitNoGroups(t, d)
	d.stop()
}

func waitNoGroups(t *testing.T, d *daemon) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ids := d.groupIDs()
		if len(ids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("groups left: %v", ids)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
