package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/pdfqa/pdfqa/internal/evalfile"
	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/config"
	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
	"github.com/pdfqa/pdfqa/services/agents"
	"github.com/pdfqa/pdfqa/services/agents/ask"
	"github.com/pdfqa/pdfqa/services/agents/prompts"
)

func init() {
	flagCommand("eval", "ingest a folder of PDFs, ask every question of a CSV, write results JSONL for score_qa.py", evalCommand)
}

func evalCommand(fs *flag.FlagSet) body {
	docs := fs.String("docs", "", "folder of PDFs to ingest (required unless --collection names a ready one and --skip-ingest)")
	questions := fs.String("questions", "", "CSV with a Question column (required)")
	out := fs.String("out", "results.jsonl", "results file (JSON lines)")
	concurrency := fs.Int("concurrency", 2, "questions asked at once")
	addr := fs.String("addr", "", "gRPC address of a running agents service (default: start a mesh in-process)")
	retrievalAddr := fs.String("retrieval-addr", "", "retrieval gRPC address with --addr (default: --addr)")
	etcd := fs.String("etcd", "", "etcd endpoints of a running mesh instead of --addr")
	mode := fs.String("mode", "agentic", "agentic or single-shot")
	collection := fs.String("collection", "", "collection to ingest into and ask (default: a fresh eval-<time>)")
	skipIngest := fs.Bool("skip-ingest", false, "ask an already ingested --collection")
	refineWait := fs.Duration("refine-wait", 10*time.Minute, "after ingestion, wait up to this long for the background refinement of the vectors (contextual model) before asking; 0: ask at once")
	data := fs.String("data", "", "data directory of the in-process mesh (default: a temporary directory)")
	cache := fs.String("cache", config.DefaultCache(), "model and engine cache directory (env PDFQA_CACHE)")
	limit := fs.Int("limit", 0, "ask only the first N questions (0: all)")
	promptSet := fs.String("prompt-set", "", "prompt set(s) of the agents to ask with, comma-separated to compare variants side by side (one results file each, OUT.SET.jsonl); sets: "+strings.Join(prompts.Sets(), ", ")+" (default: the service's, "+prompts.Version+" unless PDFQA_PROMPT_SET says otherwise)")
	ablate := fs.String("ablate", "", "agentic steps to turn off, comma-separated, to measure what each adds: "+strings.Join(ask.Steps(), ", "))
	return func(ctx context.Context, c *call) error {
		if *ablate != "" {
			if _, err := (&ask.Engine{}).Without(strings.Split(*ablate, ",")...); err != nil {
				return usageErr("--ablate: %v", err)
			}
			ctx = metadata.AppendToOutgoingContext(ctx, agents.AblateHeader, *ablate)
		}
		if *questions == "" || (*docs == "" && !*skipIngest) {
			return usageErr("pdfqa eval --docs DIR --questions FILE.csv --out results.jsonl [--concurrency N] [--addr ADDR] [--mode agentic|single-shot] [--collection NAME] [--prompt-set NAME[,NAME...]]")
		}
		sets, err := promptSets(*promptSet)
		if err != nil {
			return usageErr("--prompt-set: %v", err)
		}
		var askOpts []pdfqa.AskOption
		switch *mode {
		case "agentic":
		case "single-shot":
			askOpts = append(askOpts, pdfqa.SingleShot())
		default:
			return usageErr("--mode is agentic or single-shot, not %q", *mode)
		}
		qs, err := evalfile.ReadQuestions(*questions)
		if err != nil {
			return err
		}
		if *limit > 0 && *limit < len(qs) {
			qs = qs[:*limit]
		}
		if *collection == "" {
			*collection = fmt.Sprintf("eval-%d", time.Now().Unix())
		}

		// ac asks; rc ingests and lists (the same client unless --retrieval-addr).
		var ac, rc *pdfqa.Client
		if *addr != "" || *etcd != "" {
			mf := meshFlags{etcd: *etcd, addr: *addr, key: config.Env("PDFQA_API_KEY", ""), tlsDir: config.Env("PDFQA_TLS_DIR", "")}
			if ac, err = mf.sdk(ctx); err != nil {
				return err
			}
			defer ac.Close()
			if *retrievalAddr != "" {
				if rc, err = mf.dialTo(ctx, *retrievalAddr); err != nil {
					return err
				}
				defer rc.Close()
			}
		} else {
			dir := *data
			if dir == "" {
				if dir, err = os.MkdirTemp("", "pdfqa-eval-"); err != nil {
					return err
				}
				defer os.RemoveAll(dir)
			}
			mctx, stop := context.WithCancel(ctx)
			ready := make(chan *mesh.Mesh, 1)
			upErr := make(chan error, 1)
			go func() {
				upErr <- mesh.Up(mctx, mesh.UpOptions{Data: dir, Cache: *cache, HTTPAddr: "127.0.0.1:0", LogLevel: "warn", Ready: func(mm *mesh.Mesh) { ready <- mm }})
			}()
			defer func() { stop(); <-upErr }()
			select {
			case mm := <-ready:
				// Registered is not ready: the engines load their models first.
				if err := waitHealthy(ctx, "http://"+mm.Gateway().HTTPAddr+"/healthz", 5*time.Minute); err != nil {
					return err
				}
				if ac, err = dial(ctx, "etcd://"+mm.Etcd.Endpoint(), mm.AdminKey); err != nil {
					return err
				}
				defer ac.Close()
			case err := <-upErr:
				upErr <- err
				return fmt.Errorf("starting the mesh: %w", err)
			case <-ctx.Done():
				return ctx.Err()
			}
			fmt.Fprintf(c.stderr, "eval: mesh up in %s\n", dir)
		}
		if rc == nil {
			rc = ac
		}
		if !*skipIngest {
			if err := ingest(ctx, rc, *collection, *docs, c.stderr); err != nil {
				return err
			}
		}
		if *refineWait > 0 {
			waitRefined(ctx, rc, *collection, *refineWait, c.stderr)
		}
		if len(sets) == 0 {
			return askEach(ctx, ac, *collection, askOpts, "", qs, *concurrency, *out, c.stdout, c.stderr)
		}
		// One set after the other, each over every question, so that their
		// latencies are measured on the same machine load.
		var errs []error
		for _, set := range sets {
			path := *out
			if len(sets) > 1 {
				path = strings.TrimSuffix(*out, ".jsonl") + "." + set + ".jsonl"
			}
			fmt.Fprintf(c.stderr, "eval: prompt set %s -> %s\n", set, path)
			if err := askEach(ctx, ac, *collection, askOpts, set, qs, *concurrency, path, c.stdout, c.stderr); err != nil {
				errs = append(errs, fmt.Errorf("prompt set %s: %w", set, err))
			}
		}
		return errors.Join(errs...)
	}
}

