package agents

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
)

// Instrumented is the service exporting its asks as Prometheus metrics:
// pdfqa_agents_asks_in_flight (asks being answered: what autoscaling reads),
// pdfqa_agents_asks_total{status,degraded}, pdfqa_agents_stage_seconds{stage}
// and pdfqa_agents_support_score, read from each run's final record.
type Instrumented struct {
	*Service
	inFlight prometheus.Gauge
	asks     *prometheus.CounterVec
	stages   *prometheus.HistogramVec
	support  prometheus.Histogram
}

// Instrument registers the service's metrics in reg.
func Instrument(s *Service, reg prometheus.Registerer) (*Instrumented, error) {
	i := &Instrumented{
		Service: s,
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pdfqa_agents_asks_in_flight",
			Help: "Asks being answered now."}),
		asks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pdfqa_agents_asks_total",
			Help: "Asks finished, by run status and whether the answer was degraded (extractive, no model)."}, []string{"status", "degraded"}),
		stages: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "pdfqa_agents_stage_seconds",
			Help: "Time per agent stage of a run.", Buckets: prometheus.ExponentialBuckets(0.05, 2, 14)}, []string{"stage"}),
		support: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pdfqa_agents_support_score",
			Help: "Verifier support score of answers (fraction of claims supported).", Buckets: prometheus.LinearBuckets(0.1, 0.1, 10)}),
	}
	for _, st := range []agentsv1.RunStatus{agentsv1.RunStatus_RUN_STATUS_SUCCEEDED, agentsv1.RunStatus_RUN_STATUS_FAILED} {
		for _, d := range []bool{false, true} {
			i.asks.WithLabelValues(statusName(st), strconv.FormatBool(d))
		}
	}
	for _, st := range []string{"plan", "research", "answer", "verify"} {
		i.stages.WithLabelValues(st)
	}
	for _, c := range []prometheus.Collector{i.inFlight, i.asks, i.stages, i.support} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return i, nil
}

func statusName(s agentsv1.RunStatus) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RUN_STATUS_"))
}

// Register adds the instrumented service to g.
func (i *Instrumented) Register(g *grpc.Server) { agentsv1.RegisterAgentsServiceServer(g, i) }

// Ask answers through the service, counting it in flight and reading its final run.
func (i *Instrumented) Ask(req *agentsv1.AskRequest, stream grpc.ServerStreamingServer[agentsv1.AskResponse]) error {
	i.inFlight.Inc()
	defer i.inFlight.Dec()
	return i.Service.Ask(req, &observedStream{ServerStreamingServer: stream, i: i})
}

type observedStream struct {
	grpc.ServerStreamingServer[agentsv1.AskResponse]
	i *Instrumented
}

func (o *observedStream) Send(r *agentsv1.AskResponse) error {
	if run := r.GetRun(); run != nil {
		o.i.observe(run)
	}
	return o.ServerStreamingServer.Send(r)
}

func (i *Instrumented) observe(run *agentsv1.Run) {
	i.asks.WithLabelValues(statusName(run.GetStatus()), strconv.FormatBool(run.GetDegraded())).Inc()
	for _, t := range run.GetTimings() {
		i.stages.WithLabelValues(t.GetStage()).Observe(t.GetMs() / 1000)
	}
	if v := run.GetVerification(); v != nil {
		i.support.Observe(float64(v.GetSupportScore()))
	}
}
