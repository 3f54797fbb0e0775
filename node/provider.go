//go:build leci_node

package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/virtual-kubelet/virtual-kubelet/errdefs"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	corev1listers "k8s.io/client-go/listers/core/v1"

	"leci/api"
	"leci/kube"
	"leci/pod"
	"leci/runtime"
)

// The tags a Pod's group carries: they tie the group to its node and Pod,
// so that a restarted leci finds the Pods it runs, and collects the groups
// whose Pod is gone.
const (
	TagNode         = "leci.node"
	TagPodNamespace = "leci.pod.namespace"
	TagPodName      = "leci.pod.name"
	TagPodUID       = "leci.pod.uid"
)

// Groups is what the node needs of leci's engine (*runtime.Engine).
type Groups interface {
	Create(ctx context.Context, req *api.CreateContainerGroupRequest) (string, error)
	Get(id string) (runtime.GroupStatus, error)
	List() []runtime.GroupStatus
	Watch(ctx context.Context, id string) (<-chan runtime.GroupStatus, error)
	Delete(ctx context.Context, id string) error
	ExecAttach(ctx context.Context, id, container string, eio pod.ExecIO) (int, error)
	Attach(ctx context.Context, id, container string, aio pod.ExecIO) (int, error)
}

var _ Groups = (*runtime.Engine)(nil)

// provider runs the Pods bound to one node as leci groups: the
// virtual-kubelet pod controller calls it.
type provider struct {
	name   string
	groups Groups
	root   string
	hostIP string
	check  func(*api.CreateContainerGroupRequest) error
	log    *slog.Logger
	// ctx bounds the watchers of the groups; it ends with the node.
	ctx        context.Context
	configMaps corev1listers.ConfigMapLister
	secrets    corev1listers.SecretLister

	mu   sync.Mutex
	pods map[string]*podGroup // by namespace/name
	// notify is the pod controller's callback for status changes; set
	// once (NotifyPods) before any watcher calls it.
	notify   func(*corev1.Pod)
	notified chan struct{}
}

// podGroup is one Pod and the group that runs it.
type podGroup struct {
	pod *corev1.Pod // the Pod as the cluster last gave it, status left out
	id  string
	// last is the group's last status seen, kept for the Pod's final
	// status once the group is deleted.
	last     runtime.GroupStatus
	deleting bool
}

func key(namespace, name string) string { return namespace + "/" + name }

func newProvider(ctx context.Context, cfg Config, configMaps corev1listers.ConfigMapLister, secrets corev1listers.SecretLister) *provider {
	p := &provider{
		name: cfg.NodeName, groups: cfg.Groups, root: cfg.Root, hostIP: cfg.Address, check: cfg.Check,
		log: cfg.Log, ctx: ctx, configMaps: configMaps, secrets: secrets,
		pods: map[string]*podGroup{}, notified: make(chan struct{}),
	}
	p.adopt()
	return p
}

// adopt takes back the groups this node made before leci restarted. The
// pod controller then deletes those whose Pod the cluster no longer has
// (GetPods lists them) and keeps the others' status up to date.
func (p *provider) adopt() {
	for _, st := range p.groups.List() {
		tags := tagsOf(st.Request)
		if tags[TagNode] != p.name || tags[TagPodName] == "" {
			continue
		}
		pg := &podGroup{id: st.ID, last: st, pod: &corev1.Pod{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
			ObjectMeta: metav1.ObjectMeta{
				Namespace: tags[TagPodNamespace], Name: tags[TagPodName], UID: types.UID(tags[TagPodUID]),
			},
		}}
		k := key(pg.pod.Namespace, pg.pod.Name)
		if old, ok := p.pods[k]; ok {
			// Two groups for one Pod name: the older Pod's was left
			// behind; the pod controller's sync deletes it through
			// UpdatePod when the UIDs differ.
			p.log.Warn("two groups for one Pod", "pod", k, "group", st.ID, "other", old.id)
			continue
		}
		p.pods[k] = pg
		p.log.Info("adopted the group of a Pod", "pod", k, "group", st.ID)
		go p.watch(k, pg)
	}
}

