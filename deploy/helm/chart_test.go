// Package helm_test renders deploy/helm/pdfqa for every values profile with
// Helm's Go SDK, decodes each manifest strictly into its Kubernetes API type
// and checks the chart's policies. render_test.go renders and decodes;
// chart_test.go holds the checks, tls_test.go those of the chart with TLS.
package helm_test

import (
	"fmt"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

func TestProfiles(t *testing.T) {
	for _, p := range deploytest.Profiles {
		t.Run(p, func(t *testing.T) {
			r := render(t, p, nil)
			checkPolicies(t, r)
			checkProfile(t, p, r)
		})
	}
}

// checkPolicies holds for every profile.
func checkPolicies(t *testing.T, r rendered) {
	t.Helper()
	services := map[string]bool{}
	for _, w := range r.workloads {
		services[component(w)] = true
		ps := w.pod.Spec
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("%s/%s: pod securityContext.runAsNonRoot is not true", w.kind, w.name)
		}
		if ps.AutomountServiceAccountToken == nil || *ps.AutomountServiceAccountToken {
			t.Errorf("%s/%s: mounts a service account token it does not need", w.kind, w.name)
		}
		for _, c := range append(append([]corev1.Container{}, ps.InitContainers...), ps.Containers...) {
			where := fmt.Sprintf("%s/%s container %s", w.kind, w.name, c.Name)
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := c.Resources.Limits[res]; !ok {
					t.Errorf("%s: no %s limit", where, res)
				}
				if _, ok := c.Resources.Requests[res]; !ok {
					t.Errorf("%s: no %s request", where, res)
				}
			}
			if c.ReadinessProbe == nil || c.LivenessProbe == nil {
				t.Errorf("%s: readiness and liveness probes required", where)
			}
			if w.kind == "Deployment" && !(healthProbe(c, c.StartupProbe) && healthProbe(c, c.ReadinessProbe) && healthProbe(c, c.LivenessProbe)) {
				t.Errorf("%s: a pdfqa service is probed over grpc.health.v1 (the kubelet's gRPC probe, or pdfqa health with TLS)", where)
			}
			sc := c.SecurityContext
			switch {
			case sc == nil:
				t.Errorf("%s: no securityContext", where)
			case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
				t.Errorf("%s: runAsNonRoot is not true", where)
			case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
				t.Errorf("%s: root filesystem is writable", where)
			case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
				t.Errorf("%s: allows privilege escalation", where)
			case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL":
				t.Errorf("%s: capabilities not dropped", where)
			}
			if sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem && w.kind == "Deployment" {
				mounted := map[string]bool{}
				for _, vm := range c.VolumeMounts {
					mounted[vm.MountPath] = true
				}
				if !mounted["/tmp"] || !mounted["/data"] {
					t.Errorf("%s: read-only root without writable /tmp and /data", where)
				}
			}
		}
	}
	for _, want := range []string{"gateway", "agents", "retrieval", "inference", "trainer"} {
		if !services[want] {
			t.Errorf("no workload for service %s", want)
		}
	}

	// NetworkPolicies: every pod is selected by one; only the gateway admits
	// traffic from anywhere; a service admits its gRPC port only from pods.
	nps := of[*networkingv1.NetworkPolicy](r)
	if len(nps) == 0 {
		t.Fatal("no NetworkPolicies")
	}
	for _, w := range r.workloads {
		covered := false
		for _, np := range nps {
			if !selects(&np.Spec.PodSelector, w.pod.Labels) {
				continue
			}
			covered = true
			for _, rule := range np.Spec.Ingress {
				if len(rule.From) == 0 && component(w) != "gateway" {
					t.Errorf("NetworkPolicy %s admits anyone to %s/%s", np.Name, w.kind, w.name)
				}
			}
		}
		if !covered {
			t.Errorf("%s/%s: no NetworkPolicy selects its pods", w.kind, w.name)
		}
	}
	checkCallers(t, r, nps)

	// PodDisruptionBudgets for everything that runs more than one replica.
	pdbs := of[*policyv1.PodDisruptionBudget](r)
	for _, w := range r.workloads {
		if w.maxReplicas <= 1 {
			continue
		}
		found := false
		for _, pdb := range pdbs {
			if selects(pdb.Spec.Selector, w.pod.Labels) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s/%s scales to %d replicas without a PodDisruptionBudget", w.kind, w.name, w.maxReplicas)
		}
		if len(w.pod.Spec.TopologySpreadConstraints) == 0 {
			t.Errorf("%s/%s scales to %d replicas without topology spread", w.kind, w.name, w.maxReplicas)
		}
	}

	// Every Service selects pods that exist; every autoscaler targets a Deployment.
	for _, svc := range of[*corev1.Service](r) {
		ok := false
		for _, w := range r.workloads {
			if selects(&metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, w.pod.Labels) {
				ok = true
			}
		}
		if !ok {
			t.Errorf("Service %s selects no pods", svc.Name)
		}
	}
	names := map[string]bool{}
	for _, w := range r.workloads {
		names[w.name] = true
	}
	for _, so := range of[*scaledObject](r) {
		if !names[so.Spec.ScaleTargetRef.Name] {
			t.Errorf("ScaledObject %s targets missing %s", so.Name, so.Spec.ScaleTargetRef.Name)
		}
	}
	// The API key comes from a Secret, never a literal.
	for _, w := range r.workloads {
		for _, c := range w.pod.Spec.Containers {
			for _, e := range c.Env {
				if strings.Contains(e.Name, "API_KEY") && (e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil) {
					t.Errorf("%s/%s: %s is not read from a Secret", w.kind, w.name, e.Name)
				}
			}
		}
	}
}

