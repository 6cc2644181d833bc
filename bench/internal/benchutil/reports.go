package benchutil

// The recorded reports (bench/recorded/*.json): written by the benchmark
// commands, read by bench/plots, so each format is defined once, here.

// IngestReport is ingest-pagetype.json, written by ingestbench.
type IngestReport struct {
	Bench   string         `json:"bench"`
	Date    string         `json:"date"`
	Commit  string         `json:"commit"`
	Command string         `json:"command"`
	CPUs    int            `json:"cpus"`
	Load1   float64        `json:"load1_at_start"`
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
	Bench    string        `json:"bench"`
	Date     string        `json:"date"`
	Command  string        `json:"command"`
	CPUs     int           `json:"cpus"`
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
