package kube

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"leci/api"
)

func pod(spec string) []byte {
	return []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\nspec:\n" + spec)
}

const oneContainer = "  containers:\n  - name: app\n    image: busybox\n"

// errorsOf gives the field and message of each error Decode returns.
func errorsOf(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Decode accepted the Pod")
	}
	var out []string
	for _, e := range api.AsErrors(err) {
		if !errors.Is(e, api.ErrInvalidParameter) {
			t.Errorf("error %v is not an InvalidParameter", e)
		}
		out = append(out, e.Text())
	}
	return out
}

func TestRefusedFieldsAreNamed(t *testing.T) {
	for _, tc := range []struct{ name, spec, want string }{
		{"host network", "  hostNetwork: true\n" + oneContainer, "spec.hostNetwork: not supported: a group always has namespaces of its own"},
		{"pod security context", "  securityContext:\n    runAsUser: 1000\n" + oneContainer, "spec.securityContext.runAsUser: not supported: ECI has no group-wide security context"},
		{"seccomp", oneContainer + "    securityContext:\n      seccompProfile: {type: RuntimeDefault}\n", "spec.containers[0].securityContext.seccompProfile: not supported"},
		{"startup probe", oneContainer + "    startupProbe:\n      exec: {command: [\"true\"]}\n", "spec.containers[0].startupProbe: not supported: ECI has no startup probe"},
		{"host port", oneContainer + "    ports:\n    - {containerPort: 80, hostPort: 8080}\n", "spec.containers[0].ports[0].hostPort: not supported"},
		{"init probe", "  initContainers:\n  - name: i\n    image: busybox\n    readinessProbe:\n      exec: {command: [\"true\"]}\n" + oneContainer, "spec.initContainers[0].readinessProbe: not supported: ECI's init containers have no probes"},
		{"claim", oneContainer + "  volumes:\n  - name: v\n    persistentVolumeClaim: {claimName: c}\n", "spec.volumes[0].persistentVolumeClaim: not supported: claims are bound by a cluster"},
		{"no request field", oneContainer + "  hostname: h\n  subdomain: s\n", "spec.subdomain: not supported"},
		{"unlisted field", oneContainer + "    resources:\n      limits: {cpu: 1}\n  preemptionPolicy: Never\n  runtimeClassName: kata\n", "spec.runtimeClassName: not supported"},
		{"fieldRef", oneContainer + "    env:\n    - name: N\n      valueFrom:\n        fieldRef: {fieldPath: metadata.name}\n", `spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: "metadata.name" is not supported: ECI resolves only status.podIP`},
		{"resource", oneContainer + "    resources:\n      limits: {example.com/fpga: 1}\n", "spec.containers[0].resources.limits[example.com/fpga]: not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(pod(tc.spec), nil)
			errs := errorsOf(t, err)
			if len(errs) != 1 || !strings.HasPrefix(errs[0], tc.want) {
				t.Errorf("errors = %q, want one starting %q", errs, tc.want)
			}
		})
	}
}

