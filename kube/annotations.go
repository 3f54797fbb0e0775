package kube

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"

	"leci/api"
)

// Annotation keys ECI's virtual node reads that stand for request fields.
const (
	annotationPrefix = "k8s.aliyun.com/"
	annUseSpecs      = annotationPrefix + "eci-use-specs"
	annEphemeral     = annotationPrefix + "eci-extra-ephemeral-storage"
	annTags          = annotationPrefix + "eci-custom-tags"
	annIngress       = "kubernetes.io/ingress-bandwidth"
	annEgress        = "kubernetes.io/egress-bandwidth"
)

type req = api.CreateContainerGroupRequest

// annotation ties one annotation to request fields: get gives its value for
// a request ("" when the fields are unset), set applies a value.
type annotation struct {
	key string
	get func(r *req) string
	set func(r *req, v string) error
}

// annotations is ECI's virtual-node mapping, in the order generate writes
// them. The README's annotation table follows it.
var annotations = []annotation{
	str("eci-vswitch", func(r *req) *string { return &r.VSwitchID }),
	str("eci-security-group", func(r *req) *string { return &r.SecurityGroupID }),
	str("eci-schedule-strategy", func(r *req) *string { return &r.ScheduleStrategy }),
	str("eci-resource-group-id", func(r *req) *string { return &r.ResourceGroupID }),
	str("eci-ram-role-name", func(r *req) *string { return &r.RAMRoleName }),
	{key: annUseSpecs, get: getSpecs, set: setSpecs},
	str("eci-gpu-driver-version", func(r *req) *string { return &r.GpuDriverVersion }),
	list("eci-compute-category", func(r *req) *[]string { return &r.ComputeCategory }),
	str("eci-spot-strategy", func(r *req) *string { return &r.SpotStrategy }),
	float("eci-spot-price-limit", func(r *req) *float64 { return &r.SpotPriceLimit }),
	{key: annotationPrefix + "eci-spot-duration",
		get: func(r *req) string {
			if r.SpotDuration == nil {
				return ""
			}
			return strconv.FormatInt(*r.SpotDuration, 10)
		},
		set: func(r *req, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			r.SpotDuration = &n
			return err
		}},
	integer("eci-cpu-option-core", func(r *req) *int { return &r.CPUOptionsCore }),
	integer("eci-cpu-option-ht", func(r *req) *int { return &r.CPUOptionsThreadsPerCore }),
	integer("eci-max-pending-minute", func(r *req) *int { return &r.MaxPendingMinute }),
	{key: annTags, get: getTags, set: setTags},
	str("eci-image-snapshot-id", func(r *req) *string { return &r.ImageSnapshotID }),
	boolean("eci-auto-imc", func(r *req) *bool { return &r.AutoMatchImageCache }),
	str("plain-http-registry", func(r *req) *string { return &r.PlainHTTPRegistry }),
	str("insecure-registry", func(r *req) *string { return &r.InsecureRegistry }),
	str("eci-data-cache-bucket", func(r *req) *string { return &r.DataCacheBucket }),
	str("eci-data-cache-pl", func(r *req) *string { return &r.DataCachePL }),
	int64Of("eci-data-cache-provisionedIops", func(r *req) *int64 { return &r.DataCacheProvisionedIops }),
	boolean("eci-data-cache-burstingEnabled", func(r *req) *bool { return &r.DataCacheBurstingEnabled }),
	str("eci-eip-instanceid", func(r *req) *string { return &r.EipInstanceID }),
	boolean("eci-with-eip", func(r *req) *bool { return &r.AutoCreateEip }),
	integer("eip-bandwidth", func(r *req) *int { return &r.EipBandwidth }),
	str("eip-common-bandwidth-package-id", func(r *req) *string { return &r.EipCommonBandwidthPackage }),
	str("eip-isp", func(r *req) *string { return &r.EipISP }),
	integer("eci-ipv6-count", func(r *req) *int { return &r.Ipv6AddressCount }),
	boolean("eci-ipv6-bandwidth-enable", func(r *req) *bool { return &r.Ipv6GatewayBandwidthEnable }),
	str("eci-ipv6-bandwidth", func(r *req) *string { return &r.Ipv6GatewayBandwidth }),
	str("eci-private-ip-address", func(r *req) *string { return &r.PrivateIPAddress }),
	str("eci-fixed-ip", func(r *req) *string { return &r.FixedIP }),
	integer("eci-fixed-ip-retain-hour", func(r *req) *int { return &r.FixedIPRetainHour }),
	bandwidth(annIngress, func(r *req) *int64 { return &r.IngressBandwidth }),
	bandwidth(annEgress, func(r *req) *int64 { return &r.EgressBandwidth }),
	{key: annEphemeral, get: getEphemeral, set: setEphemeral},
	str("eci-core-pattern", func(r *req) *string { return &r.CorePattern }),
	list("eci-ntp-server", func(r *req) *[]string { return &r.NtpServer }),
}

