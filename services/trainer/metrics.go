package trainer

import "github.com/prometheus/client_golang/prometheus"

// metrics are the trainer's job gauges and counters.
type metrics struct {
	running prometheus.Gauge
	steps   prometheus.Counter
	loss    prometheus.Gauge
	tps     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pdfqa_trainer_jobs_running", Help: "Training workers running now."}),
		steps:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pdfqa_trainer_steps_total", Help: "Optimizer steps completed by all jobs."}),
		loss:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "pdfqa_trainer_last_loss", Help: "Training loss of the last step of any job."}),
		tps:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "pdfqa_trainer_tokens_per_second", Help: "Training throughput at the last step of any job."}),
	}
	if reg != nil {
		reg.MustRegister(m.running, m.steps, m.loss, m.tps)
	}
	return m
}
