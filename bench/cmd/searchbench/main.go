// Command searchbench measures hybrid search latency at scale on the
// embedded store (bbolt) and on PostgreSQL side by side, in one run: for
// each size it writes the same synthetic collection into both stores
// through the ingestion path's CommitIndex, opens a retrieval engine on
// each, and runs the same queries on both, alternating, so that the two
// see the same machine. Every query's results are compared between the
// stores (documents, chunks and scores): the report says how many differ.
//
// The text is synthetic but shaped like filings: chunks of 120-220 words
// drawn from a Zipf distribution (s 1.1) over a 40,000-word vocabulary
// whose head is English stopwords and financial vocabulary, one word in
// ten a number; queries are 2-5 words drawn from the same distribution
// (stopwords excluded), a third with a number, some with words the
// financial expansion adds terms for. Vectors are the test embedder's
// (embed.Hash) at the models' dimension, 384.
//
//	nice -n 19 go run ./bench/cmd/searchbench -sizes 10000,100000 -out bench/recorded/search-scale.json
//
// Without -pg it starts its own PostgreSQL from scripts/setup/postgres.sh's
// install (platform/pgtest). With -dir, -pg and -reuse a later run keeps
// the collections an earlier one wrote (the 100k fill takes 10-20 min).
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pdfqa/pdfqa/bench/internal/benchutil"
	"github.com/pdfqa/pdfqa/platform/pgtest"
	"github.com/pdfqa/pdfqa/services/retrieval"
	"github.com/pdfqa/pdfqa/services/retrieval/embed"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// Row is one store at one size (the shape of benchmarks.json's
// search_latency rows, which bench/plots reads).
type Row struct {
	Store  string  `json:"store"`
	Chunks int     `json:"chunks"`
	P50    float64 `json:"p50_ms"`
	P95    float64 `json:"p95_ms"`
	P99    float64 `json:"p99_ms"`
	Max    float64 `json:"max_ms"`
	// LoadSeconds is the time to write the collection (CommitIndex per
	// document, and on PostgreSQL VACUUM ANALYZE after it).
	LoadSeconds float64 `json:"load_s"`
	// PeakRSSMB is the bench process's peak resident set after the size's
	// queries (both engines' in-memory vectors and the bbolt file's mapped
	// pages; the PostgreSQL server is another process).
	PeakRSSMB float64 `json:"peak_rss_mb,omitempty"`
	// ServerPeakMB is the PostgreSQL server's peak memory while the size
	// was written and searched: its processes' proportional set sizes
	// (shared buffers counted once), summed, sampled every second.
	ServerPeakMB float64 `json:"server_peak_pss_mb,omitempty"`
	// StoreMB is the store's size on disk after the load: the bbolt file,
	// or the PostgreSQL database (pg_database_size: tables, indexes).
	StoreMB float64 `json:"store_mb,omitempty"`
	// WarmSeconds is the first 5 searches' time (the untimed warm-up: the
	// collection's vectors loaded into memory, the HNSW graph built).
	WarmSeconds float64 `json:"warm_s,omitempty"`
	// WarmCPUSeconds is the bench process's CPU time (user + system)
	// during the warm-up: at 1M hybrid, mostly the HNSW build.
	WarmCPUSeconds float64 `json:"warm_cpu_s,omitempty"`
	// ResultsSHA256 digests every timed query's results (documents,
	// chunks, scores) in order: equal digests of two runs, one store each,
	// mean identical results.
	ResultsSHA256 string `json:"results_sha256,omitempty"`
}

// Report is the file searchbench writes.
type Report struct {
	Bench   string `json:"bench"`
	Date    string `json:"date"`
	Commit  string `json:"commit"`
	Command string `json:"command"`
	CPUs    int    `json:"cpus"`
	Load1   string `json:"load_at_start"`
	Corpus  string `json:"corpus"`
	Queries int    `json:"queries"`
	// Mismatches counts queries whose results differ between the stores
	// (0: identical documents, chunks and scores for every query).
	Mismatches int   `json:"mismatches"`
	Rows       []Row `json:"rows"`
}

const (
	embeddedName = "embedded (bbolt)"
	postgresName = "PostgreSQL + pgvector"
	coll         = "bench"
	perDoc       = 250
	dim          = 384
)

