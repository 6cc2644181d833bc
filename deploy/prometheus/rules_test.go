// Package prometheus_test checks the Prometheus rules with promtool: syntax
// (check rules) and unit tests that fire every alert (test rules).
package prometheus_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

const testFile = "prometheus/tests/pdfqa.rules.test.yml"

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found: install Debian's prometheus package (scripts/setup/system.sh, run by make test)")
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = deploytest.Dir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckRules(t *testing.T) {
	out := promtool(t, "check", "rules", deploytest.RulesFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool check rules:\n%s", out)
	}
}

// The compose Prometheus config loads the same rule file (promtool resolves
// rule_files relative to the config, so it checks a copy laid out as compose
// mounts it).
func TestPromtoolCheckComposeConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, err := deploytest.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	rules, err := deploytest.ReadFile(deploytest.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rules"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules", "pdfqa.rules.yml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, "check", "config", filepath.Join(dir, "prometheus.yml"))
	if !strings.Contains(out, "pdfqa.rules.yml") || !strings.Contains(out, "rules found") {
		t.Fatalf("promtool check config did not load the rule file:\n%s", out)
	}
}

func TestPromtoolTestRules(t *testing.T) {
	out := promtool(t, "test", "rules", testFile)
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules:\n%s", out)
	}
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `json:"alert"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

// Every alert has a severity, a summary, a description and a runbook line,
// and the unit tests expect it to fire at least once.
func TestEveryAlertHasRunbookAndFiringTest(t *testing.T) {
	raw, err := deploytest.ReadFile(deploytest.RulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		t.Fatal(err)
	}
	tests, err := deploytest.ReadFile(testFile)
	if err != nil {
		t.Fatal(err)
	}
	var tf struct {
		RuleFiles []string `json:"rule_files"`
		Tests     []struct {
			Alerts []struct {
				Name string `json:"alertname"`
				Exp  []any  `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		} `json:"tests"`
	}
	if err := yaml.Unmarshal(tests, &tf); err != nil {
		t.Fatal(err)
	}
	if len(tf.RuleFiles) != 1 || filepath.Clean(filepath.Join("prometheus/tests", tf.RuleFiles[0])) != deploytest.RulesFile {
		t.Fatalf("the unit tests load %v, not %s", tf.RuleFiles, deploytest.RulesFile)
	}
	fired := map[string]bool{}
	for _, tc := range tf.Tests {
		for _, a := range tc.Alerts {
			if len(a.Exp) > 0 {
				fired[a.Name] = true
			}
		}
	}
	var alerts []string
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts = append(alerts, r.Alert)
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("%s: severity %q, want warning or critical", r.Alert, s)
			}
			for _, k := range []string{"summary", "description", "runbook"} {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("%s: no %s annotation", r.Alert, k)
				}
			}
			if !fired[r.Alert] {
				t.Errorf("%s: no unit test in %s makes it fire", r.Alert, testFile)
			}
		}
	}
	sort.Strings(alerts)
	// The list: breaker open, error ratio, ask p95 over its SLO,
	// ingestion stalled with queued work, engine restarts, etcd lease loss,
	// disk/DB errors.
	for _, want := range []string{"PdfqaBreakerOpen", "PdfqaHighErrorRatio", "PdfqaAskLatencyOverSLO", "PdfqaIngestionStalled",
		"PdfqaEngineRestarting", "PdfqaEtcdLeaseLost", "PdfqaStorageErrors"} {
		if i := sort.SearchStrings(alerts, want); i == len(alerts) || alerts[i] != want {
			t.Errorf("no %s alert", want)
		}
	}
}
