package kube

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// How a field of a Pod is taken.
type disposition int

const (
	// mapped fields have a request field; the mapping code reads them.
	mapped disposition = iota
	// ignored fields only matter to a cluster (its scheduler, its API
	// server): they are left out with a warning.
	ignored
	// refused fields change what a group does and have no request field:
	// the Pod is refused, naming the field.
	refused
)

type fieldRule struct {
	how disposition
	why string
}

// Reasons shared by several fields.
const (
	whyScheduler  = "only the cluster's scheduler reads it; a leci group runs on this host"
	whyCluster    = "set or read by the cluster; a leci group has no cluster"
	whyNoField    = "no CreateContainerGroup field stands for it (or it is misspelt)"
	whyHostShared = "a group always has namespaces of its own: sharing the host's would loosen host safety, and the request has no field for it"
	whySecurity   = "the request has no field for it: ECI decides a container's security profile"
	whyNoRequest  = "the request has no field for it"
	whyStartup    = "ECI has no startup probe: use readinessProbe or a longer initialDelaySeconds of livenessProbe"
	whyVolumeKind = "ECI's request has no such volume type; leci takes emptyDir, hostPath, nfs, flexVolume, and configMap or secret given as files"
)

// podFields lists every field of a Pod template (metadata and spec) that
// leci takes, leaves out with a warning, or refuses for a reason of its own.
// A field not listed and not under a listed field is refused as having no
// request field. "[]" stands for any list index; a listed field covers
// everything under it. The README's table of refused fields is this list.
var podFields = map[string]fieldRule{
	"metadata.name":         {how: mapped},
	"metadata.generateName": {how: mapped},
	"metadata.annotations":  {how: mapped},
	"metadata.labels":       {how: ignored, why: "labels select Pods in a cluster; a request has no labels (use the k8s.aliyun.com/eci-custom-tags annotation for tags)"},
	"metadata.namespace":    {how: ignored, why: whyCluster},

	"metadata.uid":               {how: ignored, why: whyCluster},
	"metadata.resourceVersion":   {how: ignored, why: whyCluster},
	"metadata.creationTimestamp": {how: ignored, why: whyCluster},
	"metadata.generation":        {how: ignored, why: whyCluster},
	"metadata.managedFields":     {how: ignored, why: whyCluster},
	"metadata.ownerReferences":   {how: ignored, why: whyCluster},
	"metadata.selfLink":          {how: ignored, why: whyCluster},
	"metadata.finalizers":        {how: refused, why: "finalizers hold a Pod's deletion in a cluster; a group is deleted at once"},

	"spec.restartPolicy":                 {how: mapped},
	"spec.dnsPolicy":                     {how: mapped},
	"spec.dnsConfig.nameservers":         {how: mapped},
	"spec.dnsConfig.searches":            {how: mapped},
	"spec.dnsConfig.options[].name":      {how: mapped},
	"spec.dnsConfig.options[].value":     {how: mapped},
	"spec.hostAliases[].ip":              {how: mapped},
	"spec.hostAliases[].hostnames":       {how: mapped},
	"spec.hostname":                      {how: mapped},
	"spec.shareProcessNamespace":         {how: mapped},
	"spec.terminationGracePeriodSeconds": {how: mapped},
	"spec.activeDeadlineSeconds":         {how: mapped},
	"spec.imagePullSecrets[].name":       {how: mapped},
	"spec.securityContext.sysctls":       {how: mapped},
	"spec.os.name":                       {how: mapped},

	"spec.nodeSelector":              {how: ignored, why: whyScheduler},
	"spec.affinity":                  {how: ignored, why: whyScheduler},
	"spec.tolerations":               {how: ignored, why: whyScheduler},
	"spec.nodeName":                  {how: ignored, why: whyScheduler},
	"spec.schedulerName":             {how: ignored, why: whyScheduler},
	"spec.priority":                  {how: ignored, why: whyScheduler},
	"spec.priorityClassName":         {how: ignored, why: whyScheduler},
	"spec.preemptionPolicy":          {how: ignored, why: whyScheduler},
	"spec.topologySpreadConstraints": {how: ignored, why: whyScheduler},
	"spec.schedulingGates":           {how: ignored, why: whyScheduler},
	"spec.serviceAccountName":        {how: ignored, why: "a service account is a cluster identity; a group has none"},
	"spec.serviceAccount":            {how: ignored, why: "a service account is a cluster identity; a group has none"},
	"spec.automountServiceAccountToken": {how: ignored,
		why: "a service account token comes from a cluster; a group has none"},
	"spec.enableServiceLinks": {how: ignored, why: "service variables come from a cluster's Services; a group has none"},

	"spec.hostNetwork":                     {how: refused, why: whyHostShared},
	"spec.hostPID":                         {how: refused, why: whyHostShared},
	"spec.hostIPC":                         {how: refused, why: whyHostShared},
	"spec.hostUsers":                       {how: refused, why: whyHostShared},
	"spec.securityContext":                 {how: refused, why: "ECI has no group-wide security context besides sysctls: set runAsUser and the like on each container"},
	"spec.runtimeClassName":                {how: refused, why: "leci runs every group with runc; the request has no field for another runtime"},
	"spec.subdomain":                       {how: refused, why: "a subdomain names the Pod in a cluster Service's DNS; a group has none"},
	"spec.setHostnameAsFQDN":               {how: refused, why: whyNoRequest},
	"spec.readinessGates":                  {how: refused, why: "readiness gates are set by cluster controllers; a group has none"},
	"spec.ephemeralContainers":             {how: refused, why: "ephemeral containers are added to a running Pod through the API server; use leci exec"},
	"spec.overhead":                        {how: refused, why: "overhead is set by a cluster's runtime class"},
	"spec.resourceClaims":                  {how: refused, why: "dynamic resource allocation needs a cluster's resource drivers"},
	"spec.resources":                       {how: refused, why: "give resources per container, or the group size with the k8s.aliyun.com/eci-use-specs annotation"},
	"spec.volumes[].name":                  {how: mapped},
	"spec.volumes[].emptyDir.medium":       {how: mapped},
	"spec.volumes[].emptyDir.sizeLimit":    {how: mapped},
	"spec.volumes[].hostPath.path":         {how: mapped},
	"spec.volumes[].hostPath.type":         {how: mapped},
	"spec.volumes[].nfs.server":            {how: mapped},
	"spec.volumes[].nfs.path":              {how: mapped},
	"spec.volumes[].nfs.readOnly":          {how: mapped},
	"spec.volumes[].configMap.name":        {how: mapped},
	"spec.volumes[].configMap.items":       {how: mapped},
	"spec.volumes[].configMap.defaultMode": {how: mapped},
	"spec.volumes[].configMap.optional":    {how: mapped},
	"spec.volumes[].secret.secretName":     {how: mapped},
	"spec.volumes[].secret.items":          {how: mapped},
	"spec.volumes[].secret.defaultMode":    {how: mapped},
	"spec.volumes[].secret.optional":       {how: mapped},
	"spec.volumes[].flexVolume.driver":     {how: mapped},
	"spec.volumes[].flexVolume.fsType":     {how: mapped},
	"spec.volumes[].flexVolume.options":    {how: mapped},
	"spec.volumes[].persistentVolumeClaim": {how: refused,
		why: "claims are bound by a cluster; write the volume it stands for (nfs, hostPath, emptyDir) instead"},
	"spec.volumes[].projected":   {how: refused, why: "projected volumes gather cluster objects; give a configMap or secret volume with --from-file instead"},
	"spec.volumes[].downwardAPI": {how: refused, why: whyVolumeKind},
	"spec.volumes[].csi":         {how: refused, why: whyVolumeKind},
	"spec.volumes[].ephemeral":   {how: refused, why: whyVolumeKind},
	"spec.volumes[].image":       {how: refused, why: whyVolumeKind},
}