func tagsOf(req *api.CreateContainerGroupRequest) map[string]string {
	m := map[string]string{}
	if req == nil {
		return m
	}
	for _, t := range req.Tag {
		m[t.Key] = t.Value
	}
	return m
}

// request maps a Pod to its group's request with package kube's mapping,
// with the ConfigMaps and Secrets it names as sources, and tags it.
func (p *provider) request(po *corev1.Pod) (*api.CreateContainerGroupRequest, []string, error) {
	var sources kube.Sources
	if err := p.addSources(&sources, po); err != nil {
		return nil, nil, err
	}
	doc := po.DeepCopy()
	doc.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}
	doc.Status = corev1.PodStatus{}
	// What the cluster writes into every Pod, and what its scheduler
	// read to bind the Pod here: the group has no use for them, and the
	// mapping would note each as left out, for every Pod.
	doc.ManagedFields = nil
	doc.Finalizers = nil
	doc.Namespace, doc.UID, doc.ResourceVersion, doc.Generation = "", "", "", 0
	doc.CreationTimestamp = metav1.Time{}
	doc.Spec.NodeName, doc.Spec.SchedulerName = "", ""
	doc.Spec.Tolerations, doc.Spec.PreemptionPolicy, doc.Spec.EnableServiceLinks = nil, nil, nil
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, nil, err
	}
	res, err := kube.Decode(data, &sources)
	if err != nil {
		return nil, nil, err
	}
	req := res.Request
	req.Tag = withoutNodeTags(req.Tag)
	req.Tag = append(req.Tag,
		api.Tag{Key: TagNode, Value: p.name},
		api.Tag{Key: TagPodNamespace, Value: po.Namespace},
		api.Tag{Key: TagPodName, Value: po.Name},
		api.Tag{Key: TagPodUID, Value: string(po.UID)},
	)
	if err := req.Normalize(); err != nil {
		return nil, nil, err
	}
	if p.check != nil {
		if err := p.check(req); err != nil {
			return nil, nil, err
		}
	}
	return req, res.Warnings, nil
}

// withoutNodeTags drops the node's own tags from a Pod's custom tags: a
// Pod cannot pass for another.
func withoutNodeTags(tags []api.Tag) []api.Tag {
	out := tags[:0]
	for _, t := range tags {
		switch t.Key {
		case TagNode, TagPodNamespace, TagPodName, TagPodUID:
		default:
			out = append(out, t)
		}
	}
	return out
}

// addSources adds the ConfigMaps and Secrets of the Pod's namespace that
// the Pod names (see referencesOf). One the cluster does not have is left
// out: the mapping then reports the reference, unless it is optional.
func (p *provider) addSources(s *kube.Sources, po *corev1.Pod) error {
	refs := referencesOf(po)
	var objs []any
	for name := range refs.configMaps {
		cm, err := p.configMaps.ConfigMaps(po.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("ConfigMap %s: %w", name, err)
		}
		c := cm.DeepCopy()
		c.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}
		c.ObjectMeta = metav1.ObjectMeta{Name: cm.Name}
		objs = append(objs, c)
	}
	for name := range refs.secrets {
		sec, err := p.secrets.Secrets(po.Namespace).Get(name)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("Secret %s: %w", name, err)
		}
		c := sec.DeepCopy()
		c.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}
		c.ObjectMeta = metav1.ObjectMeta{Name: sec.Name}
		objs = append(objs, c)
	}
	for _, o := range objs {
		data, err := json.Marshal(o)
		if err != nil {
			return err
		}
		if err := s.Add(data); err != nil {
			return err
		}
	}
	return nil
}