// checkCallers: a service's gRPC port admits exactly the services that call it.
func checkCallers(t *testing.T, r rendered, nps []*networkingv1.NetworkPolicy) {
	t.Helper()
	want := map[string][]string{
		"agents":    {"gateway"},
		"retrieval": {"agents", "gateway", "trainer"},
		"inference": {"agents", "gateway", "retrieval", "trainer"},
		"trainer":   {"gateway"},
	}
	pods := map[string]map[string]string{}
	for _, w := range r.workloads {
		pods[component(w)] = w.pod.Labels
	}
	for svc, callers := range want {
		allowed := map[string]bool{}
		for _, np := range nps {
			if !selects(&np.Spec.PodSelector, pods[svc]) {
				continue
			}
			for _, rule := range np.Spec.Ingress {
				grpcPort := false
				for _, p := range rule.Ports {
					if p.Port != nil && p.Port.IntValue() == 9000 {
						grpcPort = true
					}
				}
				if !grpcPort {
					continue
				}
				for _, peer := range rule.From {
					for name, lbls := range pods {
						if peer.PodSelector != nil && peer.NamespaceSelector == nil && selects(peer.PodSelector, lbls) {
							allowed[name] = true
						}
					}
				}
			}
		}
		var got []string
		for _, name := range []string{"agents", "etcd", "gateway", "inference", "retrieval", "trainer"} {
			if allowed[name] {
				got = append(got, name)
			}
		}
		if strings.Join(got, ",") != strings.Join(callers, ",") {
			t.Errorf("%s: gRPC admitted from %v, want its callers %v", svc, got, callers)
		}
	}
}

func deployment(t *testing.T, r rendered, svc string) *appsv1.Deployment {
	t.Helper()
	for _, d := range of[*appsv1.Deployment](r) {
		if d.Name == "pdfqa-"+svc {
			return d
		}
	}
	t.Fatalf("no Deployment for %s", svc)
	return nil
}

func scaledObjects(r rendered) map[string]*scaledObject {
	out := map[string]*scaledObject{}
	for _, so := range of[*scaledObject](r) {
		out[strings.TrimPrefix(so.Spec.ScaleTargetRef.Name, "pdfqa-")] = so
	}
	return out
}

