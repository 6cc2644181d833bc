// Package metrics_test starts the whole mesh, scrapes every service's
// /metrics and fails when a metric named by a Prometheus rule, a Grafana
// dashboard panel or a KEDA trigger is not exported by any of them.
package metrics_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/testenv"
)

// scrape returns the metric names one /metrics endpoint exposes, with the
// series names of histograms and summaries (_bucket, _sum, _count).
func scrape(t *testing.T, addr string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s/metrics: %s", addr, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s/metrics: %v", addr, err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		if len(f.GetMetric()) == 0 {
			continue // a vector with no series yet is not exported
		}
		names[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM:
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			names[name+"_sum"], names[name+"_count"] = true, true
		}
	}
	return names
}

func TestEveryReferencedMetricIsExported(t *testing.T) {
	m := mesh.StartForTest(t, mesh.UpOptions{Data: t.TempDir(), HTTPAddr: "127.0.0.1:0", LogLevel: "error"})

	// Wait until every service answers its health check through the gateway:
	// the engines are loaded and the gateway has called each service once
	// (client RPC metrics exist only after a call).
	base := "http://" + m.Gateway().HTTPAddr
	if err := testenv.WaitHTTP(base+"/healthz", 2*time.Minute); err != nil {
		t.Fatal(err)
	}

	exported := map[string][]string{} // metric → services exporting it
	for _, in := range m.Instances {
		for name := range scrape(t, in.Server.MetricsAddr()) {
			exported[name] = append(exported[name], in.Name)
		}
	}
	if len(m.Instances) != 5 {
		t.Fatalf("%d instances, want the 5 services", len(m.Instances))
	}

	rules, recorded, err := deploytest.RuleQueries()
	if err != nil {
		t.Fatal(err)
	}
	dash, err := deploytest.DashboardQueries()
	if err != nil {
		t.Fatal(err)
	}
	keda, err := deploytest.KEDAQueries()
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 || len(dash) == 0 || len(keda) == 0 {
		t.Fatalf("queries: %d rules, %d dashboard targets, %d KEDA triggers; want some of each", len(rules), len(dash), len(keda))
	}
	missing := map[string][]string{}
	checked := map[string]bool{}
	for _, q := range append(append(rules, dash...), keda...) {
		// Grafana's $__rate_interval and friends are not PromQL.
		expr := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h").Replace(q.Expr)
		names, err := deploytest.MetricNames(expr)
		if err != nil {
			t.Errorf("%s: %q does not parse: %v", q.Where, q.Expr, err)
			continue
		}
		if len(names) == 0 {
			t.Errorf("%s: %q selects no metric", q.Where, q.Expr)
		}
		for _, n := range names {
			if recorded[n] {
				continue // a recording rule of the rule file
			}
			checked[n] = true
			if len(exported[n]) == 0 {
				missing[n] = append(missing[n], q.Where)
			}
		}
	}
	var report []string
	for n, where := range missing {
		report = append(report, fmt.Sprintf("%s (used by %s)", n, strings.Join(where, "; ")))
	}
	sort.Strings(report)
	if len(report) > 0 {
		t.Errorf("metrics referenced but not exported by any service:\n  %s", strings.Join(report, "\n  "))
	} else {
		t.Logf("%d referenced metrics, all exported", len(checked))
	}
	// The autoscaling gauges come from the services they scale.
	for metric, svc := range map[string]string{
		"pdfqa_inference_queue_depth":        "inference",
		"pdfqa_retrieval_ingest_queue_depth": "retrieval",
		"pdfqa_agents_asks_in_flight":        "agents",
	} {
		if got := exported[metric]; len(got) != 1 || got[0] != svc {
			t.Errorf("%s exported by %v, want %s", metric, got, svc)
		}
	}
}