func main() {
	out := flag.String("out", "", "JSON file to write (default: stdout)")
	sizeList := flag.String("sizes", "10000,100000", "collection sizes in chunks")
	queries := flag.Int("queries", 300, "timed queries per store and size")
	pgURL := flag.String("pg", "", "PostgreSQL URL of an empty database (default: start a server)")
	dir := flag.String("dir", "", "directory for the embedded stores (default: a temporary one, removed)")
	flag.BoolVar(&reuse, "reuse", false, "with -dir and -pg: keep a collection an earlier run wrote (same size) instead of writing it again")
	flag.BoolVar(&embeddedOnly, "embedded-only", false, "measure the embedded store alone (no PostgreSQL server; 1M chunks: one store a process)")
	flag.BoolVar(&pgOnly, "pg-only", false, "measure PostgreSQL alone")
	flag.StringVar(&mode, "mode", "hybrid", "search mode: hybrid, or keyword (BM25 alone: no vectors loaded, no HNSW graph built; rows named \"<store>, keyword only\")")
	flag.StringVar(&fillMode, "fill", "bulk", "how to write the collections: bulk (store.BulkLoader: one sorted write of the index) or ingest (AddDocument + CommitIndex a document, the ingestion path)")
	cpuProfile := flag.String("cpuprofile", "", "write CPU profiles of the timed queries to FILE.SIZE")
	flag.StringVar(&readyFile, "ready", "", "after each size's warm-up, wait until FILE exists before the timed queries (a priority wrapper then runs only them; see BENCHMARKS.md)")
	flag.Parse()
	if *cpuProfile != "" {
		// one profile a size (FILE.SIZE), while the queries are timed, not
		// while the stores are filled
		var f *os.File
		profiling = func(n int, on bool) {
			if !on {
				pprof.StopCPUProfile()
				f.Close()
				return
			}
			var err error
			if f, err = os.Create(fmt.Sprintf("%s.%d", *cpuProfile, n)); err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				benchutil.Fail("searchbench", err)
			}
		}
	}
	benchutil.Main("searchbench", func() error { return run(*out, *sizeList, *queries, *pgURL, *dir) })
}

// embeddedOnly: -embedded-only; pgOnly: -pg-only; reuse: -reuse; fillMode: -fill.
var (
	embeddedOnly, pgOnly, reuse bool
	fillMode, mode, readyFile   string
)

// queryMode is -mode as a Query's Mode ("" for hybrid).
func queryMode() string {
	if mode == retrieval.ModeKeyword {
		return mode
	}
	return ""
}

// profiling turns the -cpuprofile on and off.
var profiling = func(int, bool) {}

func run(out, sizeList string, queries int, pgURL, dir string) error {
	var sizes []int
	for _, f := range strings.Split(sizeList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < perDoc {
			return fmt.Errorf("bad size %q (at least %d)", f, perDoc)
		}
		sizes = append(sizes, n)
	}
	if queries < 10 {
		return errors.New("-queries must be at least 10")
	}
	if embeddedOnly && pgOnly {
		return errors.New("-embedded-only and -pg-only: pick one")
	}
	if mode != "hybrid" && mode != retrieval.ModeKeyword {
		return fmt.Errorf("-mode %q: hybrid or keyword", mode)
	}
	if fillMode != "bulk" && fillMode != "ingest" {
		return fmt.Errorf("-fill %q: bulk or ingest", fillMode)
	}
	if pgURL == "" && !embeddedOnly {
		srv, err := pgtest.Start()
		if err != nil {
			return err
		}
		defer srv.Close()
		if pgURL, err = srv.CreateDatabase(); err != nil {
			return err
		}
	}
	dir, done, err := benchutil.WorkDir(dir, "searchbench")
	if err != nil {
		return err
	}
	defer done()
	parser, err := parse.New(parse.Config{Instances: 1}) // the engine needs one; nothing is parsed
	if err != nil {
		return err
	}
	defer parser.Close()
	rep := Report{Bench: "search-scale", Date: time.Now().UTC().Format(time.RFC3339), Commit: benchutil.Commit(),
		Command: benchutil.Command("searchbench"), CPUs: runtime.NumCPU(), Load1: benchutil.LoadAvg(), Queries: queries,
		Corpus: fmt.Sprintf("synthetic filings-like text: %d-chunk documents, 120-220 words a chunk, Zipf(1.1) over %d words, 1 in 10 a number; 384-dim embed.Hash vectors", perDoc, vocabSize)}
	voc := vocabulary()
	for _, n := range sizes {
		rows, mism, err := measure(dir, pgURL, n, queries, voc, parser)
		if err != nil {
			return fmt.Errorf("%d chunks: %w", n, err)
		}
		rep.Rows = append(rep.Rows, rows...)
		rep.Mismatches += mism
		for _, r := range rows {
			fmt.Fprintf(os.Stderr, "%-22s %7d chunks  p50 %7.1f  p95 %7.1f  p99 %7.1f  max %7.1f ms  (load %.0f s, peak RSS %.0f MB)\n",
				r.Store, r.Chunks, r.P50, r.P95, r.P99, r.Max, r.LoadSeconds, r.PeakRSSMB)
		}
		fmt.Fprintf(os.Stderr, "%d chunks: %d of %d queries differ between the stores\n", n, mism, queries)
	}
	return benchutil.WriteJSON(out, rep)
}

