package trainer

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
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
}

// QAGenerator writes question/answer pairs about a passage (inference
// Generate with a JSON schema); Settings describe it for the manifest.
type QAGenerator interface {
	Generate(ctx context.Context, passage string, seed int64) (QA, error)
	Settings() map[string]string
}

// QASchema constrains generation to one {question, answer} object.
const QASchema = `{"type":"object","properties":{"question":{"type":"string"},"answer":{"type":"string"}},"required":["question","answer"]}`

// QAPrompt asks for one grounded pair; version it in the manifest when it changes.
const QAPrompt = "Read the passage and write one question that the passage answers, and its short answer " +
	"copied from the passage (a number, name or phrase). Reply as JSON with \"question\" and \"answer\".\n\nPassage:\n"

// QAPromptVersion identifies QAPrompt in manifests.
const QAPromptVersion = "qa-v1"

// buildSettings bound generation work.
type buildSettings struct {
	MaxExamples   int
	PairsPerChunk int
	Seed          int64
}

// buildExamples turns chunks into filtered, grounded examples. filtered
// counts the pairs each filter dropped.
func buildExamples(ctx context.Context, chunks []Chunk, gen QAGenerator, bs buildSettings) ([]example, map[string]int32, error) {
	filtered := map[string]int32{}
	r := rand.New(rand.NewPCG(uint64(bs.Seed), 1))
	order := r.Perm(len(chunks))
	seen := map[string]bool{}
	var out []example
	for _, ci := range order {
		if len(out) >= bs.MaxExamples {
			break
		}
		c := chunks[ci]
		if len(words(c.Text)) < 20 {
			filtered["short_chunk"]++
			continue
		}
		for p := 0; p < bs.PairsPerChunk && len(out) < bs.MaxExamples; p++ {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			qa, err := gen.Generate(ctx, c.Text, bs.Seed+int64(ci*bs.PairsPerChunk+p))
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				filtered["generation_error"]++
				continue
			}
			if reason := rejectQA(qa, c.Text); reason != "" {
				filtered[reason]++
				continue
			}
			key := strings.Join(words(qa.Question), " ")
			if seen[key] {
				filtered["duplicate"]++
				continue
			}
			seen[key] = true
			out = append(out, qaExample(qa.Question, qa.Answer, c.Text, c.DocumentID))
		}
	}
	return out, filtered, nil
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
	return ""
}

func words(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '%' && r != '$'
	})
}

// parseQA reads the generator's JSON reply.
func parseQA(text string) (QA, error) {
	var qa QA
	if err := json.Unmarshal([]byte(strings.TrimSpace(text)), &qa); err != nil {
		return QA{}, fmt.Errorf("generator reply is not the JSON asked for: %v", err)
	}
	return qa, nil
}