// CreatePod runs a Pod bound to this node as a group. A Pod the mapping
// refuses fails with the request's error, which names the field.
func (p *provider) CreatePod(ctx context.Context, po *corev1.Pod) error {
	k := key(po.Namespace, po.Name)
	p.mu.Lock()
	if pg, ok := p.pods[k]; ok {
		if pg.pod.UID == po.UID {
			pg.pod = po.DeepCopy()
			p.mu.Unlock()
			return nil
		}
		// A Pod of the same name replaced the one this group ran.
		p.forgetLocked(k, pg)
	}
	p.mu.Unlock()

	req, warnings, err := p.request(po)
	if err != nil {
		return errdefs.AsInvalidInput(err)
	}
	for _, w := range warnings {
		p.log.Info("pod field left out", "pod", k, "warning", w)
	}
	id, err := p.groups.Create(context.WithoutCancel(ctx), req)
	if err != nil {
		return fmt.Errorf("create the group of pod %s: %w", k, err)
	}
	st, err := p.groups.Get(id)
	if err != nil {
		return fmt.Errorf("create the group of pod %s: %w", k, err)
	}
	pg := &podGroup{pod: po.DeepCopy(), id: id, last: st}
	p.mu.Lock()
	p.pods[k] = pg
	p.mu.Unlock()
	p.log.Info("pod runs as a group", "pod", k, "group", id)
	go p.watch(k, pg)
	return nil
}

// forgetLocked deletes the group of a Pod that is no longer the cluster's
// Pod of that name, in the background.
func (p *provider) forgetLocked(k string, pg *podGroup) {
	delete(p.pods, k)
	pg.deleting = true
	go func() {
		if err := p.groups.Delete(p.ctx, pg.id); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			p.log.Warn("delete the group of a replaced pod", "pod", k, "group", pg.id, "err", err)
		}
	}()
}

// UpdatePod keeps the cluster's latest copy of the Pod. A group's
// containers are fixed once created, as a kubelet's are but for images,
// which leci does not change in place either.
func (p *provider) UpdatePod(ctx context.Context, po *corev1.Pod) error {
	k := key(po.Namespace, po.Name)
	p.mu.Lock()
	pg, ok := p.pods[k]
	if ok && pg.pod.UID != po.UID {
		p.forgetLocked(k, pg)
		ok = false
	}
	if ok {
		pg.pod = po.DeepCopy()
	}
	p.mu.Unlock()
	if !ok {
		return p.CreatePod(ctx, po)
	}
	return nil
}

