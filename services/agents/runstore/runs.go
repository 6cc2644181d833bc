package runstore

import (
	"context"
	"log/slog"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Runs is where the agents service keeps its runs: the embedded file
// (Store) or the shared server (Postgres).
type Runs interface {
	Put(run *agentsv1.Run) error
	Get(id string) (*agentsv1.Run, error)
	// List returns up to limit runs that keep accepts (nil: all), newest
	// first, without evidence detail.
	List(limit int, keep func(*agentsv1.Run) bool) ([]*agentsv1.Run, error)
	Close() error
}

var (
	_ Runs = (*Store)(nil)
	_ Runs = (*Postgres)(nil)
)

// OpenRuns opens the shared store at storeURL (postgres://…), or the file
// store in dir when storeURL is empty.
func OpenRuns(ctx context.Context, dir, storeURL string, log *slog.Logger) (Runs, error) {
	if storeURL == "" {
		return Open(dir)
	}
	return OpenPostgres(ctx, storeURL, PostgresOptions{Log: log})
}
