//go:build leci_node

package node

import (
	"maps"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestReferencesOfNamesWhatThePodUses(t *testing.T) {
	po := clusterPod("web")
	po.Spec.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "pull"}}
	po.Spec.Volumes = append(po.Spec.Volumes,
		corev1.Volume{Name: "tls", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "tls"}}},
		corev1.Volume{Name: "all", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "projected-cm"}}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "projected-secret"}}},
		}}}})
	po.Spec.InitContainers = []corev1.Container{{Name: "init", EnvFrom: []corev1.EnvFromSource{
		{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-env"}}},
		{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "init-secret-env"}}},
	}}}
	po.Spec.Containers[0].Env = []corev1.EnvVar{
		{Name: "PLAIN", Value: "x"},
		{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "key-cm"}, Key: "a"}}},
		{Name: "B", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "key-secret"}, Key: "b"}}},
		{Name: "C", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
	}
	r := referencesOf(po)
	if got, want := slices.Sorted(maps.Keys(r.configMaps)), []string{"greeting", "init-env", "key-cm", "projected-cm"}; !slices.Equal(got, want) {
		t.Errorf("ConfigMaps %v, want %v", got, want)
	}
	if got, want := slices.Sorted(maps.Keys(r.secrets)), []string{"init-secret-env", "key-secret", "projected-secret", "pull", "tls"}; !slices.Equal(got, want) {
		t.Errorf("Secrets %v, want %v", got, want)
	}
}