// promptSets reads --prompt-set: known set names, comma-separated, each once.
func promptSets(flag string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, s := range strings.Split(flag, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if _, err := prompts.Lookup(s); err != nil {
			return nil, err
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	if flag != "" && len(out) == 0 {
		return nil, errors.New("no set named")
	}
	return out, nil
}

// ingest uploads every PDF of dir into collection and waits until each is
// READY or FAILED, reporting failures; it fails only when none is ready.
func ingest(ctx context.Context, rc *pdfqa.Client, collection, dir string, stderr io.Writer) error {
	if _, err := rc.CreateCollection(ctx, collection); err != nil && !errors.Is(err, pdfqa.ErrAlreadyExists) {
		return fmt.Errorf("create collection %s: %w", collection, err)
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.pdf"))
	more, _ := filepath.Glob(filepath.Join(dir, "*.PDF"))
	paths = append(paths, more...)
	sort.Strings(paths)
	if len(paths) == 0 {
		return fmt.Errorf("no PDFs in %s", dir)
	}
	start := time.Now()
	type doc struct{ name, id string }
	var docs []doc
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		r, err := rc.Upload(ctx, collection, filepath.Base(p), b, nil)
		if err != nil {
			fmt.Fprintf(stderr, "ingest: %s: upload failed: %v\n", filepath.Base(p), err)
			continue
		}
		docs = append(docs, doc{filepath.Base(p), r.Document.GetId()})
	}
	ready := 0
	for i, d := range docs {
		doc, err := follow(ctx, rc, collection, d.id, fmt.Sprintf("ingest [%d/%d] %s", i+1, len(docs), d.name), stderr)
		state, msg := doc.GetState(), doc.GetError()
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "ingest [%d/%d] %s: watch failed: %v\n", i+1, len(docs), d.name, err)
		case state == pdfqa.DocumentReady:
			ready++
			fmt.Fprintf(stderr, "ingest [%d/%d] %s: READY (%.0fs)\n", i+1, len(docs), d.name, time.Since(start).Seconds())
		default:
			fmt.Fprintf(stderr, "ingest [%d/%d] %s: FAILED: %s\n", i+1, len(docs), d.name, msg)
		}
	}
	if ready == 0 {
		return fmt.Errorf("no document of %s was ingested", dir)
	}
	return nil
}

