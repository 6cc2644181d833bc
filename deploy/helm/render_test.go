package helm_test

import (
	"fmt"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

var scheme = runtime.NewScheme()

func init() {
	for _, add := range []func(*runtime.Scheme) error{clientscheme.AddToScheme, monitoringv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
}

// cnpgCluster is the part of CloudNativePG's Cluster (postgresql.cnpg.io/v1)
// the chart sets: CloudNativePG's Go API module is not served by the module
// proxy this project builds from, so the fields are spelled here, with the
// same JSON names, and decoded as strictly as the rest.
type cnpgCluster struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Instances int `json:"instances"`
		Storage   struct {
			Size         string `json:"size"`
			StorageClass string `json:"storageClass,omitempty"`
		} `json:"storage"`
		Bootstrap struct {
			InitDB struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Monitoring struct {
			EnablePodMonitor bool `json:"enablePodMonitor"`
		} `json:"monitoring"`
	} `json:"spec"`
}

// decode turns every manifest into its typed object; an unknown field, a
// wrong type or an unregistered kind fails.
func decode(t *testing.T, ms []deploytest.Manifest) []runtime.Object {
	t.Helper()
	var objs []runtime.Object
	for _, m := range ms {
		gv, err := schema.ParseGroupVersion(m.APIVersion)
		if err != nil {
			t.Fatalf("%s: %v", m, err)
		}
		var obj runtime.Object
		if gv.Group == "postgresql.cnpg.io" && m.Kind == "Cluster" {
			obj = &cnpgCluster{}
		} else if gv.Group == "keda.sh" && m.Kind == "ScaledObject" {
			obj = &scaledObject{}
		} else if gv.Group == "cert-manager.io" && m.Kind == "Certificate" {
			obj = &certificate{}
		} else if obj, err = scheme.New(gv.WithKind(m.Kind)); err != nil {
			t.Fatalf("%s: not a known Kubernetes API type: %v", m, err)
		}
		if err := yaml.UnmarshalStrict(m.YAML, obj); err != nil {
			t.Fatalf("%s: strict decode: %v\n%s", m, err, m.YAML)
		}
		if mo, ok := obj.(metav1.Object); ok && mo.GetName() == "" {
			t.Fatalf("%s: no name", m)
		}
		objs = append(objs, obj)
	}
	return objs
}

func (c *cnpgCluster) DeepCopyObject() runtime.Object { cp := *c; return &cp }

// scaledObject is KEDA's ScaledObject (keda.sh/v1alpha1), the fields of
// KEDA's apis/keda/v1alpha1 the chart sets, same JSON names. KEDA's Go module
// is not imported: it would raise the workspace's gRPC Prometheus provider
// and OpenTelemetry versions for every service (one build list, go.work).
type scaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		ScaleTargetRef struct {
			APIVersion string `json:"apiVersion,omitempty"`
			Kind       string `json:"kind,omitempty"`
			Name       string `json:"name"`
		} `json:"scaleTargetRef"`
		PollingInterval *int32 `json:"pollingInterval,omitempty"`
		CooldownPeriod  *int32 `json:"cooldownPeriod,omitempty"`
		MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`
		MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`
		Advanced        *struct {
			HorizontalPodAutoscalerConfig *struct {
				Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
			} `json:"horizontalPodAutoscalerConfig,omitempty"`
		} `json:"advanced,omitempty"`
		Triggers []scaleTrigger `json:"triggers"`
	} `json:"spec"`
}

type scaleTrigger struct {
	Type       string            `json:"type"`
	MetricType string            `json:"metricType,omitempty"`
	Metadata   map[string]string `json:"metadata"`
}

func (s *scaledObject) DeepCopyObject() runtime.Object { cp := *s; return &cp }

// certificate is cert-manager's Certificate (cert-manager.io/v1), the
// fields the chart sets, same JSON names (cert-manager's Go module is not
// imported, as KEDA's is not).
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName string   `json:"secretName"`
		CommonName string   `json:"commonName"`
		DNSNames   []string `json:"dnsNames"`
		Usages     []string `json:"usages"`
		PrivateKey struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		Duration    string `json:"duration"`
		RenewBefore string `json:"renewBefore"`
		IssuerRef   struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

func (c *certificate) DeepCopyObject() runtime.Object { cp := *c; return &cp }

// workload is a pod template with where it came from and how far it scales.
type workload struct {
	kind, name  string
	namespace   string
	pod         corev1.PodTemplateSpec
	maxReplicas int32
}

type rendered struct {
	objs      []runtime.Object
	workloads []*workload
	byKind    map[string][]runtime.Object
}

func render(t *testing.T, profile string, overrides map[string]any) rendered {
	t.Helper()
	ms, err := deploytest.Render(profile, overrides)
	if err != nil {
		t.Fatalf("render %q: %v", profile, err)
	}
	if len(ms) == 0 {
		t.Fatalf("render %q: no manifests", profile)
	}
	r := rendered{objs: decode(t, ms), byKind: map[string][]runtime.Object{}}
	for _, o := range r.objs {
		kind := fmt.Sprintf("%T", o)
		r.byKind[kind] = append(r.byKind[kind], o)
		switch v := o.(type) {
		case *appsv1.Deployment:
			n := int32(1)
			if v.Spec.Replicas != nil {
				n = *v.Spec.Replicas
			}
			r.workloads = append(r.workloads, &workload{"Deployment", v.Name, v.Namespace, v.Spec.Template, n})
		case *appsv1.StatefulSet:
			r.workloads = append(r.workloads, &workload{"StatefulSet", v.Name, v.Namespace, v.Spec.Template, *v.Spec.Replicas})
		case *appsv1.DaemonSet, *appsv1.ReplicaSet, *corev1.Pod:
			t.Fatalf("unexpected workload kind %T", v)
		}
	}
	// Autoscalers raise how far a Deployment may scale.
	for _, w := range r.workloads {
		for _, o := range r.objs {
			switch v := o.(type) {
			case *scaledObject:
				if v.Spec.ScaleTargetRef.Name == w.name && v.Spec.MaxReplicaCount != nil {
					w.maxReplicas = max(w.maxReplicas, *v.Spec.MaxReplicaCount)
				}
			case *autoscalingv2.HorizontalPodAutoscaler:
				if v.Spec.ScaleTargetRef.Name == w.name {
					w.maxReplicas = max(w.maxReplicas, v.Spec.MaxReplicas)
				}
			}
		}
	}
	return r
}

func of[T runtime.Object](r rendered) []T {
	var out []T
	for _, o := range r.objs {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func selects(sel *metav1.LabelSelector, lbls map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false
	}
	return s.Matches(labels.Set(lbls))
}

func component(w *workload) string { return w.pod.Labels["app.kubernetes.io/component"] }
