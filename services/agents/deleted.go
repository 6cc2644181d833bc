package agents

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// deletedCheckTimeout bounds GetRun's look at which cited documents still
// exist.
const deletedCheckTimeout = 5 * time.Second

// markDeleted sets document_deleted on run's citations (the answer's and
// the verified claims') whose documents are no longer in the run's
// collection, with one ListDocuments call as the caller (so with the
// caller's tenant). When retrieval cannot answer, the run is returned as
// stored: reading a past run never depends on retrieval being up.
func (s *Service) markDeleted(ctx context.Context, run *agentsv1.Run) {
	cites := run.GetCitations()
	for _, c := range run.GetVerification().GetClaims() {
		cites = append(cites, c.GetCitations()...)
	}
	if len(cites) == 0 {
		return
	}
	lister := s.lister()
	if lister == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, deletedCheckTimeout)
	defer cancel()
	docs, err := lister.ListDocuments(ctx, run.GetCollection())
	if err != nil && status.Code(err) != codes.NotFound {
		s.log.Warn("cannot check which cited documents still exist", "run", run.GetId(), "err", err)
		return
	}
	exists := map[string]bool{}
	for _, d := range docs {
		exists[d.GetId()] = true
	}
	for _, c := range cites {
		c.DocumentDeleted = c.GetDocumentId() != "" && !exists[c.GetDocumentId()]
	}
}
