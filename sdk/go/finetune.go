package pdfqa

import (
	"context"
	"iter"
	"strings"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/client"
)

// The contracts' types, used as they are.
type (
	Dataset          = trainerv1.Dataset
	Job              = trainerv1.Job
	JobProgress      = trainerv1.WatchJobResponse
	EvaluationReport = trainerv1.EvaluationReport
	LoraConfig       = trainerv1.LoraConfig
)

// JobState is where a fine-tuning job is.
type JobState = trainerv1.JobState

// Job states a job ends in.
const (
	JobSucceeded = trainerv1.JobState_JOB_STATE_SUCCEEDED
	JobFailed    = trainerv1.JobState_JOB_STATE_FAILED
	JobCancelled = trainerv1.JobState_JOB_STATE_CANCELLED
)

// FineTuneOptions tune FineTune; zero fields take the trainer's defaults.
type FineTuneOptions struct {
	// MaxExamples bounds the generated QA pairs.
	MaxExamples int
	// Lora is the training configuration (steps, batch, sequence length, rate).
	Lora *LoraConfig
}

// FineTune builds a grounded QA dataset from collection and starts a LoRA
// job on it; follow the job with WatchJob. Building the dataset asks the
// model for every example: give ctx a long deadline.
func (c *Client) FineTune(ctx context.Context, collection string, o FineTuneOptions) (*Dataset, *Job, error) {
	if strings.TrimSpace(collection) == "" {
		return nil, nil, invalid("finetune: no collection")
	}
	b, err := c.trainer.BuildDataset(c.call(ctx), &trainerv1.BuildDatasetRequest{Collection: collection, MaxExamples: int32(o.MaxExamples)})
	if err != nil {
		return nil, nil, wrap(err)
	}
	st, err := c.trainer.StartJob(c.call(ctx), &trainerv1.StartJobRequest{DatasetId: b.GetDataset().GetId(), Config: o.Lora})
	if err != nil {
		return b.GetDataset(), nil, wrap(err)
	}
	return b.GetDataset(), st.GetJob(), nil
}

// WatchJob yields a job's progress until it ends (the last event carries
// its final state).
func (c *Client) WatchJob(ctx context.Context, jobID string) iter.Seq2[*JobProgress, error] {
	return func(yield func(*JobProgress, error) bool) {
		if strings.TrimSpace(jobID) == "" {
			yield(nil, invalid("watch: empty job id"))
			return
		}
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		st, err := c.trainer.WatchJob(c.call(ctx), &trainerv1.WatchJobRequest{JobId: jobID})
		if err != nil {
			yield(nil, wrap(err))
			return
		}
		stopped := false
		err = client.Drain(st, func(ev *JobProgress) error {
			if !yield(ev, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err != nil && !stopped {
			yield(nil, wrap(err))
		}
	}
}

// Job returns a job by id.
func (c *Client) Job(ctx context.Context, jobID string) (*Job, error) {
	r, err := c.trainer.GetJob(c.call(ctx), &trainerv1.GetJobRequest{JobId: jobID})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetJob(), nil
}

// EvaluateAdapter compares a finished job's adapter with the base model on
// the dataset's held-out split (maxExamples 0: all of it).
func (c *Client) EvaluateAdapter(ctx context.Context, jobID string, maxExamples int) (*EvaluationReport, error) {
	r, err := c.trainer.EvaluateAdapter(c.call(ctx), &trainerv1.EvaluateAdapterRequest{JobId: jobID, MaxExamples: int32(maxExamples)})
	if err != nil {
		return nil, wrap(err)
	}
	return r.GetReport(), nil
}

// PublishAdapter loads a job's adapter into the inference service as name
// ("": derived from the job) and returns the name Ask's WithAdapter takes.
// Unless force, an adapter that does not beat the base is refused with
// ErrFailedPrecondition.
func (c *Client) PublishAdapter(ctx context.Context, jobID, name string, force bool) (adapter, path string, err error) {
	r, err := c.trainer.PublishAdapter(c.call(ctx), &trainerv1.PublishAdapterRequest{JobId: jobID, Name: name, Force: force})
	if err != nil {
		return "", "", wrap(err)
	}
	return r.GetAdapterName(), r.GetPath(), nil
}
