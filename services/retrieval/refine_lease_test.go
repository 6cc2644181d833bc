package retrieval

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse/pdftest"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// markedRefiner is a refiner (hashed, 64-d) that records when it embedded
// texts holding each marker word (unit tests only).
type markedRefiner struct {
	embed.Hash
	markers []string
	mu      sync.Mutex
	first   map[string]time.Time
	calls   map[string]int
}

func (m *markedRefiner) ModelName() string { return "refined-model" }

func (m *markedRefiner) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	m.mu.Lock()
	for _, t := range texts {
		for _, k := range m.markers {
			if strings.Contains(t, k) {
				if m.calls[k] == 0 {
					m.first[k] = time.Now()
				}
				m.calls[k]++
			}
		}
	}
	m.mu.Unlock()
	return m.Hash.Embed(ctx, texts)
}

func (m *markedRefiner) seen(k string) (int, time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[k], m.first[k]
}

// Two replicas with refiners on one PostgreSQL store: each document is
// refined by exactly one of them, and a refinement whose lease a killed
// replica held (never renewed nor released) is taken over once the lease
// expires, not before.
func TestRefinementLeaseOneReplicaAndTakeover(t *testing.T) {
	dsn := pgtest.DSN(t)
	blobs, err := store.FileBucketURL(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	markers := []string{"zephyrine", "quillonite"}
	open := func(ref *markedRefiner) *Engine {
		cfg := testConfig(t.TempDir())
		cfg.StoreURL, cfg.BlobsURL = dsn, blobs
		cfg.Refiner = ref
		cfg.JobLease = 2 * time.Second
		return openEngine(t, cfg)
	}
	newRef := func() *markedRefiner {
		return &markedRefiner{Hash: embed.Hash{Dim: 64}, markers: markers, first: map[string]time.Time{}, calls: map[string]int{}}
	}
	refA, refB := newRef(), newRef()
	a, b := open(refA), open(refB)
	ctx := context.Background()

	// the replica that died held the first document's refinement lease
	held := pdftest.OnePage("Revenue of zephyrine products grew twelve percent in the quarter.")
	sum := sha256.Sum256(held)
	heldID := hex.EncodeToString(sum[:])[:24]
	dead, err := store.OpenPostgres(ctx, dsn, store.PostgresOptions{Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer dead.Close()
	const deadLease = 4 * time.Second
	leaseStart := time.Now()
	if ok, err := dead.Acquire(ctx, refineLeaseKey("c", heldID), "killed-replica", deadLease); err != nil || !ok {
		t.Fatalf("the dead replica's lease: %v, %v", ok, err)
	}
	free := pdftest.OnePage("Margins on quillonite services widened in the quarter.")
	var ids []string
	for i, data := range [][]byte{held, free} {
		up := []*Engine{a, b}[i] // one upload through each replica
		d, _, err := up.Upload("c", markers[i]+".pdf", data, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	if ids[0] != heldID {
		t.Fatalf("document id %s, the lease was taken for %s", ids[0], heldID)
	}
	refined := func(id string) bool {
		d, err := b.Document(ctx, "c", id)
		if err != nil {
			t.Fatal(err)
		}
		return d.RefinedModel != ""
	}
	deadline := time.Now().Add(90 * time.Second)
	for !refined(ids[0]) || !refined(ids[1]) {
		if time.Now().After(deadline) {
			t.Fatalf("not refined within 90 s: %v %v", refined(ids[0]), refined(ids[1]))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// nothing is refined twice, even a lease period later
	time.Sleep(3 * time.Second)
	for _, k := range markers {
		na, ta := refA.seen(k)
		nb, tb := refB.seen(k)
		if (na == 0) == (nb == 0) {
			t.Errorf("%s: refined by A %d times and by B %d times, want by exactly one replica", k, na, nb)
		}
		if n := na + nb; n != 1 {
			t.Errorf("%s: embedded %d times by the refiners, want once", k, n)
		}
		if k == markers[0] {
			first := ta
			if nb > 0 {
				first = tb
			}
			if early := leaseStart.Add(deadLease).Sub(first); early > 0 {
				t.Errorf("the held document was refined %v before the dead replica's lease expired", early)
			}
		}
	}
}
