// Package deploytest renders the pdfqa Helm chart with Helm's Go SDK and
// reads the monitoring files of deploy/, for the tests that check them.
package deploytest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Profiles are the chart's values files, one per deployment shape.
var Profiles = []string{"single-node", "cpu-cluster", "gpu-cluster"}

// Namespace is the namespace the tests render into.
const Namespace = "pdfqa"

// Dir is the deploy/ directory.
func Dir() string {
	_, f, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(f))
}

// ChartDir is deploy/helm/pdfqa.
func ChartDir() string { return filepath.Join(Dir(), "helm", "pdfqa") }

// Manifest is one Kubernetes object rendered by the chart.
type Manifest struct {
	Template   string // template file it came from
	APIVersion string
	Kind       string
	Name       string
	YAML       []byte
}

func (m Manifest) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", m.APIVersion, m.Kind, m.Name, m.Template)
}

// Render renders the chart with values-<profile>.yaml ("" for the defaults
// only) and then overrides, as `helm template` would.
func Render(profile string, overrides map[string]any) ([]Manifest, error) {
	ch, err := loader.Load(ChartDir())
	if err != nil {
		return nil, err
	}
	vals := map[string]any{}
	if profile != "" {
		v, err := chartutil.ReadValuesFile(filepath.Join(ChartDir(), "values-"+profile+".yaml"))
		if err != nil {
			return nil, err
		}
		vals = v.AsMap()
	}
	vals = chartutil.CoalesceTables(overrides, vals)
	caps := chartutil.DefaultCapabilities.Copy()
	rv, err := chartutil.ToRenderValues(ch, vals, chartutil.ReleaseOptions{
		Name: "pdfqa", Namespace: Namespace, Revision: 1, IsInstall: true,
	}, caps)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var ms []Manifest
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue // NOTES.txt, helpers
		}
		r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out[n])))
		for {
			doc, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", n, err)
			}
			if len(bytes.TrimSpace(stripComments(doc))) == 0 {
				continue
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal(doc, &head); err != nil {
				return nil, fmt.Errorf("%s: %w\n%s", n, err, doc)
			}
			ms = append(ms, Manifest{Template: n, APIVersion: head.APIVersion, Kind: head.Kind, Name: head.Metadata.Name, YAML: doc})
		}
	}
	return ms, nil
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && string(t) != "---" {
			out = append(out, l...)
			out = append(out, '\n')
		}
	}
	return out
}

// ReadFile reads a file under deploy/.
func ReadFile(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(Dir(), rel)) }