// containerFields are the fields of spec.containers[] and, where app is
// false, of spec.initContainers[] too.
var containerFields = []struct {
	path    string
	rule    fieldRule
	appOnly bool
}{
	{path: "name"}, {path: "image"}, {path: "imagePullPolicy"}, {path: "command"}, {path: "args"},
	{path: "workingDir"},
	{path: "env[].name"}, {path: "env[].value"},
	{path: "env[].valueFrom.fieldRef"},
	{path: "env[].valueFrom.configMapKeyRef"}, {path: "env[].valueFrom.secretKeyRef"},
	{path: "envFrom[]"},
	{path: "resources.limits"}, {path: "resources.requests"},
	{path: "ports[].containerPort"}, {path: "ports[].protocol"}, {path: "ports[].name"},
	{path: "volumeMounts[].name"}, {path: "volumeMounts[].mountPath"}, {path: "volumeMounts[].readOnly"},
	{path: "volumeMounts[].subPath"}, {path: "volumeMounts[].mountPropagation"},
	{path: "securityContext.capabilities.add"}, {path: "securityContext.readOnlyRootFilesystem"},
	{path: "securityContext.runAsUser"},
	{path: "securityContext.privileged", appOnly: true},
	{path: "securityContext.runAsGroup", appOnly: true},
	{path: "securityContext.runAsNonRoot", appOnly: true},
	{path: "terminationMessagePath"}, {path: "terminationMessagePolicy"},
	{path: "stdin", appOnly: true}, {path: "stdinOnce", appOnly: true}, {path: "tty", appOnly: true},
	{path: "livenessProbe", appOnly: true}, {path: "readinessProbe", appOnly: true},
	{path: "lifecycle", appOnly: true},

	{path: "ports[].hostPort", rule: fieldRule{how: refused, why: "ECI publishes no host ports: the group has an address of its own"}},
	{path: "ports[].hostIP", rule: fieldRule{how: refused, why: "ECI publishes no host ports: the group has an address of its own"}},
	{path: "startupProbe", rule: fieldRule{how: refused, why: whyStartup}},
	{path: "env[].valueFrom.resourceFieldRef", rule: fieldRule{how: refused, why: "ECI resolves only fieldRef status.podIP"}},
	{path: "volumeMounts[].subPathExpr", rule: fieldRule{how: refused, why: "ECI has no expanded sub-paths: write the subPath out"}},
	{path: "volumeMounts[].recursiveReadOnly", rule: fieldRule{how: refused, why: whyNoRequest}},
	{path: "volumeDevices", rule: fieldRule{how: refused, why: "block devices come from a cluster's claims"}},
	{path: "resources.claims", rule: fieldRule{how: refused, why: "dynamic resource allocation needs a cluster's resource drivers"}},
	{path: "resizePolicy", rule: fieldRule{how: refused, why: "a group's resources are fixed when it is created"}},
	{path: "securityContext.capabilities.drop", rule: fieldRule{how: refused, why: whySecurity}},
	{path: "securityContext.allowPrivilegeEscalation", rule: fieldRule{how: refused, why: whySecurity}},
	{path: "securityContext.seccompProfile", rule: fieldRule{how: refused, why: whySecurity}},
	{path: "securityContext.seLinuxOptions", rule: fieldRule{how: refused, why: whySecurity}},
	{path: "securityContext.appArmorProfile", rule: fieldRule{how: refused, why: whySecurity}},
	{path: "securityContext.procMount", rule: fieldRule{how: refused, why: whySecurity}},
	{path: "securityContext.windowsOptions", rule: fieldRule{how: refused, why: whyNoRequest}},
}

