package trainer

import (
	"context"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// Chunk is one passage of a collection.
type Chunk struct {
	ID, DocumentID, Text string
}

// ChunkSource lists a collection's chunks (retrieval ListChunks).
type ChunkSource interface {
	Chunks(ctx context.Context, collection string) ([]Chunk, error)
}

// QA is one generated question/answer pair.
type QA struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
	// Sentence is the passage sentence the answer was cut from, when the
	// generator works answer-first: the question must be about it.
	Sentence string `json:"sentence,omitempty"`
}

// QAGenerator writes question/answer pairs about a passage (inference
// Generate with a JSON schema); Settings describe it for the manifest.
type QAGenerator interface {
	Generate(ctx context.Context, passage string, seed int64) (QA, error)
	Settings() map[string]string
}

// QAPrompt asks the model for the question a sentence answers with a given
// answer span. Generation is answer-first: the answer is cut from the
// passage (so it is grounded by construction) and a small model only has to
// phrase the question, which it does far better than inventing a pair. The
// sentence and answer follow the prompt as "Sentence: …\nAnswer: …\nQuestion:".
// Version it in the manifest (QAPromptVersion) when it changes.
const QAPrompt = "Write the question that the sentence answers with the given answer. " +
	"Use the sentence's own words. Do not put the answer in the question.\n\n" +
	"Sentence: Revenue grew 12% to $52.7 billion in the quarter, driven by cloud services.\n" +
	"Answer: $52.7 billion\n" +
	"Question: What was revenue in the quarter?\n\n" +
	"Sentence: Operating margins expanded 3 points year over year to 42% as we kept headcount flat.\n" +
	"Answer: 42%\n" +
	"Question: What were operating margins this year?\n\n"

// QAPromptVersion identifies QAPrompt and the answer selection in manifests.
const QAPromptVersion = "qa-v2-answer-first"

// Candidate is a sentence of a passage and an answer span inside it.
type Candidate struct {
	Sentence, Answer string
}

var (
	sentenceEnd = regexp.MustCompile(`[.!?]["')\]]?\s+`)
	// answerSpan matches figures: amounts, percentages, counts with units.
	answerSpan = regexp.MustCompile(`(?i)[$€£]?\d[\d,]*(?:\.\d+)?(?:\s?(?:%|percent|basis points|bps|billion|million|thousand|x\b))?`)
	// measured: a figure with a currency, a unit or a decimal point; bare
	// integers are mostly names, years and labels ("Office 365", "fiscal
	// 2023", "Q4"), not answers.
	measured = regexp.MustCompile(`(?i)^[$€£]|[%x]$|percent$|points$|bps$|billion$|million$|thousand$|\d\.\d`)
)

// Candidates lists the (sentence, answer) pairs a passage offers: sentences
// of 6-50 words holding a measured figure (currency, unit or decimals) of at
// least two digits. Questions ending in
// "?" are skipped: they ask, they do not state.
func Candidates(passage string) []Candidate {
	text := strings.Join(strings.Fields(passage), " ")
	var out []Candidate
	last := 0
	emit := func(sent string) {
		sent = strings.TrimSpace(sent)
		n := len(strings.Fields(sent))
		if n < 6 || n > 50 || strings.HasSuffix(sent, "?") {
			return
		}
		for _, a := range answerSpan.FindAllString(sent, -1) {
			a = strings.TrimRight(strings.TrimSpace(a), ",.")
			digits := strings.Map(func(r rune) rune {
				if unicode.IsDigit(r) {
					return r
				}
				return -1
			}, a)
			if len(digits) < 2 || !measured.MatchString(a) {
				continue
			}
			out = append(out, Candidate{Sentence: sent, Answer: a})
		}
	}
	for _, m := range sentenceEnd.FindAllStringIndex(text, -1) {
		emit(text[last:m[1]])
		last = m[1]
	}
	emit(text[last:])
	return out
}

// applicable is implemented by generators that can tell beforehand that a
// passage offers them nothing (no model call is spent on it).
type applicable interface {
	Applicable(passage string) bool
}

// buildSettings bound generation work.
type buildSettings struct {
	MaxExamples   int
	PairsPerChunk int
	Seed          int64
	// Concurrency is the number of generations in flight (default 4: the
	// inference engine serves 4 slots).
	Concurrency int
	// MaxAttempts caps generations in all (default 4 x MaxExamples, at least
	// 8), so a generator whose pairs keep failing the filters ends the build
	// instead of walking the whole collection.
	MaxAttempts int
	// Progress, when set, is called after every finished attempt.
	Progress func(buildProgress)
}

// buildProgress is a snapshot of a running build.
type buildProgress struct {
	Attempts, MaxAttempts, Accepted, MaxExamples int
}

// attempt is one generation: a chunk and the seed of its pair.
type attempt struct {
	idx   int // position in generation order: results are kept in this order
	chunk Chunk
	seed  int64
}

// attemptResult is what one attempt produced: a pair or the filter it failed.
type attemptResult struct {
	idx    int
	qa     QA
	chunk  Chunk
	reason string
}

