//go:build leci_node

package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	vkapi "github.com/virtual-kubelet/virtual-kubelet/node/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"leci/api"
	"leci/pod"
	"leci/runtime"
)

// fakeGroups is an engine that keeps requests and lets a test set status.
type fakeGroups struct {
	mu      sync.Mutex
	groups  map[string]*runtime.GroupStatus
	deleted []string
	next    int
}

func (f *fakeGroups) Create(_ context.Context, req *api.CreateContainerGroupRequest) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.next++
	id := "eci-" + string(rune('a'+f.next))
	f.groups[id] = &runtime.GroupStatus{ID: id, Request: req, Phase: api.GroupPending, CreatedAt: time.Unix(100, 0)}
	return id, nil
}

func (f *fakeGroups) Get(id string) (runtime.GroupStatus, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.groups[id]
	if !ok {
		return runtime.GroupStatus{}, runtime.ErrNotFound
	}
	return *g, nil
}

func (f *fakeGroups) List() []runtime.GroupStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []runtime.GroupStatus
	for _, g := range f.groups {
		out = append(out, *g)
	}
	return out
}

func (f *fakeGroups) Watch(ctx context.Context, id string) (<-chan runtime.GroupStatus, error) {
	ch := make(chan runtime.GroupStatus)
	go func() { <-ctx.Done(); close(ch) }()
	return ch, nil
}

func (f *fakeGroups) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.groups[id]; !ok {
		return runtime.ErrNotFound
	}
	delete(f.groups, id)
	f.deleted = append(f.deleted, id)
	return nil
}

func (f *fakeGroups) ExecAttach(context.Context, string, string, pod.ExecIO) (int, error) {
	return 0, errors.New("not in this test")
}

func (f *fakeGroups) Attach(context.Context, string, string, pod.ExecIO) (int, error) {
	return 0, errors.New("not in this test")
}

func newTestProvider(t *testing.T, groups *fakeGroups, objs ...any) *provider {
	t.Helper()
	cms := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	secs := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.ConfigMap:
			cms.Add(o)
		case *corev1.Secret:
			secs.Add(o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg := Config{NodeName: "n1", Groups: groups, Address: "192.0.2.7", Log: slog.New(slog.DiscardHandler)}
	return newProvider(ctx, cfg, corev1listers.NewConfigMapLister(cms), corev1listers.NewSecretLister(secs))
}

// clusterPod is a Pod as the API server hands it to a kubelet: defaults,
// tolerations and the node's name filled in.
func clusterPod(name string) *corev1.Pod {
	grace := int64(5)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team", UID: types.UID("uid-" + name),
			ResourceVersion: "7", CreationTimestamp: metav1.Now(), Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			NodeName: "n1", RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			SchedulerName: "default-scheduler", TerminationGracePeriodSeconds: &grace,
			SecurityContext: &corev1.PodSecurityContext{},
			Tolerations:     []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute}},
			Containers: []corev1.Container{{
				Name: "app", Image: "busybox:1.36", ImagePullPolicy: corev1.PullIfNotPresent,
				Command:                []string{"sh", "-c", "cat /etc/app/greeting"},
				TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				VolumeMounts: []corev1.VolumeMount{{Name: "settings", MountPath: "/etc/app"}},
			}},
			Volumes: []corev1.Volume{{Name: "settings", VolumeSource: corev1.VolumeSource{
				ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "greeting"}}}}},
		},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func TestCreatePodMapsAndTagsTheGroup(t *testing.T) {
	groups := &fakeGroups{groups: map[string]*runtime.GroupStatus{}}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "greeting", Namespace: "team", ResourceVersion: "3"},
		Data: map[string]string{"greeting": "hello"}}
	p := newTestProvider(t, groups, cm)
	if err := p.CreatePod(context.Background(), clusterPod("web")); err != nil {
		t.Fatal(err)
	}
	all := groups.List()
	if len(all) != 1 {
		t.Fatalf("%d groups, want 1", len(all))
	}
	req := all[0].Request
	if req.ContainerGroupName != "web" || req.Container[0].Image != "busybox:1.36" {
		t.Errorf("group %q image %q, want web, busybox:1.36", req.ContainerGroupName, req.Container[0].Image)
	}
	tags := tagsOf(req)
	want := map[string]string{TagNode: "n1", TagPodNamespace: "team", TagPodName: "web", TagPodUID: "uid-web"}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("tag %s = %q, want %q", k, tags[k], v)
		}
	}
	if v := req.Volume; len(v) != 1 || v[0].ConfigFileVolume == nil || len(v[0].ConfigFileVolume.ConfigFileToPath) != 1 {
		t.Errorf("volumes %+v: want the ConfigMap's one file", v)
	}
	got, err := p.GetPod(context.Background(), "team", "web")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Phase != corev1.PodPending || got.Status.HostIP != "192.0.2.7" {
		t.Errorf("GetPod status %s host %s, want Pending on 192.0.2.7", got.Status.Phase, got.Status.HostIP)
	}
}

