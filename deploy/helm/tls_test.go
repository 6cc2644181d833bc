package helm_test

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

// healthProbe: p asks grpc.health.v1 of c's service — the kubelet's gRPC
// probe on its port without TLS (which a service requiring mutual TLS
// refuses), else pdfqa health with the pod's own certificate, the
// service and address given in its environment.
func healthProbe(c corev1.Container, p *corev1.Probe) bool {
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	if p == nil {
		return false
	}
	if _, tls := env["PDFQA_TLS_DIR"]; !tls {
		return p.GRPC != nil && p.GRPC.Port == 9000
	}
	return p.Exec != nil && len(p.Exec.Command) >= 2 && p.Exec.Command[0] == "/usr/local/bin/pdfqa" && p.Exec.Command[1] == "health" &&
		env["PDFQA_HEALTH_SERVICE"] == c.Name && env["PDFQA_HEALTH_ADDR"] == "$(POD_IP):9000" && p.TimeoutSeconds >= 5
}

// With TLS each service has its own certificate: cert-manager issues one
// per service naming it (and one for etcd's members and the client
// identity), each pod mounts its service's Secret only, the kubelet
// probes through pdfqa health (its gRPC probe is plaintext), and the
// in-chart etcd serves https with client-cert auth. The old one-secret
// setting is refused with what to use instead.
func TestTLSCertificatePerServiceAndProbes(t *testing.T) {
	r := render(t, "cpu-cluster", map[string]any{
		"tls": map[string]any{"enabled": true, "certManager": map[string]any{"enabled": true, "issuerRef": map[string]any{"name": "pdfqa-ca"}}},
	})
	checkPolicies(t, r)
	certs := map[string]*certificate{}
	for _, c := range of[*certificate](r) {
		certs[c.Spec.SecretName] = c
		if c.Spec.IssuerRef.Name != "pdfqa-ca" || !slices.Contains(c.Spec.Usages, "server auth") || !slices.Contains(c.Spec.Usages, "client auth") {
			t.Errorf("certificate %s: issuer %v, usages %v", c.Name, c.Spec.IssuerRef, c.Spec.Usages)
		}
	}
	secrets := map[string]string{}
	for _, svc := range []string{"gateway", "agents", "retrieval", "inference", "trainer"} {
		c, ok := certs["pdfqa-tls-"+svc]
		if !ok || len(c.Spec.DNSNames) == 0 || c.Spec.DNSNames[0] != svc {
			t.Errorf("no certificate naming %s: %v", svc, c)
		}
		d := deployment(t, r, svc)
		var mounted []string
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Secret != nil {
				mounted = append(mounted, v.Secret.SecretName)
			}
		}
		if len(mounted) != 1 || mounted[0] != "pdfqa-tls-"+svc {
			t.Errorf("%s mounts the secrets %v, want its own pdfqa-tls-%s only", svc, mounted, svc)
		}
		secrets[svc] = strings.Join(mounted, ",")
	}
	if len(secrets) != 5 {
		t.Errorf("secrets per service: %v", secrets)
	}
	if c, ok := certs["pdfqa-tls-client"]; !ok || !slices.Equal(c.Spec.DNSNames, []string{"client"}) {
		t.Errorf("no client identity certificate: %v", c)
	}
	if c, ok := certs["pdfqa-tls-etcd"]; !ok || !slices.Contains(c.Spec.DNSNames, "*.pdfqa-etcd-headless.pdfqa.svc") {
		t.Errorf("etcd certificate does not name its members: %v", c)
	}
	sts := of[*appsv1.StatefulSet](r)
	if len(sts) != 1 {
		t.Fatalf("%d StatefulSets, want etcd's", len(sts))
	}
	ec := sts[0].Spec.Template.Spec.Containers[0]
	args := strings.Join(ec.Command, " ")
	for _, want := range []string{"--client-cert-auth", "--trusted-ca-file=/etc/etcd/tls/ca.crt", "--listen-client-urls=https://", "--peer-client-cert-auth", "=https://pdfqa-etcd-0.pdfqa-etcd-headless"} {
		if !strings.Contains(args, want) {
			t.Errorf("etcd command lacks %q: %s", want, args)
		}
	}
	if vs := sts[0].Spec.Template.Spec.Volumes; len(vs) != 1 || vs[0].Secret == nil || vs[0].Secret.SecretName != "pdfqa-tls-etcd" {
		t.Errorf("etcd volumes %v, want its own certificate", vs)
	}

	// Without TLS: no certificates, the kubelet's gRPC probes, plain etcd.
	plain := render(t, "cpu-cluster", nil)
	if n := len(of[*certificate](plain)); n != 0 {
		t.Errorf("%d certificates without TLS", n)
	}
	if c := deployment(t, plain, "agents").Spec.Template.Spec.Containers[0]; c.ReadinessProbe.GRPC == nil {
		t.Errorf("agents without TLS: readiness %v, want the gRPC probe", c.ReadinessProbe)
	}

	for name, tls := range map[string]map[string]any{
		"one secret for every pod":    {"enabled": true, "secretName": "pdfqa-tls"},
		"cert-manager with no issuer": {"enabled": true, "certManager": map[string]any{"enabled": true}},
	} {
		if _, err := deploytest.Render("cpu-cluster", map[string]any{"tls": tls}); err == nil {
			t.Errorf("%s: rendered", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// With TLS the gateway's REST port speaks HTTPS and its Service says so
// (https/443); tls.rest=false keeps it plain (PDFQA_REST_TLS=0, http/80) for
// an ingress that terminates TLS.
func TestGatewayRESTUnderTLS(t *testing.T) {
	for _, c := range []struct {
		rest      bool
		port      int32
		name, env string
	}{{true, 443, "https", ""}, {false, 80, "http", "0"}} {
		r := render(t, "cpu-cluster", map[string]any{"tls": map[string]any{"enabled": true, "rest": c.rest}})
		d := deployment(t, r, "gateway")
		got := ""
		if e := env(d.Spec.Template.Spec.Containers[0], "PDFQA_REST_TLS"); e != nil {
			got = e.Value
		}
		if got != c.env {
			t.Errorf("tls.rest=%v: PDFQA_REST_TLS %q, want %q", c.rest, got, c.env)
		}
		found := false
		for _, s := range of[*corev1.Service](r) {
			if s.Name != "pdfqa-gateway" {
				continue
			}
			for _, p := range s.Spec.Ports {
				if p.TargetPort.StrVal == "http" {
					found = p.Name == c.name && p.Port == c.port
				}
			}
		}
		if !found {
			t.Errorf("tls.rest=%v: the gateway Service has no %s port %d to the REST container port", c.rest, c.name, c.port)
		}
	}
}