// probeFields are what a liveness or readiness probe may say; handlerFields
// what a lifecycle hook may say.
var (
	probeFields = []string{"exec.command", "httpGet.path", "httpGet.port", "httpGet.scheme", "tcpSocket.port",
		"initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"}
	handlerFields = []string{"exec.command", "httpGet.host", "httpGet.port", "httpGet.path", "httpGet.scheme",
		"httpGet.httpHeaders[].name", "httpGet.httpHeaders[].value", "tcpSocket.host", "tcpSocket.port"}
)

var (
	probeRefused = map[string]string{
		"grpc":                          "ECI's probes are exec, httpGet and tcpSocket only",
		"httpGet.host":                  "ECI probes the group's own address",
		"httpGet.httpHeaders":           "ECI's probes send no headers",
		"terminationGracePeriodSeconds": "ECI uses the group's grace period",
	}
	hookRefused = map[string]string{"sleep": "ECI's hooks are exec, httpGet and tcpSocket only"}
)

// rules is podFields with the container fields written out for both lists.
var rules = buildRules()

func buildRules() map[string]fieldRule {
	out := make(map[string]fieldRule, len(podFields)+2*len(containerFields))
	for k, v := range podFields {
		out[k] = v
	}
	for _, list := range []string{"spec.containers[].", "spec.initContainers[]."} {
		app := list == "spec.containers[]."
		for _, f := range containerFields {
			if f.appOnly && !app {
				continue
			}
			switch f.path {
			case "livenessProbe", "readinessProbe":
				for _, p := range probeFields {
					out[list+f.path+"."+p] = fieldRule{how: mapped}
				}
				for p, why := range probeRefused {
					out[list+f.path+"."+p] = fieldRule{how: refused, why: why}
				}
			case "lifecycle":
				for _, hook := range []string{"postStart", "preStop"} {
					for _, p := range handlerFields {
						out[list+"lifecycle."+hook+"."+p] = fieldRule{how: mapped}
					}
					for p, why := range hookRefused {
						out[list+"lifecycle."+hook+"."+p] = fieldRule{how: refused, why: why}
					}
				}
				out[list+"lifecycle.stopSignal"] = fieldRule{how: refused, why: "ECI stops containers with SIGTERM"}
			default:
				out[list+f.path] = f.rule
			}
		}
	}
	out["spec.initContainers[].restartPolicy"] = fieldRule{how: refused, why: "ECI has no sidecar init containers: make it an app container"}
	out["spec.initContainers[].livenessProbe"] = fieldRule{how: refused, why: "ECI's init containers have no probes"}
	out["spec.initContainers[].readinessProbe"] = fieldRule{how: refused, why: "ECI's init containers have no probes"}
	out["spec.initContainers[].lifecycle"] = fieldRule{how: refused, why: "ECI's init containers have no lifecycle hooks"}
	for _, f := range []string{"privileged", "runAsGroup", "runAsNonRoot"} {
		out["spec.initContainers[].securityContext."+f] = fieldRule{how: refused, why: "ECI's init containers take only capabilities.add, readOnlyRootFilesystem and runAsUser"}
	}
	for _, f := range []string{"stdin", "stdinOnce", "tty"} {
		out["spec.initContainers[]."+f] = fieldRule{how: refused, why: "ECI's init containers have no terminal or standard input"}
	}
	return out
}

