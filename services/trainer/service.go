// Package trainer is the trainer service: LoRA fine-tuning jobs from a
// collection's documents to a served adapter.
package trainer

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// AdapterLoader serves a GGUF adapter under a name (inference LoadAdapter).
type AdapterLoader interface {
	Load(ctx context.Context, name, path string) error
}

// Options configure the service. Chunks, Generator and Adapters reach the
// other services; nil ones make the RPCs that need them Unavailable.
type Options struct {
	Config    Config
	DataDir   string
	Log       *slog.Logger
	Registry  prometheus.Registerer
	Runner    Runner
	Chunks    ChunkSource
	Generator QAGenerator
	Adapters  AdapterLoader
	// StoreURL (postgres://…, the mesh's --store / PDFQA_STORE) keeps the
	// datasets, jobs and checkpoints in PostgreSQL (schema trainer) and
	// their bytes in the bucket at BlobsURL (gocloud.dev/blob), shared by
	// every trainer replica; empty: JSON files under DataDir.
	StoreURL string
	BlobsURL string
	// Lease is how long a replica's claim on a running job lasts without
	// renewal (default DefaultLease; the mesh passes Config.Lease, read
	// by ReadLease): a job whose replica died is taken over by another
	// within about that long.
	Lease time.Duration
	// ScrubInterval is how often, when Chunks is a DocumentLister, the
	// examples of deleted documents are removed from the built datasets
	// (default DefaultScrubInterval).
	ScrubInterval time.Duration
}

// Service implements trainerv1.TrainerServiceServer.
type Service struct {
	trainerv1.UnimplementedTrainerServiceServer
	log      *slog.Logger
	cfg      Config
	store    store
	meta     meta
	shared   *pgMeta    // the shared store, nil with the embedded default
	blobs    *blobStore // its bucket
	lease    time.Duration
	runner   Runner
	chunks   ChunkSource
	gen      QAGenerator
	adapters AdapterLoader
	metrics  metrics

	ctx        context.Context
	cancel     context.CancelFunc
	replicated chan struct{} // closed when replicate returns
	scrubbed   chan struct{} // closed when scrubLoop returns
	mu         sync.Mutex
	jobs       map[string]*entry
}