// aliases are other names ECI's documentation gives the same fields.
var aliases = map[string]string{
	annotationPrefix + "eci-imc-id":      annotationPrefix + "eci-image-snapshot-id",
	annotationPrefix + "eci-image-cache": annotationPrefix + "eci-auto-imc",
}

// byKey finds the annotation of a key, through its aliases.
var byKey = func() map[string]annotation {
	out := map[string]annotation{}
	for _, a := range annotations {
		out[a.key] = a
	}
	for alias, key := range aliases {
		a := out[key]
		a.key = alias
		out[alias] = a
	}
	// eci-custom-hosts adds /etc/hosts entries, as spec.hostAliases does
	// (which generate writes).
	out[annotationPrefix+"eci-custom-hosts"] = annotation{key: annotationPrefix + "eci-custom-hosts", set: setCustomHosts}
	// eci-custom-dnsconfig adds resolver settings, as spec.dnsConfig does
	// (which generate writes).
	out[annotationPrefix+"eci-custom-dnsconfig"] = annotation{key: annotationPrefix + "eci-custom-dnsconfig", set: setCustomDNS}
	// eci-enable-ipv6 "true" is one IPv6 address, as eci-ipv6-count 1.
	out[annotationPrefix+"eci-enable-ipv6"] = annotation{key: annotationPrefix + "eci-enable-ipv6",
		set: func(r *req, v string) error {
			on, err := strconv.ParseBool(v)
			if on && r.Ipv6AddressCount == 0 {
				r.Ipv6AddressCount = 1
			}
			return err
		}}
	return out
}()

// applyAnnotations sets the request fields the Pod's annotations stand for.
// ECI annotations without a request field become warnings; other
// annotations are the cluster's business and pass unremarked.
func applyAnnotations(r *req, path string, anns map[string]string) (warnings []string, errs api.Errors) {
	for _, key := range sortedKeys(anns) {
		v := anns[key]
		a, ok := byKey[key]
		if !ok {
			if strings.HasPrefix(key, annotationPrefix) || strings.HasPrefix(key, "kubernetes.io/") {
				warnings = append(warnings, fmt.Sprintf("%s[%s]: left out: the request has no field for this annotation", path, key))
			}
			continue
		}
		if err := a.set(r, strings.TrimSpace(v)); err != nil {
			errs = append(errs, invalidField(path+"["+key+"]", "%q: %v", v, err))
		}
	}
	return warnings, errs
}

