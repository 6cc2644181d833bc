package agents

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/runstore"
)

// DefaultScrubInterval is how often the service looks for deleted
// documents whose text stored runs still quote.
const DefaultScrubInterval = time.Minute

// ScrubDeleted removes from the stored runs the text of documents deleted
// since (runstore.Scrubber) now and then every interval (<= 0: the
// default) until Close: the runs keep references (chunk id, document id,
// page) and their citations say the document was deleted. GetRun also
// scrubs a run it finds citing a deleted document before answering.
func (s *Service) ScrubDeleted(interval time.Duration) {
	if _, ok := s.runs.(runstore.Scrubber); !ok || s.lister() == nil || s.scrub != nil {
		return
	}
	if interval <= 0 {
		interval = DefaultScrubInterval
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if n, err := s.scrubDeleted(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("scrubbing deleted documents from runs", "err", err)
			} else if n > 0 {
				s.log.Info("removed deleted documents' text from runs", "runs", n)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	s.scrub = func() { cancel(); <-done }
}

// lister is how the service asks retrieval which documents exist.
func (s *Service) lister() ask.DocumentLister {
	if s.engine.Documents != nil {
		return s.engine.Documents
	}
	l, _ := s.engine.Search.(ask.DocumentLister)
	return l
}

// scrubDeleted scrubs every document the runs quote that retrieval no
// longer has, asking once per tenant and collection (as that tenant: the
// service's own background call, with no caller). A collection retrieval
// cannot answer for now is left for the next round. It returns how many
// runs it changed.
func (s *Service) scrubDeleted(ctx context.Context) (int, error) {
	sc := s.runs.(runstore.Scrubber)
	cited, err := sc.Cited(ctx)
	if err != nil {
		return 0, err
	}
	type coll struct{ tenant, name string }
	byColl := map[coll][]runstore.Cited{}
	for _, c := range cited {
		k := coll{c.Tenant, c.Collection}
		byColl[k] = append(byColl[k], c)
	}
	n := 0
	for k, docs := range byColl {
		exists, err := s.existing(ctx, k.tenant, k.name)
		if err != nil {
			if ctx.Err() != nil {
				return n, ctx.Err()
			}
			s.log.Debug("cannot list a collection's documents; its runs are scrubbed later", "collection", k.name, "err", err)
			continue
		}
		for _, c := range docs {
			if exists[c.Document] {
				continue
			}
			m, err := sc.Scrub(ctx, c)
			if err != nil {
				return n, err
			}
			n += m
		}
	}
	return n, nil
}

// existing is the set of document ids of collection coll of tenant (""
// is the default tenant's, as for runs from before tenants); a collection
// that is gone has none.
func (s *Service) existing(ctx context.Context, tenant, coll string) (map[string]bool, error) {
	if tenant == "" {
		tenant = auth.DefaultTenant
	}
	ctx = auth.WithPrincipal(ctx, auth.Principal{Tenant: tenant, Role: auth.Reader, KeyID: "agents-scrub"})
	ctx, cancel := context.WithTimeout(ctx, deletedCheckTimeout)
	defer cancel()
	docs, err := s.lister().ListDocuments(ctx, coll)
	if err != nil && status.Code(err) != codes.NotFound {
		return nil, err
	}
	out := make(map[string]bool, len(docs))
	for _, d := range docs {
		out[d.GetId()] = true
	}
	return out, nil
}

// scrubRun scrubs from the store the documents markDeleted found deleted
// among run's citations, and returns the run as stored after it (its
// citations of them marked deleted, their quotes gone). A run still
// RUNNING, or one the store cannot scrub now, is returned as it is.
func (s *Service) scrubRun(ctx context.Context, run *agentsv1.Run) *agentsv1.Run {
	sc, ok := s.runs.(runstore.Scrubber)
	if !ok || run.GetStatus() == agentsv1.RunStatus_RUN_STATUS_RUNNING {
		return run
	}
	gone := map[string]bool{}
	cites := run.GetCitations()
	for _, c := range run.GetVerification().GetClaims() {
		cites = append(cites, c.GetCitations()...)
	}
	for _, c := range cites {
		if c.GetDocumentDeleted() && c.GetQuote() != "" {
			gone[c.GetDocumentId()] = true
		}
	}
	if len(gone) == 0 {
		return run
	}
	for d := range gone {
		if _, err := sc.Scrub(ctx, runstore.Cited{Tenant: run.GetTenant(), Collection: run.GetCollection(), Document: d}); err != nil {
			s.log.Warn("scrubbing a deleted document from runs", slog.String("run_id", run.GetId()), slog.Any("err", err))
			return run
		}
	}
	r, err := s.runs.Get(run.GetId())
	if err != nil {
		return run
	}
	return r
}