// waitRefined waits until every READY document of collection has refined
// vectors (so that every question is searched the same way), at most wait.
func waitRefined(ctx context.Context, rc *pdfqa.Client, collection string, wait time.Duration, stderr io.Writer) {
	start := time.Now()
	last := ""
	for {
		docs, err := rc.Documents(ctx, collection)
		if err != nil {
			fmt.Fprintf(stderr, "eval: cannot list documents to wait for refinement: %v\n", err)
			return
		}
		ready, refined := 0, 0
		for _, d := range docs {
			if d.GetState() != pdfqa.DocumentReady || d.GetChunkCount() == 0 {
				continue
			}
			ready++
			if d.GetRefinedModel() != "" {
				refined++
			}
		}
		line := fmt.Sprintf("eval: refined vectors for %d/%d documents (%.0fs)", refined, ready, time.Since(start).Seconds())
		if line != last {
			fmt.Fprintln(stderr, line)
			last = line
		}
		if refined == ready {
			return
		}
		if time.Since(start) > wait {
			fmt.Fprintf(stderr, "eval: refinement not finished after %s; asking with the fast vectors\n", wait)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

// askEach asks every question (prompt set: the agents' prompt set for each
// call, "" for the service's) and writes one result line each to out.
// answerRetrying asks q, asking again while the mesh answers
// ResourceExhausted (the key's concurrent-answer cap or rate limit: another
// eval on the same key, or a slot released just after the previous answer
// arrived), waiting 1 s, 2 s, 4 s … up to 8 s between tries, until ctx ends.
func answerRetrying(ctx context.Context, ac *pdfqa.Client, collection, q string, opts []pdfqa.AskOption) (*pdfqa.Run, error) {
	wait := time.Second
	for {
		run, err := ac.Answer(ctx, collection, q, nil, opts...)
		if !errors.Is(err, pdfqa.ErrResourceExhausted) {
			return run, err
		}
		select {
		case <-ctx.Done():
			return run, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 8*time.Second)
	}
}

func askEach(ctx context.Context, ac *pdfqa.Client, collection string, askOpts []pdfqa.AskOption, set string, qs []string, concurrency int, out string, stdout, stderr io.Writer) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	results := evalfile.NewWriter(f)
	var mu sync.Mutex
	var lat []float64
	stages := map[string][]float64{}
	done, failed, degraded := 0, 0, 0
	sem := make(chan struct{}, max(1, concurrency))
	var wg sync.WaitGroup
	for _, q := range qs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t := time.Now()
			qctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
			opts := askOpts
			if set != "" {
				opts = append(slices.Clip(askOpts), pdfqa.WithPromptSet(set))
			}
			run, err := answerRetrying(qctx, ac, collection, q, opts)
			cancel()
			res := evalfile.NewResult(q)
			res.LatencyMs, res.PromptSet = float64(time.Since(t).Microseconds())/1000, set
			if err != nil {
				res.Error = err.Error()
			}
			if run != nil {
				res.Answer, res.Degraded, res.RunID = run.GetAnswer(), run.GetDegraded(), run.GetId()
				if res.Error == "" {
					res.Error = run.GetError()
				}
				res.Support = run.GetVerification().GetSupportScore()
				res.Plan = len(run.GetPlan().GetSubQuestions())
				for _, c := range run.GetCitations() {
					res.Citations = append(res.Citations, evalfile.Citation{Document: c.GetDocument(), Page: int(c.GetPage())})
				}
				for _, p := range run.GetPassages() {
					res.Passages = append(res.Passages, evalfile.Passage{Document: p.GetDocumentName(), Page: int(p.GetPage()), Text: p.GetText(), Score: evalfile.Score32(p.GetScore())})
				}
				res.Timings = map[string]float64{}
				for _, st := range run.GetTimings() {
					res.Timings[st.GetStage()] = st.GetMs()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			_ = results.Write(res)
			done++
			lat = append(lat, res.LatencyMs)
			for k, v := range res.Timings {
				stages[k] = append(stages[k], v)
			}
			if err != nil {
				failed++
			}
			if res.Degraded {
				degraded++
			}
			flag := ""
			if res.Degraded {
				flag = " degraded"
			}
			if err != nil {
				flag += " ERROR: " + err.Error()
			}
			fmt.Fprintf(stderr, "[%d/%d] %6.0fms %d cites%s  %s\n", done, len(qs), res.LatencyMs, len(res.Citations), flag, truncateLine(q, 70))
		}()
	}
	wg.Wait()
	label := ""
	if set != "" {
		label = " (prompt set " + set + ")"
	}
	fmt.Fprintf(stdout, "eval%s: %d questions, %d failed, %d degraded; latency p50 %.0fms p95 %.0fms; results in %s\n",
		label, len(qs), failed, degraded, pct(lat, 0.5), pct(lat, 0.95), out)
	names := make([]string, 0, len(stages))
	for k := range stages {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(stdout, "  stage %-9s p50 %7.0fms p95 %7.0fms\n", k, pct(stages[k], 0.5), pct(stages[k], 0.95))
	}
	if failed == len(qs) {
		return fmt.Errorf("every question failed")
	}
	return nil
}

// pct is the nearest-rank percentile, matching score_qa.py's p95.
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if p == 0.5 {
		n := len(s)
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[int(p*float64(len(s)-1))]
}

// waitHealthy polls the gateway's /healthz until every service serves.
func waitHealthy(ctx context.Context, url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mesh not healthy after %v (%s)", d, url)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