// podAnnotations gives the annotations a request's fields stand for.
func podAnnotations(r *req) map[string]string {
	out := map[string]string{}
	for _, a := range annotations {
		if v := a.get(r); v != "" {
			out[a.key] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func str(name string, f func(*req) *string) annotation {
	return annotation{key: annotationPrefix + name,
		get: func(r *req) string { return *f(r) },
		set: func(r *req, v string) error { *f(r) = v; return nil }}
}

func boolean(name string, f func(*req) *bool) annotation {
	return annotation{key: annotationPrefix + name,
		get: func(r *req) string {
			if *f(r) {
				return "true"
			}
			return ""
		},
		set: func(r *req, v string) (err error) { *f(r), err = strconv.ParseBool(v); return err }}
}

func integer(name string, f func(*req) *int) annotation {
	return annotation{key: annotationPrefix + name,
		get: func(r *req) string {
			if *f(r) == 0 {
				return ""
			}
			return strconv.Itoa(*f(r))
		},
		set: func(r *req, v string) (err error) { *f(r), err = strconv.Atoi(v); return err }}
}

func int64Of(name string, f func(*req) *int64) annotation {
	return annotation{key: annotationPrefix + name,
		get: func(r *req) string {
			if *f(r) == 0 {
				return ""
			}
			return strconv.FormatInt(*f(r), 10)
		},
		set: func(r *req, v string) (err error) { *f(r), err = strconv.ParseInt(v, 10, 64); return err }}
}

func float(name string, f func(*req) *float64) annotation {
	return annotation{key: annotationPrefix + name,
		get: func(r *req) string {
			if *f(r) == 0 {
				return ""
			}
			return strconv.FormatFloat(*f(r), 'f', -1, 64)
		},
		set: func(r *req, v string) (err error) { *f(r), err = strconv.ParseFloat(v, 64); return err }}
}

func list(name string, f func(*req) *[]string) annotation {
	return annotation{key: annotationPrefix + name,
		get: func(r *req) string { return strings.Join(*f(r), ",") },
		set: func(r *req, v string) error { *f(r) = splitList(v); return nil }}
}

// bandwidth annotations are quantities of bit/s ("40M"); the request's
// fields are numbers of bit/s.
func bandwidth(key string, f func(*req) *int64) annotation {
	return annotation{key: key,
		get: func(r *req) string {
			if *f(r) == 0 {
				return ""
			}
			return resource.NewQuantity(*f(r), resource.DecimalSI).String()
		},
		set: func(r *req, v string) error {
			q, err := resource.ParseQuantity(v)
			if err != nil {
				return err
			}
			*f(r) = q.Value()
			return nil
		}}
}

// getSpecs writes the group's size: "CPU-MEMORYGi" from Cpu and Memory, then
// the ECS instance types of InstanceType.
func getSpecs(r *req) string {
	var specs []string
	if r.Cpu != 0 || r.Memory != 0 {
		specs = append(specs, formatNumber(r.Cpu)+"-"+formatNumber(r.Memory)+"Gi")
	}
	if r.InstanceType != "" {
		specs = append(specs, splitList(r.InstanceType)...)
	}
	return strings.Join(specs, ",")
}

func setSpecs(r *req, v string) error {
	var types []string
	for _, spec := range splitList(v) {
		cpu, mem, ok := strings.Cut(spec, "-")
		if !ok || !strings.HasSuffix(mem, "Gi") {
			types = append(types, spec)
			continue
		}
		if r.Cpu != 0 {
			return fmt.Errorf("more than one vCPU-memory size: a request has one Cpu and Memory")
		}
		c, err1 := strconv.ParseFloat(cpu, 64)
		m, err2 := strconv.ParseFloat(strings.TrimSuffix(mem, "Gi"), 64)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%q is not a vCPU-memory size like 2-4Gi", spec)
		}
		r.Cpu, r.Memory = c, m
	}
	r.InstanceType = strings.Join(types, ",")
	return nil
}

// setCustomHosts takes [{"host":"example.com","ip":"192.0.2.1"}, ...].
func setCustomHosts(r *req, v string) error {
	var hosts []struct {
		Host string `json:"host"`
		IP   string `json:"ip"`
	}
	if err := json.Unmarshal([]byte(v), &hosts); err != nil {
		return fmt.Errorf("not a JSON list of {\"host\": ..., \"ip\": ...}: %w", err)
	}
	for _, h := range hosts {
		r.HostAliase = append(r.HostAliase, api.HostAliase{IP: h.IP, Hostname: []string{h.Host}})
	}
	return nil
}

// setCustomDNS takes {"nameservers":"a,b","searches":"x,y","options":"ndots:2,edns0"}.
func setCustomDNS(r *req, v string) error {
	var c struct {
		Nameservers string `json:"nameservers"`
		Searches    string `json:"searches"`
		Options     string `json:"options"`
	}
	if err := json.Unmarshal([]byte(v), &c); err != nil {
		return fmt.Errorf("not a JSON object of nameservers, searches and options: %w", err)
	}
	if r.DNSConfig == nil {
		r.DNSConfig = &api.DNSConfig{}
	}
	r.DNSConfig.NameServer = append(r.DNSConfig.NameServer, splitList(c.Nameservers)...)
	r.DNSConfig.Search = append(r.DNSConfig.Search, splitList(c.Searches)...)
	for _, o := range splitList(c.Options) {
		name, value, _ := strings.Cut(o, ":")
		r.DNSConfig.Option = append(r.DNSConfig.Option, api.DNSOption{Name: name, Value: value})
	}
	return nil
}

func getTags(r *req) string {
	tags := make([]string, len(r.Tag))
	for i, t := range r.Tag {
		tags[i] = t.Key + ":" + t.Value
	}
	return strings.Join(tags, ",")
}

func setTags(r *req, v string) error {
	for _, t := range splitList(v) {
		k, val, ok := strings.Cut(t, ":")
		if !ok {
			return fmt.Errorf("tag %q is not key:value", t)
		}
		r.Tag = append(r.Tag, api.Tag{Key: k, Value: val})
	}
	return nil
}

func getEphemeral(r *req) string {
	if r.EphemeralStorage == 0 {
		return ""
	}
	return strconv.Itoa(r.EphemeralStorage) + "Gi"
}

// setEphemeral takes a quantity; the request counts whole GiB, so a size is
// rounded up to the next GiB.
func setEphemeral(r *req, v string) error {
	q, err := resource.ParseQuantity(v)
	if err != nil {
		return err
	}
	r.EphemeralStorage = int(math.Ceil(float64(q.Value()) / (1 << 30)))
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
