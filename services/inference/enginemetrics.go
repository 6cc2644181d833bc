package inference

import "github.com/prometheus/client_golang/prometheus"

// restarter is a backend that supervises engine processes (the llama.cpp one).
type restarter interface{ Restarts() int }

// Restarts counts unplanned restarts of both engines (crashes, failed health checks).
func (b *llamaBackend) Restarts() int { return b.chatSup.Restarts() + b.embedSup.Restarts() }

// registerEngineMetrics exports the admission slots, whether generation can
// be served, and the engines' restarts, read when scraped.
func registerEngineMetrics(reg prometheus.Registerer, c *core) {
	if reg == nil {
		return
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdfqa_inference_slots",
			Help: "Admission slots: generations and embeddings run at once."}, func() float64 { return float64(cap(c.admit.slots)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdfqa_inference_slots_busy",
			Help: "Admission slots in use now."}, func() float64 { return float64(len(c.admit.slots)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pdfqa_inference_engine_ready",
			Help: "1 when generation can be served (engine up, or the upstream reachable)."}, func() float64 {
			if c.backend.Ready() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "pdfqa_inference_engine_restarts_total",
			Help: "Unplanned restarts of the local engines."}, func() float64 {
			if r, ok := c.backend.(restarter); ok {
				return float64(r.Restarts())
			}
			return 0
		}),
	}
	for _, col := range cs {
		_ = reg.Register(col)
	}
}
