//go:build leci_node

package node

import (
	corev1 "k8s.io/api/core/v1"
)

// podReferences are the names of the ConfigMaps and Secrets a Pod names:
// in its volumes (projected ones included), its containers' env and envFrom,
// and its imagePullSecrets. Only these go into its group's request, not
// every object of its namespace.
type podReferences struct {
	configMaps map[string]bool
	secrets    map[string]bool
}

func referencesOf(po *corev1.Pod) podReferences {
	r := podReferences{configMaps: map[string]bool{}, secrets: map[string]bool{}}
	for _, s := range po.Spec.ImagePullSecrets {
		r.secrets[s.Name] = true
	}
	for _, v := range po.Spec.Volumes {
		if v.ConfigMap != nil {
			r.configMaps[v.ConfigMap.Name] = true
		}
		if v.Secret != nil {
			r.secrets[v.Secret.SecretName] = true
		}
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil {
					r.configMaps[src.ConfigMap.Name] = true
				}
				if src.Secret != nil {
					r.secrets[src.Secret.Name] = true
				}
			}
		}
	}
	for _, list := range [][]corev1.Container{po.Spec.InitContainers, po.Spec.Containers} {
		for _, c := range list {
			for _, e := range c.EnvFrom {
				if e.ConfigMapRef != nil {
					r.configMaps[e.ConfigMapRef.Name] = true
				}
				if e.SecretRef != nil {
					r.secrets[e.SecretRef.Name] = true
				}
			}
			for _, e := range c.Env {
				if e.ValueFrom == nil {
					continue
				}
				if e.ValueFrom.ConfigMapKeyRef != nil {
					r.configMaps[e.ValueFrom.ConfigMapKeyRef.Name] = true
				}
				if e.ValueFrom.SecretKeyRef != nil {
					r.secrets[e.ValueFrom.SecretKeyRef.Name] = true
				}
			}
		}
	}
	return r
}
