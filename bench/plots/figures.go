package plots

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
)

// Results are the committed benchmark results (bench/recorded).
type Results struct {
	Bench  benchmarks
	Ingest benchutil.IngestReport
	Memory benchutil.MemoryReport
	Search searchScale
}

// searchScale is search-scale.json, written by bench/cmd/searchbench (the
// fields the charts read).
type searchScale struct {
	Date    string `json:"date"`
	Command string `json:"command"`
	CPUs    int    `json:"cpus"`
	Load    string `json:"load_at_start"`
	Queries int    `json:"queries"`
	Rows    []struct {
		Store  string  `json:"store"`
		Chunks float64 `json:"chunks"`
		P50    float64 `json:"p50_ms"`
		P99    float64 `json:"p99_ms"`
	} `json:"rows"`
	// Separate has the dates of the further files whose rows were added
	// (search-scale-1m-*.json: runs of one store a process).
	Separate []string `json:"-"`
}

type benchmarks struct {
	Generation struct {
		Rows []struct {
			Path      string  `json:"path"`
			Streams   int     `json:"streams"`
			Aggregate float64 `json:"aggregate_tokens_per_s"`
			PerStream float64 `json:"tokens_per_s_per_stream"`
			TTFTp50   float64 `json:"ttft_p50_ms"`
			TTFTmax   float64 `json:"ttft_max_ms"`
		} `json:"rows"`
	} `json:"generation"`
	Ingestion struct {
		Rows []struct {
			Set      string  `json:"set"`
			Pipeline string  `json:"pipeline"`
			PagesPS  float64 `json:"pages_per_s"`
		} `json:"rows"`
	} `json:"ingestion"`
	EvidenceRecall struct {
		Rows []struct {
			Set      string  `json:"set"`
			Pipeline string  `json:"pipeline"`
			Value    float64 `json:"value"`
		} `json:"rows"`
	} `json:"evidence_recall"`
	SearchLatency struct {
		Rows []struct {
			Store  string  `json:"store"`
			Chunks float64 `json:"chunks"`
			P50    float64 `json:"p50_ms"`
		} `json:"rows"`
	} `json:"search_latency"`
	Embeddings struct {
		Rows []struct {
			Path    string  `json:"path"`
			TextsPS float64 `json:"texts_per_s"`
		} `json:"rows"`
	} `json:"embeddings"`
	Mesh struct {
		Rows []struct {
			What  string  `json:"what"`
			P50us float64 `json:"p50_us"`
			P99us float64 `json:"p99_us"`
		} `json:"rows"`
	} `json:"mesh"`
	AskStages struct {
		Rows []struct {
			Mode  string  `json:"mode"`
			Stage string  `json:"stage"`
			P50   float64 `json:"p50_ms"`
			P95   float64 `json:"p95_ms"`
		} `json:"rows"`
	} `json:"ask_stages"`
}

// Load reads the results in dir (bench/recorded).
func Load(dir string) (*Results, error) {
	var r Results
	for name, into := range map[string]any{"benchmarks.json": &r.Bench, "ingest-pagetype.json": &r.Ingest, "memory.json": &r.Memory, "search-scale.json": &r.Search} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, into); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	// runs of one store a process at 1M chunks (search-scale-1m-*.json)
	// add their rows to search-scale.json's; other sizes' single runs
	// (search-scale-300k-postgres.json) are of another build and not drawn
	more, _ := filepath.Glob(filepath.Join(dir, "search-scale-1m-*.json"))
	sort.Strings(more)
	for _, name := range more {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var ss searchScale
		if err := json.Unmarshal(b, &ss); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(name), err)
		}
		r.Search.Rows = append(r.Search.Rows, ss.Rows...)
		r.Search.Separate = append(r.Search.Separate, ss.Date[:min(10, len(ss.Date))])
	}
	return &r, nil
}

