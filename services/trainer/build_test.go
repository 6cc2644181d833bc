package trainer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// slowGen wraps fakeGen with random delays (so generations finish out of
// order) and records how many run at once and how many ran in all.
type slowGen struct {
	inner    QAGenerator
	inFlight atomic.Int32
	peak     atomic.Int32
	calls    atomic.Int32
	mu       sync.Mutex
	rnd      *rand.Rand
}

func (g *slowGen) Settings() map[string]string { return g.inner.Settings() }
func (g *slowGen) Generate(ctx context.Context, passage string, seed int64) (QA, error) {
	g.calls.Add(1)
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			break
		}
	}
	g.mu.Lock()
	d := time.Duration(g.rnd.IntN(3000)) * time.Microsecond
	g.mu.Unlock()
	select {
	case <-time.After(d):
	case <-ctx.Done():
		return QA{}, ctx.Err()
	}
	return g.inner.Generate(ctx, passage, seed)
}

func testChunks(n int) []Chunk {
	var cs []Chunk
	for i := 0; i < n; i++ {
		cs = append(cs, Chunk{ID: fmt.Sprint(i), DocumentID: fmt.Sprint("doc", i%5),
			Text: fmt.Sprintf("Item%d revenue rose sharply ", i) + strings.Repeat("filler words for length ", 5)})
	}
	return cs
}

func TestBuildExamplesParallelIsDeterministicAndBounded(t *testing.T) {
	chunks := testChunks(40)
	run := func(conc int) ([]example, map[string]int32, *slowGen) {
		g := &slowGen{inner: fakeGen{}, rnd: rand.New(rand.NewPCG(uint64(conc), 9))}
		exs, filtered, err := buildExamples(context.Background(), chunks, g, buildSettings{MaxExamples: 10, PairsPerChunk: 2, Seed: 3, Concurrency: conc})
		if err != nil {
			t.Fatal(err)
		}
		return exs, filtered, g
	}
	seq, _, g1 := run(1)
	par, _, g4 := run(4)
	if len(seq) != 10 {
		t.Fatalf("sequential build kept %d examples, want 10", len(seq))
	}
	if !reflect.DeepEqual(seq, par) {
		t.Errorf("parallel build differs from sequential:\n%v\n%v", seq, par)
	}
	if p := g1.peak.Load(); p != 1 {
		t.Errorf("concurrency 1 ran %d generations at once", p)
	}
	if p := g4.peak.Load(); p < 2 || p > 4 {
		t.Errorf("concurrency 4 ran %d generations at once", p)
	}
	// Half the pairs fail the filters: about 20 attempts are needed, not the
	// 80 the collection offers; the parallel run overshoots by at most the
	// generations in flight.
	if c := g4.calls.Load(); c > 20+4 || c < 20 {
		t.Errorf("parallel build made %d generations for 10 examples", c)
	}
}

// rejectAll's pairs never pass the filters.
type rejectAll struct{ calls atomic.Int32 }

func (g *rejectAll) Settings() map[string]string { return nil }
func (g *rejectAll) Generate(context.Context, string, int64) (QA, error) {
	g.calls.Add(1)
	return QA{Question: "Is it?", Answer: "999 unicorns"}, nil
}

func TestBuildExamplesStopsAfterMaxAttempts(t *testing.T) {
	g := &rejectAll{}
	var last buildProgress
	exs, filtered, err := buildExamples(context.Background(), testChunks(100), g, buildSettings{
		MaxExamples: 5, PairsPerChunk: 2, Concurrency: 3,
		Progress: func(p buildProgress) { last = p },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(exs) != 0 || g.calls.Load() != 20 {
		t.Errorf("%d examples after %d generations; want 0 after 4 x 5 = 20", len(exs), g.calls.Load())
	}
	if filtered["length"]+filtered["unsupported"] != 20 {
		t.Errorf("filtered %v", filtered)
	}
	if last.Attempts != 20 || last.MaxAttempts != 20 || last.Accepted != 0 {
		t.Errorf("last progress %+v", last)
	}
}

// blockGen blocks until its context ends.
type blockGen struct{ started chan struct{} }

func (g *blockGen) Settings() map[string]string { return nil }
func (g *blockGen) Generate(ctx context.Context, _ string, _ int64) (QA, error) {
	select {
	case g.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return QA{}, ctx.Err()
}

func TestBuildExamplesCancel(t *testing.T) {
	g := &blockGen{started: make(chan struct{}, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, _, err := buildExamples(ctx, testChunks(10), g, buildSettings{MaxExamples: 5, PairsPerChunk: 2})
		errc <- err
	}()
	<-g.started
	cancel()
	select {
	case err := <-errc:
		if err != context.Canceled {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("build did not return after cancel")
	}
}

func TestCandidatesCutFiguresFromStatements(t *testing.T) {
	p := "Thank you. Revenue was $52.7 billion, up 12%.\nDid margins grow by 300 basis points? " +
		"Operating margin expanded 300 basis points to 42% in the third quarter of fiscal 2023. Page 7"
	got := Candidates(p)
	want := []Candidate{
		{"Operating margin expanded 300 basis points to 42% in the third quarter of fiscal 2023.", "300 basis points"},
		{"Operating margin expanded 300 basis points to 42% in the third quarter of fiscal 2023.", "42%"},
	}
	// "Revenue was $52.7 billion, up 12%." has 6 words: kept too.
	want = append([]Candidate{
		{"Revenue was $52.7 billion, up 12%.", "$52.7 billion"},
		{"Revenue was $52.7 billion, up 12%.", "12%"},
	}, want...)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Candidates:\n got %q\nwant %q", got, want)
	}
	if c := Candidates("Office 365 seats grew in fiscal 2023 as Windows 11 shipped widely."); len(c) != 0 {
		t.Errorf("names and years taken for figures: %q", c)
	}
	if c := Candidates("No figures here at all, only words in a sentence."); len(c) != 0 {
		t.Errorf("candidates from a passage without figures: %q", c)
	}
}

func TestCleanQuestion(t *testing.T) {
	for in, want := range map[string]string{
		" Question: What was revenue? It grew.": "What was revenue?",
		"\"What was the margin?\"":              "What was the margin?",
		"Q: How many customers":                 "How many customers",
	} {
		if got := cleanQuestion(in); got != want {
			t.Errorf("cleanQuestion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRejectOffTopicQuestion(t *testing.T) {
	passage := "Only about 25% of our customers are Fortune 500 companies, and that share keeps rising."
	if r := rejectQA(QA{Question: "What was revenue in the quarter?", Answer: "25%"}, passage); r != "off_topic" {
		t.Errorf("parroted few-shot question: %q, want off_topic", r)
	}
	if r := rejectQA(QA{Question: "What share of customers are Fortune 500 companies?", Answer: "25%"}, passage); r != "" {
		t.Errorf("good question rejected: %q", r)
	}
	// With the answer's sentence known, the question must be about that
	// sentence, not merely the passage.
	long := passage + " Revenue from these companies grew 30% this year."
	if r := rejectQA(QA{Question: "What share of customers are Fortune 500 companies?", Answer: "30%", Sentence: "Revenue from these companies grew 30% this year."}, long); r != "off_topic" {
		t.Errorf("question about another sentence: %q, want off_topic", r)
	}
}
