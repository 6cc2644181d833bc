package helm_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

var update = flag.Bool("update", false, "rewrite deploy/k8s/pdfqa.yaml from the chart")

const plainHeader = `# pdfqa on one Kubernetes node, without Helm: the chart's single-node profile
# (deploy/helm/pdfqa/values-single-node.yaml) rendered as 'helm template' does.
# GENERATED — do not edit: change the chart, then
#   go test ./deploy/helm -run TestPlainManifestIsTheChart -update
# Apply with: kubectl apply -n pdfqa -f deploy/k8s/pdfqa.yaml
# Replicas, the shared store (PostgreSQL + a bucket), the GPU pool, KEDA, mutual
# TLS and monitoring are the chart's other profiles and values (deploy/README.md).
apiVersion: v1
kind: Namespace
metadata: {name: pdfqa}
`

// The plain manifest is the chart rendered, never a second hand-written
// deployment that drifts from it (it said retrieval could not scale out
// after the shared store had landed).
func TestPlainManifestIsTheChart(t *testing.T) {
	ms, err := deploytest.Render("single-node", nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.WriteString(plainHeader)
	for _, m := range ms {
		b.WriteString("---\n# Source: " + m.Template + "\n")
		b.Write(bytes.TrimSpace(m.YAML))
		b.WriteString("\n")
	}
	path := filepath.Join(deploytest.Dir(), "k8s", "pdfqa.yaml")
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("%s is not the chart's single-node profile rendered: run go test ./deploy/helm -run TestPlainManifestIsTheChart -update", path)
	}
	// and it decodes strictly into the API types, like every profile
	decode(t, ms)
}
