package helm_test

import (
	"fmt"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

// stateful are the services whose state is pod-local without the store.
var stateful = []string{"retrieval", "agents", "inference", "trainer"}

func env(c corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// checkSharedState: every stateful service reads the store and the blob
// bucket (PDFQA_BLOBS starting with blobsPrefix) and keeps nothing on its
// pod — no PVC of its own, /data an emptyDir, rolling updates.
func checkSharedState(t *testing.T, r rendered, blobsPrefix string) {
	t.Helper()
	for _, svc := range stateful {
		d := deployment(t, r, svc)
		c := d.Spec.Template.Spec.Containers[0]
		if e := env(c, "PDFQA_STORE"); e == nil || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s: PDFQA_STORE not read from a Secret: %v", svc, e)
		}
		if e := env(c, "PDFQA_BLOBS"); e == nil || !strings.HasPrefix(e.Value, blobsPrefix) {
			t.Errorf("%s: PDFQA_BLOBS = %v, want %s…", svc, e, blobsPrefix)
		}
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
			t.Errorf("%s: strategy %s with no pod-local state, want RollingUpdate", svc, d.Spec.Strategy.Type)
		}
		for _, v := range d.Spec.Template.Spec.Volumes {
			if v.Name == "data" && v.EmptyDir == nil {
				t.Errorf("%s: /data is %+v with the shared store, want scratch (emptyDir)", svc, v.VolumeSource)
			}
			if v.PersistentVolumeClaim != nil && v.Name != "blobs" {
				t.Errorf("%s: mounts PVC %s with the shared store", svc, v.PersistentVolumeClaim.ClaimName)
			}
		}
	}
	for _, pvc := range of[*corev1.PersistentVolumeClaim](r) {
		if pvc.Name != "pdfqa-blobs" {
			t.Errorf("PVC %s rendered with the shared store (only the shared blob volume may be)", pvc.Name)
		}
	}
	// The gateway holds no state: it gets neither.
	if c := deployment(t, r, "gateway").Spec.Template.Spec.Containers[0]; env(c, "PDFQA_BLOBS") != nil {
		t.Errorf("gateway gets PDFQA_BLOBS")
	}
}

// Each stateful service may run more than one replica only against the
// shared store: without it the render fails and says what to set; with a
// PostgreSQL DSN and an S3 bucket it renders N replicas that keep nothing
// on their pods, the S3 keys from a Secret.
func TestReplicasNeedTheSharedStore(t *testing.T) {
	s3 := map[string]any{"url": "s3://pdfqa-blobs?endpoint=https://s3.example.internal&region=eu-west-1&use_path_style=true", "existingSecret": "pdfqa-s3"}
	for _, svc := range stateful {
		for _, scale := range []map[string]any{
			{"replicas": 2},
			{"autoscaling": map[string]any{"minReplicas": 1, "maxReplicas": 3}},
		} {
			name := fmt.Sprintf("%s/%v", svc, scale)
			_, err := deploytest.Render("single-node", map[string]any{"services": map[string]any{svc: scale}})
			if err == nil || !strings.Contains(err.Error(), "services."+svc+":") || !strings.Contains(err.Error(), "postgres.dsn") {
				t.Errorf("%s without a store: render error %v; want one naming services.%s and the store settings", name, err, svc)
			}
		}
		r := render(t, "single-node", map[string]any{
			"postgres": map[string]any{"dsn": "postgres://pdfqa:secret@db.example.internal/pdfqa"},
			"blobs":    s3,
			"services": map[string]any{svc: map[string]any{"replicas": 3}},
		})
		checkPolicies(t, r)
		checkSharedState(t, r, "s3://pdfqa-blobs?")
		d := deployment(t, r, svc)
		if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
			t.Errorf("%s: %v replicas, want 3", svc, d.Spec.Replicas)
		}
		c := d.Spec.Template.Spec.Containers[0]
		for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} {
			if e := env(c, k); e == nil || e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "pdfqa-s3" {
				t.Errorf("%s: %s = %+v, want it from Secret pdfqa-s3", svc, k, e)
			}
		}
		if e := env(c, "PDFQA_STORE"); e == nil || e.ValueFrom.SecretKeyRef.Name != "pdfqa-postgres" {
			t.Errorf("%s: PDFQA_STORE = %+v, want the chart's Secret pdfqa-postgres", svc, e)
		}
	}
}