// checkProfile: what each profile is for.
func checkProfile(t *testing.T, profile string, r rendered) {
	t.Helper()
	sts := of[*appsv1.StatefulSet](r)
	if len(sts) != 1 || sts[0].Name != "pdfqa-etcd" {
		t.Fatalf("want the etcd StatefulSet, got %d StatefulSets", len(sts))
	}
	inf := deployment(t, r, "inference")
	infC := inf.Spec.Template.Spec.Containers[0]
	gpu := infC.Resources.Limits["nvidia.com/gpu"]
	sos := scaledObjects(r)
	switch profile {
	case "single-node":
		if *sts[0].Spec.Replicas != 1 {
			t.Errorf("single node: %d etcd members", *sts[0].Spec.Replicas)
		}
		if len(sos) != 0 || len(of[*autoscalingv2.HorizontalPodAutoscaler](r)) != 0 {
			t.Errorf("single node: autoscalers rendered")
		}
		if len(of[*monitoringv1.ServiceMonitor](r)) != 0 {
			t.Errorf("single node assumes no Prometheus Operator")
		}
		for _, w := range r.workloads {
			if w.maxReplicas != 1 {
				t.Errorf("single node: %s scales to %d", w.name, w.maxReplicas)
			}
		}
	case "cpu-cluster", "gpu-cluster":
		if *sts[0].Spec.Replicas != 3 {
			t.Errorf("%s: %d etcd members, want 3", profile, *sts[0].Spec.Replicas)
		}
		if len(of[*monitoringv1.ServiceMonitor](r)) != 1 || len(of[*monitoringv1.PrometheusRule](r)) != 1 {
			t.Errorf("%s: want a ServiceMonitor and a PrometheusRule", profile)
		}
		if len(of[*autoscalingv2.HorizontalPodAutoscaler](r)) != 0 {
			t.Errorf("%s: CPU HPAs rendered next to KEDA", profile)
		}
		// Queue-depth triggers on the services with a queue.
		for svc, metric := range map[string]string{"inference": "pdfqa_inference_queue_depth", "agents": "pdfqa_agents_asks_in_flight"} {
			so := sos[svc]
			if so == nil {
				t.Errorf("%s: no ScaledObject for %s", profile, svc)
				continue
			}
			var prom *scaleTrigger
			for i, tr := range so.Spec.Triggers {
				if tr.Type == "prometheus" {
					prom = &so.Spec.Triggers[i]
				}
			}
			if prom == nil || !strings.Contains(prom.Metadata["query"], metric) || !strings.Contains(prom.Metadata["query"], `namespace="pdfqa"`) {
				t.Errorf("%s: %s: want a prometheus trigger on %s in the release namespace, got %+v", profile, svc, metric, so.Spec.Triggers)
				continue
			}
			if prom.Metadata["activationThreshold"] == "" || prom.Metadata["threshold"] == "" || prom.Metadata["serverAddress"] == "" {
				t.Errorf("%s: %s trigger lacks threshold/activationThreshold/serverAddress: %v", profile, svc, prom.Metadata)
			}
			if so.Spec.CooldownPeriod == nil || *so.Spec.CooldownPeriod < 300 {
				t.Errorf("%s: %s cooldown %v, want at least 300s (model load)", profile, svc, so.Spec.CooldownPeriod)
			}
		}
		if so := sos["inference"]; so != nil && so.Spec.Advanced != nil && so.Spec.Advanced.HorizontalPodAutoscalerConfig != nil {
			sd := so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown
			if sd == nil || sd.StabilizationWindowSeconds == nil || *sd.StabilizationWindowSeconds < *so.Spec.CooldownPeriod {
				t.Errorf("%s: inference scale-down window shorter than its cooldown", profile)
			}
		}
		// The cluster profiles keep state on the shared store: every
		// stateful service replicated, nothing on a pod's disk.
		checkSharedState(t, r, "file:///blobs?")
		if so := sos["retrieval"]; so == nil || !strings.Contains(so.Spec.Triggers[0].Metadata["query"], "pdfqa_retrieval_ingest_queue_depth") {
			t.Errorf("%s: retrieval does not scale on its ingestion queue: %+v", profile, so)
		}
	}
	if profile == "gpu-cluster" {
		if gpu.Value() != 1 || infC.Resources.Requests["nvidia.com/gpu"] != gpu {
			t.Errorf("gpu cluster: inference GPU limit %v", infC.Resources.Limits)
		}
		if !strings.HasSuffix(infC.Image, "-cuda") {
			t.Errorf("gpu cluster: inference image %s is not the CUDA variant", infC.Image)
		}
		ps := inf.Spec.Template.Spec
		if ps.NodeSelector["nvidia.com/gpu.present"] != "true" || len(ps.Tolerations) == 0 || ps.Tolerations[0].Key != "nvidia.com/gpu" {
			t.Errorf("gpu cluster: inference not pinned to the GPU pool: %v %v", ps.NodeSelector, ps.Tolerations)
		}
		if *sos["inference"].Spec.MaxReplicaCount < 2 {
			t.Errorf("gpu cluster: inference does not scale out")
		}
	} else if !gpu.IsZero() || strings.HasSuffix(infC.Image, "-cuda") {
		t.Errorf("%s: inference asks for a GPU", profile)
	}
	// Every other service stays off the GPU pool.
	for _, d := range of[*appsv1.Deployment](r) {
		if d.Name != "pdfqa-inference" {
			if _, ok := d.Spec.Template.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"]; ok {
				t.Errorf("%s asks for a GPU", d.Name)
			}
		}
	}
}

