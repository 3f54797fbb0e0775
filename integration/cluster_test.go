//go:build integration && cluster

package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"leci/api"
	"leci/host"
)

// The cluster tests run a real control plane (hack/kube-cluster.sh: etcd
// and a kube-apiserver built from k8s.io/kubernetes) and leci daemons that
// join it as nodes. They have a build tag of their own, cluster, and run
// in make test as its last step (make cluster; make test-cluster runs them
// alone): the apiserver's build takes minutes when its cache is cold, so
// make test starts it in the background before the integration passes.

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

// talkPod is a Pod whose container answers one line of its stdin and ends.
func talkPod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  nodeName: %[2]s
  restartPolicy: Never
  containers:
  - name: app
    image: %[3]s
    imagePullPolicy: IfNotPresent
    stdin: true
    command: [sh, -c, "read line; echo got $line"]
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
// deleting it leaves nothing on the host; kubectl attach talks to a
// container's process; a group whose Pod was deleted while leci was down
// goes when leci starts again.
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
	// same container process (its start time and no restart), Pod still
	// Ready.
	before := d.describe(id)
	d.kill()
	d = c.startNode(hr, node, kubelet)
	if again := groupOfPod(t, d, "web"); again != id {
		t.Fatalf("after a restart the pod runs as group %s, want %s", again, id)
	}
	p = c.waitPod(t, "web", "Ready after a restart", 30*time.Second, podReady)
	after := d.describe(id)
	checkMatchesDescribe(t, p, after)
	if b, a := before.Containers[0], after.Containers[0]; a.RestartCount != 0 || a.CurrentState.StartTime != b.CurrentState.StartTime {
		t.Errorf("after leci's restart container app started %s with %d restarts; want still the run started %s, no restart",
			a.CurrentState.StartTime, a.RestartCount, b.CurrentState.StartTime)
	}
	if cs := p.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.State.Running == nil {
		t.Errorf("after leci's restart the pod says container app %+v with %d restarts; want running, none", cs.State, cs.RestartCount)
	}

	// Deleted in the cluster: the group goes, and the Pod with it.
	c.kubectl(t, "", "delete", "pod", "web", "--timeout", "60s")
	if _, ok := c.pod(t, "web"); ok {
		t.Error("pod web still there after kubectl delete returned")
	}
	waitNoGroups(t, d)
	// Nothing of it is left on the host: containers, snapshots, mounts,
	// network namespace, veth, IP, cgroups, files.
	hr.assertNothingLeft()

	// kubectl attach -i: what goes in reaches the running process's stdin,
	// what it writes comes back, and its end ends the attach.
	c.kubectl(t, talkPod("talk", node), "apply", "-f", "-")
	c.waitPod(t, "talk", "Ready", 60*time.Second, podReady)
	if out, code := c.run(t, "hello\n", "attach", "-i", "talk", "-c", "app"); code != 0 || !strings.Contains(out, "got hello\n") {
		t.Errorf("kubectl attach -i: exit %d, output %q; want 0 and the container's answer", code, out)
	}
	c.waitPod(t, "talk", "Succeeded", 30*time.Second, func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodSucceeded })
	c.kubectl(t, "", "delete", "pod", "talk", "--timeout", "60s")
	waitNoGroups(t, d)

	// A Pod deleted while leci is down: its group is collected at start.
	c.kubectl(t, webPod("gone", node), "apply", "-f", "-")
	c.waitPod(t, "gone", "Ready", 60*time.Second, podReady)
	d.kill()
	c.kubectl(t, "", "delete", "pod", "gone", "--grace-period=0", "--force")
	d = c.startNode(hr, node, kubelet)
	waitNoGroups(t, d)
	hr.assertNothingLeft()
	d.stop()
}