// measure builds an n-chunk collection on both stores and times queries
// on both, alternating.
func measure(dir, pgURL string, n, queries int, voc []string, parser parse.ParseRenderer) ([]Row, int, error) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// the stores' own log (a bulk load's phases) on stderr
	storeLog := slog.New(slog.NewTextHandler(os.Stderr, nil))
	bolt, err := store.Open(fmt.Sprintf("%s/bolt-%d", dir, n))
	if err != nil {
		return nil, 0, err
	}
	defer bolt.Close()
	// one collection per size, named apart, on the one database
	name := fmt.Sprintf("%s%d", coll, n)
	stores := []struct {
		name string
		st   store.Store
	}{{embeddedName, bolt}}
	var pg *store.Postgres
	if !embeddedOnly {
		pg, err = store.OpenPostgres(ctx, pgURL, store.PostgresOptions{Log: storeLog, StatementTimeout: 10 * time.Minute, CallTimeout: 10 * time.Minute})
		if err != nil {
			return nil, 0, err
		}
		defer pg.Close()
		stores = append(stores, struct {
			name string
			st   store.Store
		}{postgresName, pg})
		if pgOnly {
			stores = stores[1:]
		}
	}
	// the PostgreSQL server's memory (its processes' proportional set
	// sizes, summed), sampled while the size is written and searched
	var pgMem *serverMemory
	if pg != nil {
		if pgMem, err = watchServerMemory(ctx, pg); err != nil {
			return nil, 0, err
		}
		defer pgMem.stop()
	}
	if mode == retrieval.ModeKeyword {
		for i := range stores {
			stores[i].name += ", keyword only"
		}
	}
	rows := make([]Row, len(stores))
	engines := make([]*retrieval.Engine, len(stores))
	for i, s := range stores {
		rows[i] = Row{Store: s.name, Chunks: n}
		if c, err := s.st.GetCollection(ctx, name); reuse && err == nil && c.Chunks == int64(n) {
			// (load_s stays 0: nothing was written)
			fmt.Fprintf(os.Stderr, "%s: %d chunks kept from an earlier run\n", s.name, n)
		} else {
			t := time.Now()
			fillFn := fill
			if fillMode == "bulk" {
				fillFn = bulkFill
			}
			if err := fillFn(ctx, s.st, name, n, voc); err != nil {
				return nil, 0, fmt.Errorf("%s: %w", s.name, err)
			}
			if s.st == pg {
				if _, err := pg.DB().Pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
					return nil, 0, err
				}
			}
			rows[i].LoadSeconds = time.Since(t).Seconds()
			fmt.Fprintf(os.Stderr, "%s: %d chunks written in %.0f s\n", s.name, n, rows[i].LoadSeconds)
		}
		var size int64
		if s.st == store.Store(pg) {
			err = pg.DB().Pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&size)
		} else {
			var fi os.FileInfo
			fi, err = os.Stat(fmt.Sprintf("%s/bolt-%d/retrieval.db", dir, n))
			if fi != nil {
				size = fi.Size()
			}
		}
		if err != nil {
			return nil, 0, err
		}
		rows[i].StoreMB = float64(size >> 20)
		fmt.Fprintf(os.Stderr, "%s: %d MiB on disk\n", s.name, size>>20)
		files, err := store.OpenFiles(fmt.Sprintf("%s/blobs-%d-%d", dir, n, i))
		if err != nil {
			return nil, 0, err
		}
		e, err := retrieval.Open(retrieval.Config{Store: s.st, Blobs: files, Parser: parser, Embedder: embed.Hash{Dim: dim}, Log: log, Workers: 1})
		if err != nil {
			return nil, 0, err
		}
		defer e.Close()
		engines[i] = e
	}
	qs := queryTexts(voc, queries, uint64(n))
	lat := make([][]time.Duration, len(stores))
	mism := 0
	// warm up: load the vector index (and HNSW) and the caches
	for i, e := range engines {
		t, cpu := time.Now(), cpuSeconds()
		for _, q := range qs[:5] {
			if _, err := e.Search(ctx, retrieval.Query{Collection: name, Text: q, TopK: 10, Mode: queryMode()}); err != nil {
				return nil, 0, err
			}
		}
		rows[i].WarmSeconds, rows[i].WarmCPUSeconds = time.Since(t).Seconds(), cpuSeconds()-cpu
		fmt.Fprintf(os.Stderr, "%s: warm (vectors loaded, HNSW built) in %.0f s, %.0f s of CPU, peak RSS %.0f MiB\n",
			stores[i].name, rows[i].WarmSeconds, rows[i].WarmCPUSeconds, benchutil.PeakRSSMiB(os.Getpid()))
	}
	if err := waitReady(ctx, readyFile); err != nil {
		return nil, 0, err
	}
	digests := make([]hash.Hash, len(engines))
	for i := range digests {
		digests[i] = sha256.New()
	}
	profiling(n, true)
	for qi, q := range qs[5:] {
		var res [][]retrieval.Result
		for i := range engines {
			// alternate which store goes first
			k := (i + qi) % len(engines)
			t := time.Now()
			r, err := engines[k].Search(ctx, retrieval.Query{Collection: name, Text: q, TopK: 10, Mode: queryMode()})
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %q: %w", stores[k].name, q, err)
			}
			lat[k] = append(lat[k], time.Since(t))
			fmt.Fprintln(digests[k], brief(r))
			for len(res) <= k {
				res = append(res, nil)
			}
			res[k] = r
		}
		if len(res) > 1 && !same(res[0], res[1]) {
			mism++
			if mism <= 3 {
				fmt.Fprintf(os.Stderr, "query %q differs:\n  %s\n  %s\n", q, brief(res[0]), brief(res[1]))
			}
		}
	}
	profiling(n, false)
	for i := range rows {
		rows[i].PeakRSSMB = float64(int(benchutil.PeakRSSMiB(os.Getpid()) + 0.5))
		rows[i].ResultsSHA256 = hex.EncodeToString(digests[i].Sum(nil))
		if stores[i].st == store.Store(pg) {
			rows[i].ServerPeakMB = float64(int(pgMem.peakMiB() + 0.5))
		}
		pct := func(p float64) float64 {
			return float64(benchutil.Percentile(lat[i], p).Microseconds()) / 1000
		}
		rows[i].P50, rows[i].P95, rows[i].P99, rows[i].Max = pct(0.50), pct(0.95), pct(0.99), pct(1)
	}
	return rows, mism, nil
}

// cpuSeconds is the process's CPU time so far, user and system.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// waitReady waits until file exists (-ready; nothing to wait for without it).
func waitReady(ctx context.Context, file string) error {
	if file == "" {
		return nil
	}
	fmt.Fprintf(os.Stderr, "searchbench: pid %d warm, waiting for %s before the timed queries\n", os.Getpid(), file)
	for {
		if _, err := os.Stat(file); err == nil {
			return nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func same(a, b []retrieval.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Chunk.DocID != b[i].Chunk.DocID || a[i].Chunk.Seq != b[i].Chunk.Seq || a[i].Score != b[i].Score {
			return false
		}
	}
	return true
}

func brief(rs []retrieval.Result) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%s-%d:%.6g", r.Chunk.DocID, r.Chunk.Seq, r.Score))
	}
	return strings.Join(s, " ")
}