// prefixes holds every proper prefix of a rule path: a field that is a
// prefix is walked into rather than refused.
var prefixes = func() map[string]bool {
	out := map[string]bool{}
	for p := range rules {
		for i := range len(p) {
			if p[i] == '.' || (p[i] == '[' && i > 0) {
				out[p[:i]] = true
			}
		}
		if strings.HasSuffix(p, "[]") {
			out[strings.TrimSuffix(p, "[]")] = true
		}
	}
	return out
}()

// checkFields walks a Pod template as written (its JSON form) and sorts each
// field it says: mapped ones pass, ignored ones become warnings, the others
// become errors naming the field. Zero values (false, "", 0, {}, []) say
// nothing and pass. prefix is how the template is reached in the document
// ("" for a Pod, "spec.template." for a Deployment or Job).
func checkFields(prefix string, tmpl map[string]any) (warnings []string, refusals []*fieldError) {
	// why is the reason a refused field inherits from the nearest listed
	// field above it (spec.securityContext lists sysctls, refuses the rest).
	var walk func(pattern, shown, why string, v any)
	walk = func(pattern, shown, why string, v any) {
		if isZero(v) {
			return
		}
		if r, ok := rules[pattern]; ok && !(r.how == refused && prefixes[pattern]) {
			switch r.how {
			case ignored:
				warnings = append(warnings, fmt.Sprintf("%s%s: left out: %s", prefix, shown, r.why))
			case refused:
				refusals = append(refusals, &fieldError{path: prefix + shown, why: r.why})
			}
			return
		}
		if r, ok := rules[pattern]; ok {
			why = r.why
		}
		if !prefixes[pattern] {
			refusals = append(refusals, &fieldError{path: prefix + shown, why: why})
			return
		}
		switch t := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(t))
			for k := range t {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(join(pattern, k), join(shown, k), why, t[k])
			}
		case []any:
			for i, item := range t {
				walk(pattern+"[]", shown+"["+strconv.Itoa(i)+"]", why, item)
			}
		default:
			refusals = append(refusals, &fieldError{path: prefix + shown, why: why})
		}
	}
	for _, k := range []string{"metadata", "spec"} {
		if v, ok := tmpl[k]; ok {
			walk(k, k, whyNoField, v)
		}
	}
	return warnings, refusals
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func isZero(v any) bool {
	switch t := v.(type) {
	case nil:
		return true
	case bool:
		return !t
	case string:
		return t == ""
	case float64:
		return t == 0
	case map[string]any:
		return len(t) == 0
	case []any:
		return len(t) == 0
	}
	return false
}

// RefusedFields lists the Pod fields leci refuses for a reason of its own,
// with the reason, for `leci kube --help` and the README. Fields that no
// list names are refused too, as having no request field.
func RefusedFields() []string { return fieldsTaken(refused) }

// IgnoredFields lists the Pod fields leci leaves out with a warning.
func IgnoredFields() []string { return fieldsTaken(ignored) }

func fieldsTaken(how disposition) []string {
	var out []string
	for p, r := range rules {
		if r.how == how {
			out = append(out, p+": "+r.why)
		}
	}
	sort.Strings(out)
	return out
}