// The gateway holds no state: it scales without the store.
func TestGatewayScalesWithoutTheStore(t *testing.T) {
	r := render(t, "single-node", map[string]any{"services": map[string]any{"gateway": map[string]any{"replicas": 3}}})
	checkPolicies(t, r)
	if d := deployment(t, r, "gateway"); *d.Spec.Replicas != 3 {
		t.Errorf("gateway %d replicas", *d.Spec.Replicas)
	}
	// The single-writer services keep their PVC and Recreate.
	for _, svc := range []string{"retrieval", "trainer"} {
		if d := deployment(t, r, svc); d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("%s: %s without the store, want Recreate (one writer on its volume)", svc, d.Spec.Strategy.Type)
		}
	}
	if n := len(of[*corev1.PersistentVolumeClaim](r)); n != 2 {
		t.Errorf("%d PVCs without the store, want retrieval's and the trainer's", n)
	}
}

// A store with a shared ReadWriteMany volume instead of S3: one PVC for
// the bucket, mounted at /blobs by every stateful service.
func TestSharedBlobVolume(t *testing.T) {
	r := render(t, "single-node", map[string]any{
		"postgres": map[string]any{"existingSecret": "db", "existingSecretKey": "uri"},
		"blobs":    map[string]any{"sharedVolume": map[string]any{"enabled": true, "storageClass": "nfs"}},
		"services": map[string]any{"retrieval": map[string]any{"replicas": 2}},
	})
	checkSharedState(t, r, "file:///blobs?")
	pvcs := of[*corev1.PersistentVolumeClaim](r)
	if len(pvcs) != 1 || pvcs[0].Spec.AccessModes[0] != corev1.ReadWriteMany || *pvcs[0].Spec.StorageClassName != "nfs" {
		t.Fatalf("blob PVCs %+v, want one ReadWriteMany on nfs", pvcs)
	}
	for _, svc := range stateful {
		c := deployment(t, r, svc).Spec.Template.Spec.Containers[0]
		mounted := false
		for _, m := range c.VolumeMounts {
			mounted = mounted || (m.Name == "blobs" && m.MountPath == "/blobs")
		}
		if !mounted {
			t.Errorf("%s does not mount the blob volume at /blobs", svc)
		}
		if e := env(c, "PDFQA_STORE"); e == nil || e.ValueFrom.SecretKeyRef.Name != "db" || e.ValueFrom.SecretKeyRef.Key != "uri" {
			t.Errorf("%s: PDFQA_STORE = %+v, want Secret db key uri", svc, e)
		}
	}
}

// Values that would lose or split data are refused with a message that
// says what to set.
func TestBlobSettingsAreChecked(t *testing.T) {
	for name, tc := range map[string]struct {
		vals map[string]any
		want string
	}{
		"store without blobs": {map[string]any{"postgres": map[string]any{"dsn": "postgres://db/pdfqa"}}, "needs a blob bucket"},
		"both blob kinds": {map[string]any{"postgres": map[string]any{"dsn": "postgres://db/pdfqa"},
			"blobs": map[string]any{"url": "s3://b?region=x", "sharedVolume": map[string]any{"enabled": true}}}, "not both"},
		"unlinked scheme": {map[string]any{"postgres": map[string]any{"dsn": "postgres://db/pdfqa"},
			"blobs": map[string]any{"url": "gs://bucket"}}, "want s3://BUCKET"},
		"blobs without store": {map[string]any{"blobs": map[string]any{"url": "s3://b?region=x"}}, "only with the shared store"},
	} {
		if _, err := deploytest.Render("single-node", tc.vals); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: render error %v; want %q", name, err, tc.want)
		}
	}
}
