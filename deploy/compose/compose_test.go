// Package compose_test validates deploy/compose.yaml with `docker-compose
// config` (Debian's docker-compose: the Compose schema, interpolation,
// anchors) and checks what it resolves to: every pdfqa service non-root,
// read-only and wired to etcd and PostgreSQL, only the gateway, Prometheus
// and Grafana published, Prometheus scraping every service, the mounted
// files present; and that the Dockerfile builds the stages the compose file
// and the chart use. No image is built here: no container engine can reach
// a container registry from this machine.
package compose_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/pdfqa/pdfqa/deploy/deploytest"
)

type service struct {
	Image       string                   `json:"image"`
	Build       *struct{ Target string } `json:"build"`
	User        string                   `json:"user"`
	ReadOnly    bool                     `json:"read_only"`
	CapDrop     []string                 `json:"cap_drop"`
	Command     []string                 `json:"command"`
	Environment map[string]string        `json:"environment"`
	Ports       []any                    `json:"ports"`
	Volumes     []string                 `json:"volumes"`
	Profiles    []string                 `json:"profiles"`
	Deploy      struct {
		Resources struct {
			Reservations struct {
				Devices []struct {
					Driver       string   `json:"driver"`
					Capabilities []string `json:"capabilities"`
				} `json:"devices"`
			} `json:"reservations"`
		} `json:"resources"`
	} `json:"deploy"`
}

var secrets = []string{"POSTGRES_PASSWORD=pg-secret", "PDFQA_SERVICE_TOKEN=svc-token", "GRAFANA_ADMIN_PASSWORD=gf-secret"}

// compose runs docker-compose on deploy/compose.yaml with env only.
func compose(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal("docker-compose not found: install Debian's docker-compose package (scripts/setup/system.sh, run by make test)")
	}
	// An empty env file: a developer's deploy/.env must not change the result.
	envFile := filepath.Join(t.TempDir(), "empty.env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"-f", "compose.yaml", "--project-directory", ".", "--env-file", envFile}, args...)...)
	cmd.Dir = deploytest.Dir()
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func resolved(t *testing.T, args ...string) map[string]service {
	t.Helper()
	out, err := compose(t, secrets, append(args, "config")...)
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	var cfg struct {
		Services map[string]service `json:"services"`
	}
	// docker-compose validated the schema; this reads the fields checked here.
	if err := yaml.Unmarshal([]byte(out), &cfg); err != nil {
		t.Fatalf("docker-compose config output: %v\n%s", err, out)
	}
	return cfg.Services
}

var pdfqaServices = []string{"agents", "gateway", "inference", "retrieval", "trainer"}

func TestComposeConfigResolves(t *testing.T) {
	svcs := resolved(t)
	var names []string
	for n := range svcs {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"agents", "etcd", "gateway", "grafana", "inference", "inference-cuda", "postgres", "prometheus", "retrieval", "trainer"}
	if !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	for name, s := range svcs {
		if !strings.HasPrefix(s.Image, "pdfqa:") {
			if len(s.Ports) > 0 && name != "prometheus" && name != "grafana" {
				t.Errorf("%s publishes %v: only the gateway, Prometheus and Grafana are reachable from the host", name, s.Ports)
			}
			continue
		}
		served := name
		if name == "inference-cuda" {
			served = "inference"
		}
		if len(s.Command) < 2 || s.Command[0] != "serve" || s.Command[1] != served {
			t.Errorf("%s runs %v, want serve %s", name, s.Command, served)
		}
		if !slices.Contains(s.Command, "0.0.0.0:9100") {
			t.Errorf("%s: metrics not on 0.0.0.0:9100 (what Prometheus scrapes): %v", name, s.Command)
		}
		if s.User != "10001:10001" || !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: user %q, read_only %v, cap_drop %v; want 10001:10001, true, [ALL]", name, s.User, s.ReadOnly, s.CapDrop)
		}
		env := s.Environment
		if env["PDFQA_ETCD"] != "etcd:2379" || env["PDFQA_STORE"] != "postgres://pdfqa:pg-secret@postgres:5432/pdfqa?sslmode=disable" || env["PDFQA_SERVICE_TOKEN"] != "svc-token" {
			t.Errorf("%s: etcd %q, store %q, service token %q", name, env["PDFQA_ETCD"], env["PDFQA_STORE"], env["PDFQA_SERVICE_TOKEN"])
		}
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.Contains(v, ":/data") }) {
			t.Errorf("%s: no volume at /data (the only writable path): %v", name, s.Volumes)
		}
		if name == "gateway" {
			// The gateway takes the mesh's API keys (platform/auth), no list of its own.
			if _, own := env["PDFQA_GATEWAY_API_KEYS"]; own || len(s.Ports) != 1 {
				t.Errorf("gateway: own API key list %v, ports %v", own, s.Ports)
			}
		} else if len(s.Ports) > 0 {
			t.Errorf("%s publishes %v: only the gateway is reachable from the host", name, s.Ports)
		}
	}
	if r := svcs["retrieval"]; r.Environment["PDFQA_BLOBS"] != "file:///blobs" || !slices.Contains(r.Volumes, "blobs:/blobs:rw") {
		t.Errorf("retrieval: blobs %q on %v; want one bucket every replica shares", r.Environment["PDFQA_BLOBS"], r.Volumes)
	}
	c := svcs["inference-cuda"]
	if c.Build == nil || c.Build.Target != "runtime-cuda" || !slices.Equal(c.Profiles, []string{"gpu"}) ||
		len(c.Deploy.Resources.Reservations.Devices) != 1 || c.Deploy.Resources.Reservations.Devices[0].Driver != "nvidia" {
		t.Errorf("inference-cuda: build %+v, profiles %v, devices %+v; want the CUDA target on an NVIDIA GPU under --profile gpu", c.Build, c.Profiles, c.Deploy.Resources.Reservations.Devices)
	}
	if b := svcs["gateway"].Build; b == nil || b.Target != "runtime" {
		t.Errorf("gateway build %+v, want the Dockerfile's runtime target", b)
	}
}

