package trainer

import (
	"context"
	"sort"
	"time"

	"google.golang.org/protobuf/proto"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// watch sends the job's progress until it ends or ctx is done: from the
// live entry when this replica runs it, else from the store (another
// replica's job), read every watchPoll.
func (s *Service) watch(ctx context.Context, id string, send func(*trainerv1.WatchJobResponse) error) error {
	e, ok := s.local(id)
	if !ok {
		return s.watchStore(ctx, id, send)
	}
	seen := -1
	for {
		s.mu.Lock()
		last, v, ch, here := proto.Clone(e.last).(*trainerv1.WatchJobResponse), e.version, e.changed, e.running
		s.mu.Unlock()
		if s.shared != nil && !here && !terminal(last.GetState()) {
			return s.watchStore(ctx, id, send)
		}
		if v != seen {
			if err := send(last); err != nil {
				return err
			}
			seen = v
		}
		if terminal(last.GetState()) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

const watchPoll = 250 * time.Millisecond

func (s *Service) watchStore(ctx context.Context, id string, send func(*trainerv1.WatchJobResponse) error) error {
	var last *trainerv1.WatchJobResponse
	for {
		_, w, err := s.meta.job(ctx, id)
		if err != nil {
			return err
		}
		if last == nil || !proto.Equal(w, last) {
			if err := send(w); err != nil {
				return err
			}
			last = w
		}
		if terminal(w.GetState()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(watchPoll):
		}
	}
}

func (s *Service) listJobs(ctx context.Context) ([]*trainerv1.Job, error) {
	var out []*trainerv1.Job
	if s.shared != nil {
		js, err := s.meta.jobs(ctx)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		for i, j := range js {
			if e, ok := s.jobs[j.GetId()]; ok && e.running {
				js[i] = proto.Clone(e.job).(*trainerv1.Job)
			}
		}
		s.mu.Unlock()
		out = js
	} else {
		s.mu.Lock()
		out = make([]*trainerv1.Job, 0, len(s.jobs))
		for _, e := range s.jobs {
			out = append(out, proto.Clone(e.job).(*trainerv1.Job))
		}
		s.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetCreateTime().AsTime().After(out[j].GetCreateTime().AsTime()) })
	return out, nil
}