// TestClusterTwoNodes joins two leci roots of this machine (each its own
// bridge, subnet and containerd namespace or Docker owner) as two nodes:
// a Pod bound to each runs on that one, with an address of its subnet, and
// kubectl port-forward reaches a server that listens on each Pod's
// loopback only, through the kubelet API of the right node.
func TestClusterTwoNodes(t *testing.T) {
	c := startCluster(t)
	hr1 := newHarness(t)
	hr2 := newHarness(t, func(cfg *host.Config) {
		// Another /16 than the first node's: the subnets cannot meet.
		cfg.Subnet = "10.215." + strings.TrimPrefix(cfg.Subnet, "10.214.")
	})
	nodes := []struct {
		name string
		hr   *harness
		d    *daemon
	}{{name: "leci-it-a", hr: hr1}, {name: "leci-it-b", hr: hr2}}
	for i := range nodes {
		nodes[i].d = c.startNode(nodes[i].hr, nodes[i].name, freeLoopbackPort(t))
	}
	for _, n := range nodes {
		c.kubectl(t, servePod("on-"+n.name, n.name), "apply", "-f", "-")
	}
	for _, n := range nodes {
		name := "on-" + n.name
		p := c.waitPod(t, name, "Ready", 60*time.Second, podReady)
		id := groupOfPod(t, n.d, name)
		g := n.d.describe(id)
		checkMatchesDescribe(t, p, g)
		_, subnet, err := net.ParseCIDR(n.hr.cfg.Subnet)
		if err != nil {
			t.Fatal(err)
		}
		if ip := net.ParseIP(p.Status.PodIP); ip == nil || !subnet.Contains(ip) {
			t.Errorf("pod %s has IP %q, want one of node %s's subnet %s", name, p.Status.PodIP, n.name, subnet)
		}
		if got := c.portForwardGet(t, name, 8080, "/"); got != name+"\n" {
			t.Errorf("port-forward to pod %s answered %q, want %q", name, got, name+"\n")
		}
	}
	for _, n := range nodes {
		c.kubectl(t, "", "delete", "pod", "on-"+n.name, "--timeout", "60s")
	}
	for _, n := range nodes {
		waitNoGroups(t, n.d)
		n.hr.assertNothingLeft()
		n.d.stop()
	}
}

// servePod is a Pod whose container serves its own name over HTTP on
// 127.0.0.1:8080 of the Pod, which only a connection made inside the
// Pod's network namespace reaches.
func servePod(name, node string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %[1]s
spec:
  nodeName: %[2]s
  terminationGracePeriodSeconds: 3
  containers:
  - name: web
    image: %[3]s
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "mkdir /tmp/www; echo %[1]s > /tmp/www/index.html; exec httpd -f -p 127.0.0.1:8080 -h /tmp/www"]
    readinessProbe:
      exec: {command: [wget, -q, -O, /dev/null, "http://127.0.0.1:8080/"]}
      periodSeconds: 1
`, name, node, exampleImageRef)
}

// forwardingLine is what kubectl port-forward says once it listens.
var forwardingLine = regexp.MustCompile(`^Forwarding from 127\.0\.0\.1:(\d+) -> `)

// portForwardGet runs kubectl port-forward to the Pod's port on a free
// local port and returns the body of an HTTP GET of path through it.
func (c *kubeCluster) portForwardGet(t *testing.T, pod string, port int, path string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, "--kubeconfig", c.kubeconfig, "port-forward", "pod/"+pod, fmt.Sprintf(":%d", port))
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	local := ""
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if m := forwardingLine.FindStringSubmatch(sc.Text()); m != nil {
			local = m[1]
			break
		}
	}
	if local == "" {
		t.Fatalf("kubectl port-forward %s: no local port announced: %v\n%s", pod, sc.Err(), errOut.String())
	}
	go io.Copy(io.Discard, stdout)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+local+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET through kubectl port-forward %s: %v\n%s", pod, err, errOut.String())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET through kubectl port-forward %s: %s, %v\n%s", pod, resp.Status, err, errOut.String())
	}
	return string(body)
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