func TestComposeRefusesMissingSecrets(t *testing.T) {
	for i := range secrets {
		env := slices.Delete(slices.Clone(secrets), i, i+1)
		name, _, _ := strings.Cut(secrets[i], "=")
		out, err := compose(t, env, "config", "-q")
		if err == nil || !strings.Contains(out, name) {
			t.Errorf("config without %s: err %v, output %q; want a refusal naming it", name, err, out)
		}
	}
}

func TestComposeMountsAndScrapes(t *testing.T) {
	dir := deploytest.Dir()
	for _, p := range []string{"prometheus/prometheus.yml", "helm/pdfqa/files/pdfqa.rules.yml",
		"grafana/provisioning/datasources/prometheus.yaml", "grafana/provisioning/dashboards/pdfqa.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("mounted file: %v", err)
		}
	}
	dash, _ := filepath.Glob(filepath.Join(dir, "helm/pdfqa/files/dashboards/*.json"))
	if len(dash) < 4 {
		t.Errorf("%d dashboards to provision, want mesh, inference, ingestion and agents", len(dash))
	}
	b, err := os.ReadFile(filepath.Join(dir, "prometheus/prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range pdfqaServices {
		if !strings.Contains(string(b), `"`+s+`:9100"`) {
			t.Errorf("prometheus.yml does not scrape %s:9100", s)
		}
	}
}

// stages parses the Dockerfile's FROM ... AS name lines and each stage's
// instructions.
func stages(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deploytest.Dir(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Join continuation lines, drop comments.
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	from := regexp.MustCompile(`(?i)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?$`)
	out := map[string][]string{}
	cur := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if m := from.FindStringSubmatch(line); m != nil {
			if m[2] == "" {
				t.Fatalf("unnamed stage %q", line)
			}
			cur = m[2]
			out[cur] = []string{line}
			continue
		}
		if cur != "" {
			out[cur] = append(out[cur], line)
		}
	}
	return out
}

func TestDockerfileStages(t *testing.T) {
	st := stages(t)
	for _, want := range []string{"build", "engine", "engine-cuda", "static", "runtime", "runtime-cuda"} {
		if st[want] == nil {
			t.Fatalf("no stage %q (have %v)", want, st)
		}
	}
	has := func(stage, sub string) bool {
		return slices.ContainsFunc(st[stage], func(l string) bool { return strings.Contains(l, sub) })
	}
	for _, rt := range []string{"runtime", "runtime-cuda"} {
		if !has(rt, "USER 10001:10001") || !has(rt, "useradd --system --uid 10001") {
			t.Errorf("%s: not run as the unprivileged user 10001", rt)
		}
		if !has(rt, "COPY --from=static /cache/models /cache/models") {
			t.Errorf("%s: the models and the distilled static table are not baked in", rt)
		}
		if !has(rt, "COPY --from=build /out/pdfqa") {
			t.Errorf("%s: no pdfqa binary", rt)
		}
	}
	if !has("runtime-cuda", "COPY --from=engine-cuda /cache/engine") || !has("engine-cuda", "PDFQA_ENGINE_VARIANT=cuda") {
		t.Error("runtime-cuda: no CUDA engine build")
	}
	if !has("static", "pdfqa models --cache /cache") {
		t.Error("the static embedding table is not distilled at build time")
	}
	for _, e := range []string{"engine", "engine-cuda"} {
		if !has(e, "PDFQA_ENGINE_NATIVE=OFF") {
			t.Errorf("%s: a -march=native engine would not run on other CPUs", e)
		}
	}
	if !has("build", "CGO_ENABLED=0") {
		t.Error("build: the binary is not static")
	}
	if !has("runtime", "COPY --from=engine /cache/venv") {
		t.Error("runtime: no trainer venv")
	}
}
