package mesh

import (
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	gatewayv1 "github.com/pdfqa/pdfqa/gen/pdfqa/gateway/v1"
	inferencev1 "github.com/pdfqa/pdfqa/gen/pdfqa/inference/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/client"
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/inference"
	"github.com/pdfqa/pdfqa/services/retrieval"
)

// TestRegistry checks the one service table: valid, in start order (the
// gateway last, once what it fronts is up), every unit buildable and every
// backend on REST.
func TestRegistry(t *testing.T) {
	r := Registry() // panics on a bad table
	if got, want := r.Names(), []string{"inference", "retrieval", "agents", "trainer", "gateway"}; !reflect.DeepEqual(got, want) {
		t.Errorf("start order %v, want %v", got, want)
	}
	if got, want := Names(), []string{"agents", "gateway", "inference", "retrieval", "trainer"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	for _, u := range Units {
		if u.Build == nil {
			t.Errorf("%s: no Build", u.Name)
		}
		if l, err := Lookup(u.Name); err != nil || l.Desc != u.Desc {
			t.Errorf("Lookup(%s) = %v, %v", u.Name, l.Name, err)
		}
		if gw := u.Desc == &gatewayv1.GatewayService_ServiceDesc; gw != (u.REST == nil) {
			t.Errorf("%s: REST registrar %v; only the gateway (served in-process) has none", u.Name, u.REST != nil)
		}
	}
	if _, err := Lookup("nope"); err == nil {
		t.Error("Lookup(nope) found a unit")
	}
}

// TestRegistryDeadlines pins the deadlines the CLI and the services had
// before the registry held them.
func TestRegistryDeadlines(t *testing.T) {
	r := Registry()
	for _, c := range []struct {
		desc     *grpc.ServiceDesc
		name     string
		cli, svc [2]time.Duration
	}{
		{&inferencev1.InferenceService_ServiceDesc, "inference", [2]time.Duration{}, [2]time.Duration{}},
		{&retrievalv1.RetrievalService_ServiceDesc, "retrieval", [2]time.Duration{5 * time.Minute, time.Hour}, [2]time.Duration{}},
		{&agentsv1.AgentsService_ServiceDesc, "agents", [2]time.Duration{0, 30 * time.Minute}, [2]time.Duration{}},
		{&trainerv1.TrainerService_ServiceDesc, "trainer", [2]time.Duration{}, [2]time.Duration{}},
	} {
		s, err := r.Of(c.desc)
		if err != nil {
			t.Fatal(err)
		}
		want := client.Downstream{Service: c.name, GRPCService: c.desc.ServiceName, UnaryTimeout: c.svc[0], StreamTimeout: c.svc[1]}
		if got := s.Downstream(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s downstream %+v, want %+v", c.name, got, want)
		}
		want.UnaryTimeout, want.StreamTimeout = c.cli[0], c.cli[1]
		if got := s.CLIDownstream(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s CLI downstream %+v, want %+v", c.name, got, want)
		}
	}
}

// TestRetrievalEmbedsWithTheStaticAlias: retrieval's default ingestion
// model is the name the inference service serves the static table under
// (services do not import each other, so the composition root checks).
func TestRetrievalEmbedsWithTheStaticAlias(t *testing.T) {
	if retrieval.DefaultEmbedModel != inference.StaticAlias {
		t.Errorf("retrieval.DefaultEmbedModel %q, inference.StaticAlias %q", retrieval.DefaultEmbedModel, inference.StaticAlias)
	}
}

// TestEveryUnitReadsItsSettings: the services that have settings read them
// through the registry's table, from an empty environment without error.
func TestEveryUnitReadsItsSettings(t *testing.T) {
	r := config.NewReader(config.MapEnv(nil))
	if err := ReadSettings(r, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range r.Values() {
		seen[v.Section] = true
	}
	for _, u := range Units {
		if (u.Settings != nil) != seen[u.Name] {
			t.Errorf("%s: Settings %v, settings listed %v (a unit's settings are listed under its name)", u.Name, u.Settings != nil, seen[u.Name])
		}
	}
}
