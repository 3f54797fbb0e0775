// Package kube maps Kubernetes Pods to CreateContainerGroup requests and
// back, as ECI's virtual node does: Pod fields to request fields, and the
// k8s.aliyun.com/eci-* annotations to the request fields that a Pod has no
// field for.
package kube

import (
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"leci/api"
)

// fieldError is a Pod field leci refuses, and why.
type fieldError struct {
	path, why string
}

func invalidField(path, format string, args ...any) *api.Error {
	return &api.Error{Code: api.CodeInvalidParameter, Status: http.StatusBadRequest, Field: path, Message: fmt.Sprintf(format, args...)}
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// documentSeparator splits a multi-document YAML stream; compiled when
// first used, not at every start of leci.
var documentSeparator = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`) })

// documents splits data into its non-empty YAML documents.
func documents(data []byte) [][]byte {
	var out [][]byte
	for _, d := range documentSeparator().Split(string(data), -1) {
		if strings.TrimSpace(stripComments(d)) != "" {
			out = append(out, []byte(d))
		}
	}
	return out
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// IsManifest reports whether data holds Kubernetes objects (apiVersion and
// kind at the top) rather than an ECI request, which has neither.
func IsManifest(data []byte) bool {
	for _, doc := range documents(data) {
		var tm typeMeta
		if yaml.Unmarshal(doc, &tm) != nil {
			return false
		}
		return tm.APIVersion != "" && tm.Kind != ""
	}
	return false
}

// Sources holds the ConfigMaps and Secrets that a Pod's configMap and secret
// volumes, environment references and imagePullSecrets name. A cluster keeps
// them; leci takes them from files.
type Sources struct {
	configMaps map[string]*corev1.ConfigMap
	secrets    map[string]*corev1.Secret
}

// Add reads the ConfigMaps and Secrets of a YAML or JSON stream; any other
// object in it is an error.
func (s *Sources) Add(data []byte) error {
	for _, doc := range documents(data) {
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return invalidField("", "not a Kubernetes object: %v", err)
		}
		if ok, err := s.add(tm, doc); err != nil {
			return err
		} else if !ok {
			return invalidField("kind", "%s %s: only ConfigMap and Secret objects can be given with --from-file", tm.APIVersion, tm.Kind)
		}
	}
	return nil
}

// add keeps doc when it is a ConfigMap or Secret, reporting whether it was.
func (s *Sources) add(tm typeMeta, doc []byte) (bool, error) {
	if tm.APIVersion != "v1" {
		return false, nil
	}
	switch tm.Kind {
	case "ConfigMap":
		var cm corev1.ConfigMap
		if err := yaml.UnmarshalStrict(doc, &cm); err != nil {
			return true, invalidField("ConfigMap", "%v", err)
		}
		if s.configMaps == nil {
			s.configMaps = map[string]*corev1.ConfigMap{}
		}
		s.configMaps[cm.Name] = &cm
		return true, nil
	case "Secret":
		var sec corev1.Secret
		if err := yaml.UnmarshalStrict(doc, &sec); err != nil {
			return true, invalidField("Secret", "%v", err)
		}
		if s.secrets == nil {
			s.secrets = map[string]*corev1.Secret{}
		}
		// stringData is written into data by the API server; do the same.
		for k, v := range sec.StringData {
			if sec.Data == nil {
				sec.Data = map[string][]byte{}
			}
			sec.Data[k] = []byte(v)
		}
		s.secrets[sec.Name] = &sec
		return true, nil
	}
	return false, nil
}

// Result is a request made from a Pod, with what leci left out of it.
type Result struct {
	Request  *api.CreateContainerGroupRequest
	Warnings []string
}

// Decode makes a CreateContainerGroup request from data: a v1 Pod, or the
// Pod template of an apps/v1 Deployment or a batch/v1 Job, with any number
// of ConfigMaps and Secrets beside it (added to sources, which may hold more
// given apart). Refused fields are InvalidParameter errors naming the field.
func Decode(data []byte, sources *Sources) (*Result, error) {
	if sources == nil {
		sources = &Sources{}
	}
	var workload []byte
	var workloadType typeMeta
	for _, doc := range documents(data) {
		var tm typeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, invalidField("", "not a Kubernetes object: %v", err)
		}
		if ok, err := sources.add(tm, doc); err != nil {
			return nil, err
		} else if ok {
			continue
		}
		if workload != nil {
			return nil, invalidField("kind", "%s %s: the file already holds a %s; leci runs one Pod a file", tm.APIVersion, tm.Kind, workloadType.Kind)
		}
		workload, workloadType = doc, tm
	}
	if workload == nil {
		return nil, invalidField("kind", "the file holds no Pod, Deployment or Job")
	}
	tmpl, prefix, name, warnings, err := podTemplate(workloadType, workload)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := yaml.Unmarshal(workload, &raw); err != nil {
		return nil, invalidField("", "%v", err)
	}
	rawTmpl := raw
	if prefix != "" {
		rawTmpl, _ = lookup(raw, "spec", "template").(map[string]any)
	}
	m := &mapper{sources: sources, prefix: prefix}
	m.warnings = append(warnings, dropTokenVolumes(prefix, rawTmpl, &tmpl.Spec)...)
	if prefix == "" {
		for _, k := range sortedKeys(raw) {
			switch k {
			case "apiVersion", "kind", "metadata", "spec", "status":
			default:
				m.errs = append(m.errs, invalidField(k, "not a field of a Pod"))
			}
		}
	}
	w, refusals := checkFields(prefix, rawTmpl)
	m.warnings = append(m.warnings, w...)
	for _, f := range refusals {
		m.errs = append(m.errs, invalidField(f.path, "not supported: %s", f.why))
	}
	if len(m.errs) > 0 {
		return nil, m.errs
	}
	r := m.request(tmpl, name)
	if len(m.errs) > 0 {
		return nil, m.errs
	}
	if err := validate(prefix, r); err != nil {
		return nil, err
	}
	return &Result{Request: r, Warnings: m.warnings}, nil
}

// workload is what leci reads of a Deployment or a Job: its name and Pod
// template. The apps and batch API packages would add their every type to
// the binary for these two fields.
type workload struct {
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Template corev1.PodTemplateSpec `json:"template"`
	} `json:"spec"`
}

// podTemplate decodes the workload (checkFields refuses the fields it does
// not know, naming them) and returns its Pod template, the path to it, and the name a template
// without one takes.
func podTemplate(tm typeMeta, doc []byte) (*corev1.PodTemplateSpec, string, string, []string, error) {
	strict := func(out any) error {
		if err := yaml.Unmarshal(doc, out); err != nil {
			return invalidField("", "%s %s: %v", tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	switch {
	case tm.APIVersion == "v1" && tm.Kind == "Pod":
		var pod corev1.Pod
		if err := strict(&pod); err != nil {
			return nil, "", "", nil, err
		}
		return &corev1.PodTemplateSpec{ObjectMeta: pod.ObjectMeta, Spec: pod.Spec}, "", pod.Name, nil, nil
	case tm.APIVersion == "apps/v1" && tm.Kind == "Deployment":
		var d workload
		if err := strict(&d); err != nil {
			return nil, "", "", nil, err
		}
		return &d.Spec.Template, "spec.template.", d.Name,
			[]string{"Deployment: only its Pod template is run, as one group (replicas, selector and strategy are a cluster's)"}, nil
	case tm.APIVersion == "batch/v1" && tm.Kind == "Job":
		var j workload
		if err := strict(&j); err != nil {
			return nil, "", "", nil, err
		}
		return &j.Spec.Template, "spec.template.", j.Name,
			[]string{"Job: only its Pod template is run, once (completions, parallelism and backoffLimit are a cluster's)"}, nil
	}
	return nil, "", "", nil, invalidField("kind", "%s %s: leci takes a v1 Pod, an apps/v1 Deployment or a batch/v1 Job", tm.APIVersion, tm.Kind)
}

func lookup(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
