package deploytest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// RulesFile is the Prometheus rule file, relative to deploy/.
const RulesFile = "helm/pdfqa/files/pdfqa.rules.yml"

// DashboardGlob matches the Grafana dashboards, relative to deploy/.
const DashboardGlob = "helm/pdfqa/files/dashboards/*.json"

// Query is one PromQL expression and where it is used.
type Query struct {
	Where string
	Expr  string
}

// RuleQueries returns every expression of the rule file, and the names it records.
func RuleQueries() (qs []Query, recorded map[string]bool, err error) {
	raw, err := ReadFile(RulesFile)
	if err != nil {
		return nil, nil, err
	}
	var f struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Record string `json:"record"`
				Alert  string `json:"alert"`
				Expr   string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		return nil, nil, err
	}
	recorded = map[string]bool{}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			name := r.Record + r.Alert
			if r.Record != "" {
				recorded[r.Record] = true
			}
			qs = append(qs, Query{Where: "rule " + g.Name + "/" + name, Expr: r.Expr})
		}
	}
	return qs, recorded, nil
}

// DashboardQueries returns the expression of every panel target.
func DashboardQueries() ([]Query, error) {
	files, err := filepath.Glob(filepath.Join(Dir(), DashboardGlob))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no dashboards match %s", DashboardGlob)
	}
	var qs []Query
	for _, f := range files {
		raw, err := ReadFile(strings.TrimPrefix(f, Dir()+"/"))
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, p := range d.Panels {
			for _, t := range p.Targets {
				qs = append(qs, Query{Where: fmt.Sprintf("dashboard %s panel %q", filepath.Base(f), p.Title), Expr: t.Expr})
			}
		}
	}
	return qs, nil
}

// Dashboard is the part of a Grafana dashboard the checks read.
type Dashboard struct {
	UID    string `json:"uid"`
	Title  string `json:"title"`
	Panels []struct {
		ID      int    `json:"id"`
		Title   string `json:"title"`
		Type    string `json:"type"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	} `json:"panels"`
}

// KEDAQueries returns the Prometheus trigger queries of every ScaledObject
// the chart can render (every profile, and retrieval scaled out).
func KEDAQueries() ([]Query, error) {
	var qs []Query
	renders := map[string]map[string]any{}
	for _, p := range Profiles {
		renders[p] = nil
	}
	renders["retrieval-scaled"] = map[string]any{"services": map[string]any{"retrieval": map[string]any{
		"persistence": false, "autoscaling": map[string]any{"minReplicas": 2, "maxReplicas": 4}}}}
	for name, over := range renders {
		profile := name
		if over != nil {
			profile = "cpu-cluster"
		}
		ms, err := Render(profile, over)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Kind != "ScaledObject" {
				continue
			}
			var so struct {
				Spec struct {
					Triggers []struct {
						Type     string            `json:"type"`
						Metadata map[string]string `json:"metadata"`
					} `json:"triggers"`
				} `json:"spec"`
			}
			if err := yaml.Unmarshal(m.YAML, &so); err != nil {
				return nil, err
			}
			for _, t := range so.Spec.Triggers {
				if t.Type == "prometheus" {
					qs = append(qs, Query{Where: fmt.Sprintf("%s ScaledObject %s", name, m.Name), Expr: t.Metadata["query"]})
				}
			}
		}
	}
	return qs, nil
}

// MetricNames parses expr and returns the metric names it selects.
func MetricNames(expr string) ([]string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			name := vs.Name
			if name == "" {
				for _, m := range vs.LabelMatchers {
					if m.Name == "__name__" {
						name = m.Value
					}
				}
			}
			if name != "" {
				seen[name] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}