// DeletePod deletes the Pod's group in the background, with its grace
// period (preStop hooks, SIGTERM, SIGKILL once it has passed), then reports
// the Pod's final status.
func (p *provider) DeletePod(ctx context.Context, po *corev1.Pod) error {
	k := key(po.Namespace, po.Name)
	p.mu.Lock()
	pg, ok := p.pods[k]
	if !ok || (po.UID != "" && pg.pod.UID != po.UID) {
		p.mu.Unlock()
		return errdefs.NotFoundf("pod %s is not running on node %s", k, p.name)
	}
	if pg.deleting {
		p.mu.Unlock()
		return nil
	}
	pg.deleting = true
	p.mu.Unlock()
	p.log.Info("deleting the group of a deleted pod", "pod", k, "group", pg.id)
	go func() {
		err := p.groups.Delete(p.ctx, pg.id)
		if err != nil && !errors.Is(err, runtime.ErrNotFound) {
			p.log.Warn("delete the group of a pod", "pod", k, "group", pg.id, "err", err)
			p.mu.Lock()
			pg.deleting = false
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if p.pods[k] == pg {
			delete(p.pods, k)
		}
		final := pg.pod.DeepCopy()
		final.Status = finalStatus(&pg.last, p.hostIP)
		p.mu.Unlock()
		p.send(final)
	}()
	return nil
}

// finalStatus is the status of a Pod whose group is gone: every container
// terminated.
func finalStatus(last *runtime.GroupStatus, hostIP string) corev1.PodStatus {
	s := podStatus(last, hostIP)
	failed := false
	for _, list := range [][]corev1.ContainerStatus{s.InitContainerStatuses, s.ContainerStatuses} {
		for i := range list {
			c := &list[i]
			c.Ready = false
			c.Started = ptr(false)
			if c.State.Terminated == nil {
				c.State = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
					ExitCode: 137, Reason: runtime.ReasonContainerTerminated, Message: "the pod was deleted",
				}}
			}
			failed = failed || c.State.Terminated.ExitCode != 0
		}
	}
	if s.Phase != corev1.PodSucceeded {
		s.Phase = corev1.PodSucceeded
		if failed {
			s.Phase = corev1.PodFailed
		}
	}
	for i := range s.Conditions {
		switch s.Conditions[i].Type {
		case corev1.PodReady, corev1.ContainersReady:
			s.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	return s
}

// watch reports the group's status to the pod controller each time it
// changes, until the group is deleted or the node stops.
func (p *provider) watch(k string, pg *podGroup) {
	select {
	case <-p.notified:
	case <-p.ctx.Done():
		return
	}
	ch, err := p.groups.Watch(p.ctx, pg.id)
	if err != nil {
		p.log.Warn("watch the group of a pod", "pod", k, "group", pg.id, "err", err)
		return
	}
	for st := range ch {
		p.mu.Lock()
		pg.last = st
		po := pg.pod.DeepCopy()
		gone := p.pods[k] != pg
		p.mu.Unlock()
		if gone {
			continue // replaced or deleted: DeletePod reports the end
		}
		po.Status = podStatus(&st, p.hostIP)
		p.send(po)
	}
}

func (p *provider) send(po *corev1.Pod) {
	select {
	case <-p.notified:
		p.notify(po)
	case <-p.ctx.Done():
	}
}

// NotifyPods takes the pod controller's callback for status changes.
func (p *provider) NotifyPods(_ context.Context, cb func(*corev1.Pod)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.notify == nil {
		p.notify = cb
		close(p.notified)
	}
}

func (p *provider) lookup(namespace, name string) (*podGroup, *corev1.Pod, error) {
	p.mu.Lock()
	pg, ok := p.pods[key(namespace, name)]
	var po *corev1.Pod
	if ok {
		po = pg.pod.DeepCopy()
	}
	p.mu.Unlock()
	if !ok {
		return nil, nil, errdefs.NotFoundf("pod %s/%s is not running on node %s", namespace, name, p.name)
	}
	return pg, po, nil
}

// GetPod returns the Pod with its group's status now.
func (p *provider) GetPod(_ context.Context, namespace, name string) (*corev1.Pod, error) {
	pg, po, err := p.lookup(namespace, name)
	if err != nil {
		return nil, err
	}
	po.Status = p.statusOf(pg)
	return po, nil
}

func (p *provider) statusOf(pg *podGroup) corev1.PodStatus {
	st, err := p.groups.Get(pg.id)
	if err != nil {
		p.mu.Lock()
		st = pg.last
		p.mu.Unlock()
		return finalStatus(&st, p.hostIP)
	}
	return podStatus(&st, p.hostIP)
}

// GetPodStatus returns the status of the Pod's group now.
func (p *provider) GetPodStatus(ctx context.Context, namespace, name string) (*corev1.PodStatus, error) {
	po, err := p.GetPod(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return &po.Status, nil
}

// GetPods returns every Pod this node runs, those adopted after a restart
// included (the pod controller deletes the ones the cluster no longer has).
func (p *provider) GetPods(context.Context) ([]*corev1.Pod, error) {
	p.mu.Lock()
	all := make([]*podGroup, 0, len(p.pods))
	for _, pg := range p.pods {
		all = append(all, pg)
	}
	p.mu.Unlock()
	out := make([]*corev1.Pod, 0, len(all))
	for _, pg := range all {
		p.mu.Lock()
		po := pg.pod.DeepCopy()
		p.mu.Unlock()
		po.Status = p.statusOf(pg)
		out = append(out, po)
	}
	return out, nil
}
