package retrieval

import (
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// ingestMetrics turns ingestion events into Prometheus metrics: documents
// finished by state, pages parsed, time per stage; the queue gauges read
// the job queue when scraped.
type ingestMetrics struct {
	docs  *prometheus.CounterVec
	pages prometheus.Counter
	stage *prometheus.HistogramVec

	mu      sync.Mutex
	current map[docKey]stageStart
}

type stageStart struct {
	stage retrievalv1.IngestionStage
	at    time.Time
}

func stageName(s retrievalv1.IngestionStage) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "INGESTION_STAGE_"))
}

// RegisterMetrics exports the ingestion queue and progress in reg:
// pdfqa_retrieval_ingest_queue_depth (documents waiting, what autoscaling
// reads), pdfqa_retrieval_ingest_active, pdfqa_retrieval_documents_total
// {state}, pdfqa_retrieval_pages_total and pdfqa_retrieval_stage_seconds
// {stage}.
func (s *Service) RegisterMetrics(reg prometheus.Registerer) error {
	e := s.e
	m := &ingestMetrics{
		docs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pdfqa_retrieval_documents_total",
			Help: "Documents whose ingestion ended, by final state (ready, failed)."}, []string{"state"}),
		pages: prometheus.NewCounter(prometheus.CounterOpts{Name: "pdfqa_retrieval_pages_total", Help: "Pages parsed."}),
		stage: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pdfqa_retrieval_stage_seconds",
			Help: "Time a document spent in each ingestion stage.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 16)}, []string{"stage"}),
		current: map[docKey]stageStart{},
	}
	// Every series exists from the start, so rates and stall checks see zeros.
	for _, st := range []string{store.StateReady, store.StateFailed} {
		m.docs.WithLabelValues(strings.ToLower(st))
	}
	for _, st := range []retrievalv1.IngestionStage{StageStore, StageParse, StageOCR, StageChunk, StageEmbed, StageIndex} {
		m.stage.WithLabelValues(stageName(st))
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdfqa_retrieval_ingest_queue_depth",
		Help: "Documents queued for ingestion, not yet started."}, func() float64 {
		e.queue.mu.Lock()
		defer e.queue.mu.Unlock()
		return float64(len(e.queue.keys))
	})
	active := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdfqa_retrieval_ingest_active",
		Help: "Documents being ingested now."}, func() float64 {
		e.queue.mu.Lock()
		defer e.queue.mu.Unlock()
		return float64(e.queue.active)
	})
	for _, c := range []prometheus.Collector{m.docs, m.pages, m.stage, depth, active} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	e.hub.setObserver(m.observe)
	return nil
}

// observe closes the document's previous stage when a new one (or the end) begins.
func (m *ingestMetrics) observe(k docKey, ev Event) {
	if ev.Stage == StageParse && ev.Total > 0 && ev.Done == ev.Total {
		m.pages.Add(float64(ev.Total))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, ok := m.current[k]
	if ok && cur.stage != ev.Stage {
		m.stage.WithLabelValues(stageName(cur.stage)).Observe(ev.Time.Sub(cur.at).Seconds())
	}
	switch {
	case ev.Terminal():
		delete(m.current, k)
		m.docs.WithLabelValues(strings.ToLower(ev.State)).Inc()
	case !ok || cur.stage != ev.Stage:
		m.current[k] = stageStart{ev.Stage, ev.Time}
	}
}