// New loads persisted jobs (marking interrupted ones) and returns the
// service; with the shared store it connects (migrating schema trainer)
// and starts keeping and taking over job leases.
func New(o Options) (*Service, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	s := &Service{log: log, cfg: o.Config, store: store{dir: filepath.Join(o.DataDir, "trainer")}, runner: o.Runner,
		chunks: o.Chunks, gen: o.Generator, adapters: o.Adapters, metrics: newMetrics(o.Registry), jobs: map[string]*entry{}}
	if s.runner == nil {
		dir := o.Config.WorkerDir
		if dir == "" {
			var err error
			if dir, err = ExtractWorker(filepath.Join(o.DataDir, "trainer")); err != nil {
				return nil, fmt.Errorf("extract worker: %w", err)
			}
		}
		s.cfg.WorkerDir = dir
		s.runner = &LocalRunner{Python: o.Config.Python, WorkerDir: dir, Threads: o.Config.Threads}
	}
	if s.lease = o.Lease; s.lease <= 0 {
		s.lease = DefaultLease
	}
	s.meta = &fileMeta{store: s.store}
	if o.StoreURL != "" {
		if o.BlobsURL == "" {
			return nil, fmt.Errorf("%w: the shared store needs a blob bucket for datasets and checkpoints", ErrInvalid)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		b, err := openBlobs(ctx, o.BlobsURL)
		if err != nil {
			return nil, err
		}
		pm, err := openPG(ctx, o.StoreURL, s.lease, log)
		if err != nil {
			_ = b.b.Close()
			return nil, err
		}
		s.meta, s.shared, s.blobs = pm, pm, b
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.replicated = make(chan struct{})
	if err := s.recover(s.ctx); err != nil {
		s.cancel()
		s.meta.close()
		return nil, err
	}
	if s.shared != nil {
		go s.replicate()
	} else {
		close(s.replicated)
	}
	s.scrubbed = make(chan struct{})
	if l, ok := s.chunks.(DocumentLister); ok {
		every := o.ScrubInterval
		if every <= 0 {
			every = DefaultScrubInterval
		}
		go s.scrubLoop(l, every)
	} else {
		close(s.scrubbed)
	}
	return s, nil
}

// Register adds the service to g.
func (s *Service) Register(g *grpc.Server) { trainerv1.RegisterTrainerServiceServer(g, s) }

// Close stops running workers (they checkpoint on SIGTERM; the jobs stay
// resumable) and waits for them briefly.
//
// With the shared store each job goes back to the queue (released), and
// another replica continues it from its last checkpoint.
func (s *Service) Close() error {
	s.cancel()
	<-s.replicated
	<-s.scrubbed
	s.waitAll(90 * time.Second)
	s.meta.close()
	if s.blobs != nil {
		_ = s.blobs.b.Close()
	}
	return nil
}

// BuildDataset generates grounded QA pairs from a collection's chunks.
func (s *Service) BuildDataset(ctx context.Context, req *trainerv1.BuildDatasetRequest) (*trainerv1.BuildDatasetResponse, error) {
	d, err := s.buildDataset(ctx, req)
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.BuildDatasetResponse{Dataset: d}, nil
}

// ImportDataset imports user JSONL.
func (s *Service) ImportDataset(ctx context.Context, req *trainerv1.ImportDatasetRequest) (*trainerv1.ImportDatasetResponse, error) {
	d, err := s.importDataset(ctx, req)
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.ImportDatasetResponse{Dataset: d}, nil
}

// GetDataset returns a dataset's manifest.
func (s *Service) GetDataset(ctx context.Context, req *trainerv1.GetDatasetRequest) (*trainerv1.GetDatasetResponse, error) {
	d, err := s.ownDataset(ctx, req.GetDatasetId())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.GetDatasetResponse{Dataset: d}, nil
}

// ListDatasets lists datasets, newest first.
func (s *Service) ListDatasets(ctx context.Context, _ *trainerv1.ListDatasetsRequest) (*trainerv1.ListDatasetsResponse, error) {
	ds, err := s.meta.datasets(ctx)
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.ListDatasetsResponse{Datasets: mine(ctx, ds)}, nil
}

// StartJob starts training.
func (s *Service) StartJob(ctx context.Context, req *trainerv1.StartJobRequest) (*trainerv1.StartJobResponse, error) {
	if _, err := s.ownDataset(ctx, req.GetDatasetId()); err != nil {
		return nil, errs.Status(err)
	}
	j, err := s.startJob(ctx, req.GetDatasetId(), req.GetConfig())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.StartJobResponse{Job: j}, nil
}

// WatchJob streams job progress until the job ends.
func (s *Service) WatchJob(req *trainerv1.WatchJobRequest, st grpc.ServerStreamingServer[trainerv1.WatchJobResponse]) error {
	if err := s.ownJob(st.Context(), req.GetJobId()); err != nil {
		return errs.Status(err)
	}
	return errs.Status(s.watch(st.Context(), req.GetJobId(), st.Send))
}

// CancelJob stops a running job after its worker checkpoints.
func (s *Service) CancelJob(ctx context.Context, req *trainerv1.CancelJobRequest) (*trainerv1.CancelJobResponse, error) {
	if err := s.ownJob(ctx, req.GetJobId()); err != nil {
		return nil, errs.Status(err)
	}
	j, err := s.cancelJob(ctx, req.GetJobId())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.CancelJobResponse{Job: j}, nil
}

// ResumeJob continues a cancelled or interrupted job.
func (s *Service) ResumeJob(ctx context.Context, req *trainerv1.ResumeJobRequest) (*trainerv1.ResumeJobResponse, error) {
	if err := s.ownJob(ctx, req.GetJobId()); err != nil {
		return nil, errs.Status(err)
	}
	j, err := s.resumeJob(ctx, req.GetJobId())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.ResumeJobResponse{Job: j}, nil
}

// GetJob returns a job.
func (s *Service) GetJob(ctx context.Context, req *trainerv1.GetJobRequest) (*trainerv1.GetJobResponse, error) {
	if err := s.ownJob(ctx, req.GetJobId()); err != nil {
		return nil, errs.Status(err)
	}
	j, err := s.getJob(ctx, req.GetJobId())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.GetJobResponse{Job: j}, nil
}

// ListJobs lists jobs, newest first.
func (s *Service) ListJobs(ctx context.Context, _ *trainerv1.ListJobsRequest) (*trainerv1.ListJobsResponse, error) {
	js, err := s.listJobs(ctx)
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.ListJobsResponse{Jobs: mine(ctx, js)}, nil
}

// EvaluateAdapter compares base and adapter on the held-out split.
func (s *Service) EvaluateAdapter(ctx context.Context, req *trainerv1.EvaluateAdapterRequest) (*trainerv1.EvaluateAdapterResponse, error) {
	if err := s.ownJob(ctx, req.GetJobId()); err != nil {
		return nil, errs.Status(err)
	}
	r, err := s.evaluate(ctx, req.GetJobId(), req.GetMaxExamples())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.EvaluateAdapterResponse{Report: r}, nil
}

// PublishAdapter converts the adapter to GGUF and loads it into inference.
func (s *Service) PublishAdapter(ctx context.Context, req *trainerv1.PublishAdapterRequest) (*trainerv1.PublishAdapterResponse, error) {
	if err := s.ownJob(ctx, req.GetJobId()); err != nil {
		return nil, errs.Status(err)
	}
	name, path, err := s.publish(ctx, req.GetJobId(), req.GetName(), req.GetForce())
	if err != nil {
		return nil, errs.Status(err)
	}
	return &trainerv1.PublishAdapterResponse{AdapterName: name, Path: path}, nil
}