func TestMisspeltTopLevelFieldIsAnError(t *testing.T) {
	_, err := Decode([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: demo}\nspecs:\n"+oneContainer), nil)
	if errs := errorsOf(t, err); len(errs) != 1 || errs[0] != "specs: not a field of a Pod" {
		t.Errorf("errors = %q", errs)
	}
}

func TestMisspeltFieldIsAnError(t *testing.T) {
	_, err := Decode(pod(oneContainer+"    imagePulPolicy: Always\n"), nil)
	errs := errorsOf(t, err)
	if len(errs) != 1 || errs[0] != "spec.containers[0].imagePulPolicy: not supported: no CreateContainerGroup field stands for it (or it is misspelt)" {
		t.Errorf("errors = %q", errs)
	}
}

func TestSchedulerFieldsWarn(t *testing.T) {
	res, err := Decode(pod(oneContainer+"  nodeSelector: {disk: ssd}\n  tolerations:\n  - {key: k, operator: Exists}\n  affinity:\n    nodeAffinity: {}\n  priorityClassName: high\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"spec.affinity: left out", "spec.nodeSelector: left out: only the cluster's scheduler", "spec.priorityClassName: left out", "spec.tolerations: left out"}
	if len(res.Warnings) != len(want) {
		t.Fatalf("warnings = %q, want %d", res.Warnings, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(res.Warnings[i], w) {
			t.Errorf("warning %d = %q, want %q...", i, res.Warnings[i], w)
		}
	}
}

const secretEnv = oneContainer + `    env:
    - name: TOKEN
      valueFrom:
        secretKeyRef: {name: creds, key: token}
    - name: MODE
      valueFrom:
        configMapKeyRef: {name: settings, key: mode}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: settings}
`

const sourcesYAML = `apiVersion: v1
kind: Secret
metadata: {name: creds}
data:
  token: czNjcjN0
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data:
  mode: fast
`

// A Pod's Secret and ConfigMap references are refused until the objects are
// given; then their values are the request's.
func TestReferencesNeedTheirObjects(t *testing.T) {
	_, err := Decode(pod(secretEnv), nil)
	errs := errorsOf(t, err)
	if len(errs) != 3 || !strings.Contains(errs[0], `ConfigMap "settings" is not given`) || !strings.Contains(errs[1], `Secret "creds" is not given`) ||
		!strings.Contains(errs[1], "--from-file") {
		t.Errorf("errors = %q", errs)
	}
	var src Sources
	if err := src.Add([]byte(sourcesYAML)); err != nil {
		t.Fatal(err)
	}
	res, err := Decode(pod(secretEnv), &src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range res.Request.Container[0].EnvironmentVar {
		got[e.Key] = e.Value
	}
	if got["TOKEN"] != "s3cr3t" || got["MODE"] != "fast" || got["CFG_mode"] != "fast" || len(got) != 3 {
		t.Errorf("environment = %v", got)
	}
	if err := src.Add([]byte(pod(oneContainer))); err == nil || !strings.Contains(err.Error(), "only ConfigMap and Secret") {
		t.Errorf("a Pod given as a source: %v", err)
	}
}

func TestImagePullSecret(t *testing.T) {
	doc := `apiVersion: v1
kind: Secret
metadata: {name: pull}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}'
---
` + string(pod(oneContainer+"  imagePullSecrets:\n  - name: pull\n"))
	res, err := Decode([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.ImageRegistryCredential{{Server: "registry.example.com", UserName: "user", Password: "pass"}}
	if got := res.Request.ImageRegistryCredential; len(got) != 1 || got[0] != want[0] {
		t.Errorf("credentials = %+v, want %+v", got, want)
	}
}

// A Pod as a cluster prints it (kubectl get pod -o yaml) runs: what the
// cluster added is left out with warnings.
func TestPodFromACluster(t *testing.T) {
	doc := `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: "2026-01-02T03:04:05Z"
  name: web
  namespace: default
  uid: 0b0c1d2e-0000-4000-8000-000000000000
  resourceVersion: "42"
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{}'
    k8s.aliyun.com/eci-instance-id: eci-2ze1y0la40qgva09
spec:
  containers:
  - name: nginx
    image: nginx:1.25
    imagePullPolicy: IfNotPresent
    terminationMessagePath: /dev/termination-log
    terminationMessagePolicy: File
    resources: {}
    volumeMounts:
    - mountPath: /var/run/secrets/kubernetes.io/serviceaccount
      name: kube-api-access-x2m4q
      readOnly: true
  dnsPolicy: ClusterFirst
  enableServiceLinks: true
  nodeName: virtual-kubelet-cn-hangzhou-k
  preemptionPolicy: PreemptLowerPriority
  priority: 0
  restartPolicy: Always
  schedulerName: default-scheduler
  securityContext: {}
  serviceAccountName: default
  terminationGracePeriodSeconds: 30
  volumes:
  - name: kube-api-access-x2m4q
    projected:
      defaultMode: 420
      sources:
      - serviceAccountToken: {expirationSeconds: 3607, path: token}
      - configMap:
          name: kube-root-ca.crt
          items:
          - {key: ca.crt, path: ca.crt}
status:
  phase: Running
  podIP: 10.0.0.7
`
	res, err := Decode([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := res.Request
	if r.ContainerGroupName != "web" || len(r.Volume) != 0 || len(r.Container[0].VolumeMount) != 0 || *r.TerminationGracePeriodSeconds != 30 {
		t.Errorf("request = %+v", r)
	}
	joined := strings.Join(res.Warnings, "\n")
	for _, w := range []string{"spec.volumes[kube-api-access-x2m4q]: left out", "spec.nodeName: left out", "metadata.uid: left out",
		"spec.serviceAccountName: left out", "[k8s.aliyun.com/eci-instance-id]: left out"} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
}

func TestIsManifest(t *testing.T) {
	for _, tc := range []struct {
		data string
		want bool
	}{
		{"# comment\napiVersion: v1\nkind: Pod\n", true},
		{`{"apiVersion": "apps/v1", "kind": "Deployment"}`, true},
		{"---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\n", true},
		{"ContainerGroupName: g\nContainer:\n  - {Name: a, Image: b}\n", false},
		{`{"ContainerGroupName": "g"}`, false},
		{"RegionId=cn-hangzhou&ContainerGroupName=g", false},
	} {
		if got := IsManifest([]byte(tc.data)); got != tc.want {
			t.Errorf("IsManifest(%q) = %v, want %v", tc.data, got, tc.want)
		}
	}
}

func TestUnknownKindIsRefused(t *testing.T) {
	_, err := Decode([]byte("apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\n"), nil)
	errs := errorsOf(t, err)
	if len(errs) != 1 || !strings.Contains(errs[0], "leci takes a v1 Pod, an apps/v1 Deployment or a batch/v1 Job") {
		t.Errorf("errors = %q", errs)
	}
}

func TestAnnotationValuesAreChecked(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\n  annotations:\n    k8s.aliyun.com/eci-with-eip: maybe\n    k8s.aliyun.com/eci-use-specs: 2-4Gi,4-8Gi\nspec:\n" + oneContainer
	_, err := Decode([]byte(doc), nil)
	errs := errorsOf(t, err)
	if len(errs) != 2 || !strings.HasPrefix(errs[0], "metadata.annotations[k8s.aliyun.com/eci-use-specs]") ||
		!strings.HasPrefix(errs[1], "metadata.annotations[k8s.aliyun.com/eci-with-eip]") {
		t.Errorf("errors = %q", errs)
	}
}

func TestCustomHostsAnnotation(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\n  annotations:\n    k8s.aliyun.com/eci-custom-hosts: '[{\"host\":\"example.com\",\"ip\":\"192.0.2.1\"}]'\nspec:\n" + oneContainer
	res, err := Decode([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Request.HostAliase; len(got) != 1 || got[0].IP != "192.0.2.1" || got[0].Hostname[0] != "example.com" {
		t.Errorf("HostAliase = %+v", got)
	}
}

// A request leci refuses is refused naming the Pod field it comes from.
func TestRequestErrorsNamePodFields(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: Bad_Name\nspec:\n" + oneContainer + "  - name: second\n"
	_, err := Decode([]byte(doc), nil)
	errs := api.AsErrors(err)
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	want := []string{"metadata.name (ContainerGroupName)", "spec.containers[1] (Container.2.Image)"}
	if strings.Join(fields, "|") != strings.Join(want, "|") {
		t.Errorf("fields = %q, want %q (errors %v)", fields, want, err)
	}
}

func TestCustomDNSAnnotation(t *testing.T) {
	doc := "apiVersion: v1\nkind: Pod\nmetadata:\n  name: demo\n  annotations:\n    k8s.aliyun.com/eci-custom-dnsconfig: '{\"nameservers\":\"192.0.2.53\",\"searches\":\"a.example,b.example\",\"options\":\"ndots:2,edns0\"}'\nspec:\n  dnsPolicy: None\n" + oneContainer
	res, err := Decode([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := api.DNSConfig{NameServer: []string{"192.0.2.53"}, Search: []string{"a.example", "b.example"},
		Option: []api.DNSOption{{Name: "ndots", Value: "2"}, {Name: "edns0"}}}
	if got := res.Request.DNSConfig; got == nil || !reflect.DeepEqual(*got, want) {
		t.Errorf("DnsConfig = %+v, want %+v", got, want)
	}
}
