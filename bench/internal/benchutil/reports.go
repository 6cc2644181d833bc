package benchutil

import (
	"runtime"
	"time"
)

// The recorded reports (bench/recorded/*.json): written by the benchmark
// commands, read by bench/plots, so each format is defined once, here.

// Run is what every report says about its run first (its fields stand at
// the top of the report's JSON object): which bench, when, at which commit,
// started how, on how many CPUs and under what load.
type Run struct {
	Bench   string  `json:"bench"`
	Date    string  `json:"date"`
	Commit  string  `json:"commit,omitempty"`
	Command string  `json:"command"`
	CPUs    int     `json:"cpus"`
	Load1   float64 `json:"load1_at_start,omitempty"`
}

// NewRun describes this run of the bench command cmd (bench/cmd/CMD),
// which writes the report named bench: now, HEAD, this process's
// arguments, the CPUs and the 1 minute load average.
func NewRun(bench, cmd string) Run {
	return Run{Bench: bench, Date: time.Now().UTC().Format(time.RFC3339), Commit: Commit(),
		Command: Command(cmd), CPUs: runtime.NumCPU(), Load1: Load1()}
}

// IngestReport is ingest-pagetype.json, written by ingestbench.
type IngestReport struct {
	Run
	Note    string         `json:"note"`
	Results []IngestResult `json:"results"`
}

// IngestResult is one (page type, size) measurement.
type IngestResult struct {
	Kind           string  `json:"kind"`
	Pages          int     `json:"pages"`
	Bytes          int     `json:"bytes"`
	Chunks         int     `json:"chunks"`
	Seconds        float64 `json:"seconds"`
	PagesPerSecond float64 `json:"pages_per_second"`
}

// MemoryReport is memory.json, written by membench.
type MemoryReport struct {
	Run
	Workload string        `json:"workload"`
	Idle     []MemoryUsage `json:"idle"`
	Peak     []MemoryUsage `json:"peak_under_load"`
	IdleMiB  float64       `json:"idle_total_mib"`
	PeakMiB  float64       `json:"peak_total_mib"`
}

// MemoryUsage is one process class's memory.
type MemoryUsage struct {
	Process   string  `json:"process"`
	Instances int     `json:"instances"`
	RSSMiB    float64 `json:"rss_mib"`
}