func TestCreatePodRefusesWhatTheMappingRefuses(t *testing.T) {
	groups := &fakeGroups{groups: map[string]*runtime.GroupStatus{}}
	p := newTestProvider(t, groups)
	po := clusterPod("web")
	po.Spec.Volumes = nil
	po.Spec.Containers[0].VolumeMounts = nil
	po.Spec.HostNetwork = true
	err := p.CreatePod(context.Background(), po)
	if !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "spec.hostNetwork") {
		t.Fatalf("err = %v, want invalid input naming spec.hostNetwork", err)
	}
	if n := len(groups.List()); n != 0 {
		t.Errorf("%d groups made for a refused pod", n)
	}
}

func TestAdoptAfterRestartAndDeleteTheGone(t *testing.T) {
	groups := &fakeGroups{groups: map[string]*runtime.GroupStatus{}}
	mine := &api.CreateContainerGroupRequest{ContainerGroupName: "web", Tag: []api.Tag{
		{Key: TagNode, Value: "n1"}, {Key: TagPodNamespace, Value: "team"}, {Key: TagPodName, Value: "web"}, {Key: TagPodUID, Value: "u1"}}}
	other := &api.CreateContainerGroupRequest{ContainerGroupName: "job", Tag: []api.Tag{
		{Key: TagNode, Value: "n2"}, {Key: TagPodNamespace, Value: "team"}, {Key: TagPodName, Value: "job"}}}
	plain := &api.CreateContainerGroupRequest{ContainerGroupName: "mine"}
	for _, r := range []*api.CreateContainerGroupRequest{mine, other, plain} {
		groups.Create(context.Background(), r)
	}
	p := newTestProvider(t, groups)
	pods, err := p.GetPods(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pods) != 1 || pods[0].Namespace != "team" || pods[0].Name != "web" || pods[0].UID != "u1" {
		t.Fatalf("GetPods = %v, want team/web of uid u1 only", pods)
	}
	// The pod controller deletes a Pod the cluster no longer has.
	var final *corev1.Pod
	done := make(chan struct{})
	p.NotifyPods(context.Background(), func(po *corev1.Pod) { final = po; close(done) })
	if err := p.DeletePod(context.Background(), pods[0]); err != nil {
		t.Fatal(err)
	}
	<-done
	if len(groups.deleted) != 1 || len(groups.List()) != 2 {
		t.Errorf("deleted %v, left %d groups; want the pod's group deleted, the other two left", groups.deleted, len(groups.List()))
	}
	if final.Status.Phase != corev1.PodSucceeded && final.Status.Phase != corev1.PodFailed {
		t.Errorf("final phase %s, want a terminal one", final.Status.Phase)
	}
	if _, err := p.GetPod(context.Background(), "team", "web"); !errdefs.IsNotFound(err) {
		t.Errorf("GetPod after delete: %v, want not found", err)
	}
	if err := p.DeletePod(context.Background(), pods[0]); !errdefs.IsNotFound(err) {
		t.Errorf("second DeletePod: %v, want not found", err)
	}
}

func TestLogsOfAContainerNotStartedAreEmpty(t *testing.T) {
	groups := &fakeGroups{groups: map[string]*runtime.GroupStatus{}}
	p := newTestProvider(t, groups)
	createPlainPod(t, p, "web")
	id := groups.List()[0].ID
	groups.mu.Lock()
	groups.groups[id].Containers = []runtime.ContainerStatus{{Name: "app"}}
	groups.mu.Unlock()
	r, err := p.GetContainerLogs(context.Background(), "team", "web", "app", vkapi.ContainerLogOpts{})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	if len(data) != 0 {
		t.Errorf("logs %q, want none", data)
	}
	if _, err := p.GetContainerLogs(context.Background(), "team", "web", "nope", vkapi.ContainerLogOpts{}); !errdefs.IsNotFound(err) {
		t.Errorf("logs of an unknown container: %v, want not found", err)
	}
}

func TestPortForwardToAPodNotRunningIsRefused(t *testing.T) {
	groups := &fakeGroups{groups: map[string]*runtime.GroupStatus{}}
	p := newTestProvider(t, groups)
	createPlainPod(t, p, "web")
	local, remote := net.Pipe()
	defer local.Close()
	err := p.PortForward(context.Background(), "team", "web", 8080, remote)
	if !errdefs.IsInvalidInput(err) || !strings.Contains(err.Error(), "not running") {
		t.Errorf("port-forward to a pending pod: %v, want invalid input, not running", err)
	}
	// The stream is closed: kubectl sees the forward end.
	if _, err := local.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("read from the forwarded stream: %v, want EOF", err)
	}
	if err := p.PortForward(context.Background(), "team", "nope", 8080, nopStream{}); !errdefs.IsNotFound(err) {
		t.Errorf("port-forward to an unknown pod: %v, want not found", err)
	}
}

type nopStream struct{ io.ReadWriter }

func (nopStream) Close() error { return nil }

// createPlainPod creates a Pod that names no ConfigMap.
func createPlainPod(t *testing.T, p *provider, name string) {
	t.Helper()
	po := clusterPod(name)
	po.Spec.Volumes = nil
	po.Spec.Containers[0].VolumeMounts = nil
	if err := p.CreatePod(context.Background(), po); err != nil {
		t.Fatal(err)
	}
}