// buildExamples turns chunks into filtered, grounded examples, generating
// Concurrency pairs at a time, at most MaxAttempts in all. The result does
// not depend on the order generations finish in: pairs are kept in attempt
// order, duplicates dropped in that order. filtered counts the pairs each
// filter dropped.
func buildExamples(ctx context.Context, chunks []Chunk, gen QAGenerator, bs buildSettings) ([]example, map[string]int32, error) {
	if bs.PairsPerChunk <= 0 {
		bs.PairsPerChunk = 1
	}
	if bs.Concurrency <= 0 {
		bs.Concurrency = 4
	}
	if bs.MaxAttempts <= 0 {
		bs.MaxAttempts = max(8, 4*bs.MaxExamples)
	}
	filtered := map[string]int32{}
	r := rand.New(rand.NewPCG(uint64(bs.Seed), 1))
	var todo []attempt
	for _, ci := range r.Perm(len(chunks)) {
		c := chunks[ci]
		if len(words(c.Text)) < 20 {
			filtered["short_chunk"]++
			continue
		}
		if a, ok := gen.(applicable); ok && !a.Applicable(c.Text) {
			filtered["no_candidate"]++
			continue
		}
		for p := 0; p < bs.PairsPerChunk; p++ {
			todo = append(todo, attempt{idx: len(todo), chunk: c, seed: bs.Seed + int64(ci*bs.PairsPerChunk+p)})
		}
	}
	if len(todo) > bs.MaxAttempts {
		todo = todo[:bs.MaxAttempts]
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan attempt)
	results := make(chan attemptResult)
	var wg sync.WaitGroup
	for w := 0; w < min(bs.Concurrency, max(1, len(todo))); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var a attempt
				select {
				case next, ok := <-jobs:
					if !ok {
						return
					}
					a = next
				case <-ctx.Done():
					return
				}
				res := attemptResult{idx: a.idx, chunk: a.chunk}
				qa, err := gen.Generate(ctx, a.chunk.Text, a.seed)
				switch {
				case err != nil:
					res.reason = "generation_error"
				default:
					res.qa, res.reason = qa, rejectQA(qa, a.chunk.Text)
				}
				select {
				case results <- res:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	// Feed attempts until enough pairs passed the filters (duplicates are
	// only known at the end, so a few extra in flight are welcome).
	var accepted, done int
	var kept []attemptResult
	next := 0
	go func() { wg.Wait(); close(results) }()
	feed := jobs
	if len(todo) == 0 {
		close(jobs)
		feed = nil
	}
	for {
		var send attempt
		if feed != nil {
			send = todo[next]
		}
		select {
		case feed <- send:
			next++
			if next == len(todo) {
				close(jobs)
				feed = nil
			}
		case res, ok := <-results:
			if !ok {
				if err := ctx.Err(); err != nil {
					return nil, nil, err
				}
				return finishExamples(kept, filtered, bs.MaxExamples), filtered, nil
			}
			done++
			if res.reason != "" {
				filtered[res.reason]++
			} else {
				accepted++
				kept = append(kept, res)
			}
			if bs.Progress != nil {
				bs.Progress(buildProgress{Attempts: done, MaxAttempts: len(todo), Accepted: accepted, MaxExamples: bs.MaxExamples})
			}
			if accepted >= bs.MaxExamples && feed != nil {
				close(jobs)
				feed = nil
			}
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// finishExamples orders kept pairs by attempt, drops duplicate questions and
// cuts to maxN.
func finishExamples(kept []attemptResult, filtered map[string]int32, maxN int) []example {
	sort.Slice(kept, func(i, j int) bool { return kept[i].idx < kept[j].idx })
	seen := map[string]bool{}
	var out []example
	for _, k := range kept {
		if len(out) >= maxN {
			break
		}
		key := strings.Join(words(k.qa.Question), " ")
		if seen[key] {
			filtered["duplicate"]++
			continue
		}
		seen[key] = true
		out = append(out, qaExample(k.qa.Question, k.qa.Answer, k.chunk.Text, k.chunk.DocumentID))
	}
	return out
}

var numberRe = regexp.MustCompile(`\d+(?:[.,]\d+)*`)

var refusals = []string{"not mentioned", "not stated", "no information", "cannot be determined", "does not say", "unknown", "n/a"}

// rejectQA returns the filter a pair fails, or "" to keep it. The answer must
// be supported by the passage: every number in it appears there and most of
// its words do.
func rejectQA(qa QA, passage string) string {
	q, a := words(qa.Question), words(qa.Answer)
	switch {
	case len(q) < 3 || len(q) > 40 || len(a) == 0 || len(a) > 40:
		return "length"
	}
	la := strings.ToLower(qa.Answer)
	for _, r := range refusals {
		if strings.Contains(la, r) {
			return "unanswerable"
		}
	}
	if !strings.HasSuffix(strings.TrimSpace(qa.Question), "?") {
		return "not_a_question"
	}
	pw := map[string]bool{}
	for _, w := range words(passage) {
		pw[w] = true
	}
	for _, n := range numberRe.FindAllString(qa.Answer, -1) {
		if !strings.Contains(passage, n) {
			return "unsupported"
		}
	}
	hit := 0
	for _, w := range a {
		if pw[w] {
			hit++
		}
	}
	if float64(hit)/float64(len(a)) < 0.75 {
		return "unsupported"
	}
	// An answer the question already contains teaches nothing.
	qw := map[string]bool{}
	for _, w := range q {
		qw[w] = true
	}
	inQ := 0
	for _, w := range a {
		if qw[w] {
			inQ++
		}
	}
	if inQ == len(a) {
		return "answer_in_question"
	}
	// The question must be about the passage (the answer's sentence when
	// known): at least two of its content words come from it (a small model
	// otherwise parrots its few-shot examples).
	about := pw
	if qa.Sentence != "" {
		about = map[string]bool{}
		for _, w := range words(qa.Sentence) {
			about[w] = true
		}
	}
	shared := 0
	for _, w := range q {
		if len(w) > 3 && !stopWords[w] && about[w] {
			shared++
		}
	}
	if shared < 2 {
		return "off_topic"
	}
	return ""
}

// stopWords are ignored when checking that a question is about its passage.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields("what which when where were there their this that these those with from have does about into your they will would could should than then them been being quarter year") {
		stopWords[w] = true
	}
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '%' && r != '$'
	})
}
