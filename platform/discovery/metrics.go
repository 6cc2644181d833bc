package discovery

import "github.com/prometheus/client_golang/prometheus"

// LeaseLost counts registration leases this process lost (etcd unreachable
// or the keep-alive late) and re-registered; telemetry.NewMetrics registers
// it in every service's registry.
var LeaseLost = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "pdfqa_discovery_lease_lost_total",
	Help: "Registration leases lost in etcd (the instance re-registered).",
})
