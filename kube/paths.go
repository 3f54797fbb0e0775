package kube

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"leci/api"
)

// topLevel names the Pod field each request parameter comes from; the
// parameters not listed come from annotations.
var topLevel = map[string]string{
	"ContainerGroupName":            "metadata.name",
	"RestartPolicy":                 "spec.restartPolicy",
	"DnsPolicy":                     "spec.dnsPolicy",
	"DnsConfig":                     "spec.dnsConfig",
	"HostAliase":                    "spec.hostAliases",
	"HostName":                      "spec.hostname",
	"TerminationGracePeriodSeconds": "spec.terminationGracePeriodSeconds",
	"ActiveDeadlineSeconds":         "spec.activeDeadlineSeconds",
	"ShareProcessNamespace":         "spec.shareProcessNamespace",
	"SecurityContext":               "spec.securityContext.sysctls",
	"HostSecurityContext":           "spec.securityContext.sysctls",
	"ImageRegistryCredential":       "spec.imagePullSecrets",
	"OsType":                        "spec.os.name",
	"Container":                     "spec.containers",
	"InitContainer":                 "spec.initContainers",
	"Volume":                        "spec.volumes",
}

// podPath says where in a Pod a request parameter (a wire path such as
// Container.2.Cpu) comes from: "spec.containers[1] (Container.2.Cpu)".
func podPath(prefix, wire string) string {
	if wire == "" {
		return ""
	}
	parts := strings.Split(wire, ".")
	field, ok := topLevel[parts[0]]
	if !ok {
		return prefix + "metadata.annotations (" + wire + ")"
	}
	field = prefix + field
	if len(parts) > 1 {
		if n, err := strconv.Atoi(parts[1]); err == nil && strings.HasSuffix(field, "s") {
			field = fmt.Sprintf("%s[%d]", field, n-1)
		}
	}
	return field + " (" + wire + ")"
}

// validate checks the request as leci will when it runs it, on a copy (the
// defaults stay out of the request), and names the Pod field of each problem.
func validate(prefix string, r *api.CreateContainerGroupRequest) error {
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var check api.CreateContainerGroupRequest
	if err := json.Unmarshal(data, &check); err != nil {
		return err
	}
	err = check.Normalize()
	if err == nil {
		return nil
	}
	errs := api.AsErrors(err)
	for i, e := range errs {
		c := *e
		c.Field = podPath(prefix, e.Field)
		errs[i] = &c
	}
	return errs
}
