package trainer

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
)

// The per-tenant cap (Config.MaxJobsPerTenant), on both stores with
// concurrent StartJob calls at every replica: each tenant gets exactly its
// share of the slots, the total cap still holds for a third tenant, and a
// ResumeJob past a tenant's cap is refused naming the tenant.
func TestPerTenantJobCap(t *testing.T) {
	for _, impl := range storeImpls {
		t.Run(impl.name, func(t *testing.T) {
			const total, perTenant, calls = 5, 2, 12
			svcs := impl.open(t, Options{Config: Config{MaxJobs: total, MaxJobsPerTenant: perTenant}, Runner: holdRunner{}})
			as := func(tenant string) context.Context {
				return auth.WithPrincipal(context.Background(), auth.Principal{Tenant: tenant, Role: auth.Admin, KeyID: tenant})
			}
			datasets := map[string]string{}
			for _, tenant := range []string{"acme", "beta", "gamma"} {
				ds, err := svcs[0].importDataset(as(tenant), &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
				if err != nil {
					t.Fatal(err)
				}
				datasets[tenant] = ds.GetId()
			}
			var mu sync.Mutex
			started := map[string][]string{}
			busy := map[string]int{}
			atOnce(calls, func(i int) {
				tenant := []string{"acme", "beta"}[i%2]
				svc := svcs[i%len(svcs)]
				j, err := svc.startJob(as(tenant), datasets[tenant], nil)
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					started[tenant] = append(started[tenant], j.GetId())
				case errors.Is(err, ErrBusy):
					busy[tenant]++
				default:
					t.Errorf("StartJob for %s: %v", tenant, err)
				}
			})
			for _, tenant := range []string{"acme", "beta"} {
				if len(started[tenant]) != perTenant || busy[tenant] != calls/2-perTenant {
					t.Fatalf("%s: %d started, %d refused; want %d and %d", tenant, len(started[tenant]), busy[tenant], perTenant, calls/2-perTenant)
				}
			}
			// acme cancels one, starts another in its place, and may not
			// resume the cancelled one: its own cap, though the total has
			// room (4 of 5).
			one := started["acme"][0]
			if _, err := svcs[0].cancelJob(as("acme"), one); err != nil {
				t.Fatal(err)
			}
			if _, err := svcs[len(svcs)-1].startJob(as("acme"), datasets["acme"], nil); err != nil {
				t.Fatalf("acme after a cancel: %v", err)
			}
			if _, err := svcs[0].resumeJob(as("acme"), one); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), `tenant "acme" has 2 of its 2`) {
				t.Fatalf("acme resuming past its cap: %v, want its tenant cap", err)
			}
			// A third tenant takes the last slot; then the total cap holds.
			if _, err := svcs[0].startJob(as("gamma"), datasets["gamma"], nil); err != nil {
				t.Fatalf("gamma with one slot left: %v", err)
			}
			if _, err := svcs[len(svcs)-1].startJob(as("gamma"), datasets["gamma"], nil); !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "5 of 5") {
				t.Fatalf("gamma with every slot taken: %v, want the total cap", err)
			}
		})
	}
}