// ordered returns the distinct values of key over n items, in first-seen order.
func ordered(n int, key func(i int) string) []string {
	var out []string
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		if k := key(i); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

func index(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

func grid(series, cats int) [][]float64 {
	g := make([][]float64, series)
	for i := range g {
		g[i] = make([]float64, cats)
		for j := range g[i] {
			g[i][j] = math.NaN()
		}
	}
	return g
}

// Figures draws every chart, by file name.
func Figures(r *Results) (map[string][]byte, error) {
	out := map[string][]byte{}

	ing := r.Bench.Ingestion.Rows
	sets := ordered(len(ing), func(i int) string { return ing[i].Set })
	pipes := ordered(len(ing), func(i int) string { return ing[i].Pipeline })
	v := grid(len(pipes), len(sets))
	for _, row := range ing {
		v[index(pipes, row.Pipeline)][index(sets, row.Set)] = row.PagesPS
	}
	out["ingestion-vs-llamaindex.svg"] = Bars{Title: "Ingestion throughput on the dev sets", YLabel: "pages per second (higher is better)",
		Categories: sets, Series: pipes, Values: v, Note: "2 CPU cores; each pair from one run (BENCHMARKS.md, issues #4 and #10)"}.SVG()

	rec := r.Bench.EvidenceRecall.Rows
	sets = ordered(len(rec), func(i int) string { return rec[i].Set })
	pipes = ordered(len(rec), func(i int) string { return rec[i].Pipeline })
	v = grid(len(pipes), len(sets))
	for _, row := range rec {
		v[index(pipes, row.Pipeline)][index(sets, row.Set)] = row.Value
	}
	out["evidence-recall.svg"] = Bars{Title: "Evidence fact recall@10", YLabel: "share of reference facts in the top 10",
		Categories: sets, Series: pipes, Values: v, Note: "scored by score_qa.py; BENCHMARKS.md issue #10"}.SVG()

	kinds := ordered(len(r.Ingest.Results), func(i int) string { return r.Ingest.Results[i].Kind })
	pts := make([][]Point, len(kinds))
	var xt []float64
	for _, row := range r.Ingest.Results {
		k := index(kinds, row.Kind)
		pts[k] = append(pts[k], Point{float64(row.Pages), row.PagesPerSecond})
		if index(fmtAll(xt), fmtNum(float64(row.Pages))) < 0 {
			xt = append(xt, float64(row.Pages))
		}
	}
	sort.Float64s(xt)
	out["ingestion-by-page-type.svg"] = Lines{Title: "Parse + chunk throughput by page type and document size", XLabel: "pages in the document",
		YLabel: "pages per second (log)", Series: kinds, Points: pts, LogX: true, LogY: true, XTicks: xt,
		Note: fmt.Sprintf("bench/cmd/ingestbench, one document at a time, worker processes; %s, load %.1f", r.Ingest.Date[:10], r.Ingest.Load1)}.SVG()

	sl := r.Bench.SearchLatency.Rows
	stores := ordered(len(sl), func(i int) string { return sl[i].Store })
	pts = make([][]Point, len(stores))
	for _, row := range sl {
		k := index(stores, row.Store)
		pts[k] = append(pts[k], Point{row.Chunks, row.P50})
	}
	out["search-latency.svg"] = Lines{Title: "Search p50, first pass: dev set and go test benches", XLabel: "chunks in the collection (log)",
		YLabel: "milliseconds (log)", Series: stores, Points: pts, LogX: true, LogY: true,
		XTicks: []float64{1000, 10000, 100000}, Note: "874 chunks: the real dev set; 10k/100k before the server-ranked BM25 of issue #12 (now: search-scale.svg)"}.SVG()

	out["search-scale.svg"] = searchScaleChart(r.Search)

	mesh := r.Bench.Mesh.Rows
	hops := ordered(len(mesh), func(i int) string { return mesh[i].What })
	v = grid(2, len(hops))
	for _, row := range mesh {
		i := index(hops, row.What)
		v[0][i] = row.P50us
		if row.P99us > 0 {
			v[1][i] = row.P99us
		}
	}
	out["mesh-hops.svg"] = Bars{Title: "What the mesh adds: one call through it", YLabel: "microseconds",
		Categories: hops, Series: []string{"p50", "p99"}, Values: v,
		Note: "small RPCs on 2 cores (BENCHMARKS.md issues #2, #15); the OpenAI row is p50 only"}.SVG()

	emb := r.Bench.Embeddings.Rows
	paths := ordered(len(emb), func(i int) string { return emb[i].Path })
	v = grid(1, len(paths))
	for _, row := range emb {
		v[0][index(paths, row.Path)] = row.TextsPS
	}
	out["embedding-throughput.svg"] = Bars{Title: "Embeddings (MiniLM): service vs bare engine", YLabel: "texts per second",
		Categories: paths, Series: []string{"texts/s"}, Values: v,
		Note: "512-token texts, batch 1, 2 idle cores (BENCHMARKS.md issue #3)"}.SVG()

	gen := r.Bench.Generation.Rows
	streams := ordered(len(gen), func(i int) string { return fmt.Sprintf("%d stream(s)", gen[i].Streams) })
	paths = ordered(len(gen), func(i int) string { return gen[i].Path })
	agg, ttft := grid(len(paths), len(streams)), grid(len(paths), len(streams))
	for _, row := range gen {
		p, s := index(paths, row.Path), index(streams, fmt.Sprintf("%d stream(s)", row.Streams))
		agg[p][s], ttft[p][s] = row.Aggregate, row.TTFTp50
	}
	out["generation-throughput.svg"] = Bars{Title: "Generation: aggregate tokens/s, service vs bare llama-server", YLabel: "tokens per second",
		Categories: streams, Series: paths, Values: agg, Note: "SmolLM2-135M Q4_1 on 2 idle cores, 128 tokens a request (BENCHMARKS.md issue #3)"}.SVG()
	out["generation-ttft.svg"] = Bars{Title: "Generation: time to first token (p50)", YLabel: "milliseconds",
		Categories: streams, Series: paths, Values: ttft, Note: "same run as the throughput chart"}.SVG()

	procs := ordered(len(r.Memory.Peak), func(i int) string { return r.Memory.Peak[i].Process })
	mem := grid(2, len(procs))
	for si, us := range [][]benchutil.MemoryUsage{r.Memory.Idle, r.Memory.Peak} {
		for _, u := range us {
			if i := index(procs, u.Process); i >= 0 {
				mem[si][i] = u.RSSMiB
			}
		}
	}
	out["memory.svg"] = Bars{Title: "Resident memory of a whole mesh (pdfqa up), by process", YLabel: "MiB (RSS)",
		Categories: procs, Series: []string{"idle", "peak while ingesting and answering"}, Values: mem,
		Note: fmt.Sprintf("bench/cmd/membench, %s; parse workers and tesseract summed over their instances", r.Memory.Date[:10])}.SVG()

	st := r.Bench.AskStages.Rows
	modes := ordered(len(st), func(i int) string { return st[i].Mode })
	stages := ordered(len(st), func(i int) string { return st[i].Stage })
	for _, q := range []struct {
		name, title string
		pick        func(p50, p95 float64) float64
	}{
		{"ask-stages-p50.svg", "Ask latency by stage, p50", func(p50, _ float64) float64 { return p50 / 1000 }},
		{"ask-stages-p95.svg", "Ask latency by stage, p95", func(_, p95 float64) float64 { return p95 / 1000 }},
	} {
		vals := make([][]float64, len(modes))
		for i := range vals {
			vals[i] = make([]float64, len(stages))
		}
		for _, row := range st {
			vals[index(modes, row.Mode)][index(stages, row.Stage)] = q.pick(row.P50, row.P95)
		}
		out[q.name] = Stacked{Title: q.title, XLabel: "seconds (stage percentiles, stacked)", Rows: modes, Parts: stages, Values: vals,
			Note: "sec-10-q, 81 questions, SmolLM2-135M on 2 CPU cores (BENCHMARKS.md issue #10 rerun)"}.SVG()
	}
	return out, nil
}

// searchScaleChart draws searchbench's p50 and p99 against the collection
// size, one colour per store (p99 dashed).
func searchScaleChart(ss searchScale) []byte {
	rows := ss.Rows
	stores := ordered(len(rows), func(i int) string { return rows[i].Store })
	c := Lines{Title: "Search latency vs index size, by store", XLabel: "chunks in the collection (log)",
		YLabel: "milliseconds (log)", LogX: true, LogY: true, Dashed: map[string]bool{}}
	var sizes []float64
	for si, st := range stores {
		for _, q := range []string{"p50", "p99"} {
			var ps []Point
			for _, row := range rows {
				if row.Store != st {
					continue
				}
				y := row.P50
				if q == "p99" {
					y = row.P99
				}
				ps = append(ps, Point{row.Chunks, y})
				if index(fmtAll(sizes), fmtNum(row.Chunks)) < 0 {
					sizes = append(sizes, row.Chunks)
				}
			}
			sort.Slice(ps, func(i, j int) bool { return ps[i].X < ps[j].X })
			name := st + ", " + q
			c.Series = append(c.Series, name)
			c.Points = append(c.Points, ps)
			c.Colors = append(c.Colors, si)
			c.Dashed[name] = q == "p99"
		}
	}
	sort.Float64s(sizes)
	c.XTicks = sizes
	c.Note = fmt.Sprintf("bench/cmd/searchbench, %d hybrid queries on both stores, %d cores, %s", ss.Queries, ss.CPUs, ss.Date[:10])
	if len(sizes) == 0 || sizes[len(sizes)-1] < 1e6 {
		c.Note += "; 1M chunks: pending"
	}
	if len(ss.Separate) > 0 {
		c.Note += fmt.Sprintf("; %d more runs of one store each (search-scale-1m-*.json)", len(ss.Separate))
	}
	return c.SVG()
}

func fmtAll(xs []float64) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmtNum(x)
	}
	return out
}
