package trainer

import (
	"context"
	"fmt"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/auth"
)

// Datasets and jobs belong to the tenant that made them (a job to its
// dataset's); another tenant's is not found.

// owner is an object's tenant (objects from before tenants: the default).
func owner(t string) string {
	if t == "" {
		return auth.DefaultTenant
	}
	return t
}

// ownDataset returns dataset id if the caller's tenant owns it.
func (s *Service) ownDataset(ctx context.Context, id string) (*trainerv1.Dataset, error) {
	d, err := s.meta.dataset(ctx, id)
	if err != nil {
		return nil, err
	}
	if owner(d.GetTenant()) != auth.Tenant(ctx) {
		return nil, fmt.Errorf("%w: dataset %q", ErrNotFound, id)
	}
	return d, nil
}

// ownJob fails with ErrNotFound unless the caller's tenant owns job id.
func (s *Service) ownJob(ctx context.Context, id string) error {
	j, err := s.getJob(ctx, id)
	if err != nil {
		return err
	}
	if owner(j.GetTenant()) != auth.Tenant(ctx) {
		return fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	return nil
}

// mine keeps the objects the caller's tenant owns.
func mine[T interface{ GetTenant() string }](ctx context.Context, all []T) []T {
	t := auth.Tenant(ctx)
	out := all[:0:0]
	for _, x := range all {
		if owner(x.GetTenant()) == t {
			out = append(out, x)
		}
	}
	return out
}