// Without KEDA the CPU HPAs take over; with an external etcd and a
// CloudNativePG cluster the chart wires both in.
func TestFallbacksAndExternalDependencies(t *testing.T) {
	r := render(t, "cpu-cluster", map[string]any{
		"keda":     map[string]any{"enabled": false},
		"etcd":     map[string]any{"enabled": false, "endpoints": "etcd-a:2379,etcd-b:2379"},
		"postgres": map[string]any{"cnpg": map[string]any{"enabled": true}},
		"tls":      map[string]any{"enabled": true, "secretPrefix": "pdfqa-certs"},
	})
	checkPolicies(t, r)
	if len(scaledObjects(r)) != 0 {
		t.Error("ScaledObjects rendered with keda.enabled=false")
	}
	hpas := map[string]bool{}
	for _, h := range of[*autoscalingv2.HorizontalPodAutoscaler](r) {
		hpas[h.Spec.ScaleTargetRef.Name] = true
		if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("HPA %s: want one CPU metric", h.Name)
		}
	}
	for _, svc := range []string{"gateway", "agents", "inference"} {
		if !hpas["pdfqa-"+svc] {
			t.Errorf("no CPU HPA fallback for %s", svc)
		}
	}
	if len(of[*appsv1.StatefulSet](r)) != 0 {
		t.Error("etcd StatefulSet rendered with an external etcd")
	}
	clusters := of[*cnpgCluster](r)
	if len(clusters) != 1 || clusters[0].Spec.Instances != 3 {
		t.Fatalf("want one CloudNativePG Cluster of 3 instances, got %v", clusters)
	}
	d := deployment(t, r, "agents")
	c := d.Spec.Template.Spec.Containers[0]
	if !strings.Contains(strings.Join(c.Args, " "), "--etcd etcd-a:2379,etcd-b:2379") {
		t.Errorf("agents args %v do not name the external etcd", c.Args)
	}
	var dsn, tlsDir bool
	for _, e := range c.Env {
		if e.Name == "PDFQA_STORE" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == "pdfqa-postgres-app" {
			dsn = true
		}
		tlsDir = tlsDir || e.Name == "PDFQA_TLS_DIR"
	}
	if !dsn || !tlsDir {
		t.Errorf("agents env lacks the CloudNativePG DSN secret or the TLS directory: %v", c.Env)
	}
}

// The PrometheusRule carries deploy's rule file unchanged.
func TestPrometheusRuleIsTheRulesFile(t *testing.T) {
	r := render(t, "cpu-cluster", nil)
	prs := of[*monitoringv1.PrometheusRule](r)
	if len(prs) != 1 {
		t.Fatalf("%d PrometheusRules", len(prs))
	}
	raw, err := deploytest.ReadFile("helm/pdfqa/files/pdfqa.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	var spec monitoringv1.PrometheusRuleSpec
	if err := yaml.UnmarshalStrict(raw, &spec); err != nil {
		t.Fatal(err)
	}
	if len(spec.Groups) == 0 || len(prs[0].Spec.Groups) != len(spec.Groups) {
		t.Fatalf("PrometheusRule has %d groups, the rules file %d", len(prs[0].Spec.Groups), len(spec.Groups))
	}
	alerts := 0
	for _, g := range prs[0].Spec.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				alerts++
			}
		}
	}
	if alerts == 0 {
		t.Fatal("no alerts in the PrometheusRule")
	}
}
