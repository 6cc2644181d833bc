// Package evalfile is the two files of an evaluation, in the formats the
// shared data set's tools/score_qa.py reads: the questions CSV (a Question
// column) and the results JSONL (one Result a line). `pdfqa eval` writes
// answers with their passages; bench/retrieval's searcheval writes
// passages only, with empty answers.
package evalfile

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Result is one line of a results JSONL. The first six fields are
// score_qa.py's; the others are diagnostics it passes over, left out when
// empty.
type Result struct {
	Question  string     `json:"question"`
	Answer    string     `json:"answer"`
	Citations []Citation `json:"citations"`
	Passages  []Passage  `json:"passages"`
	LatencyMs float64    `json:"latency_ms"`
	Degraded  bool       `json:"degraded"`

	RunID     string             `json:"run_id,omitempty"`
	Error     string             `json:"error,omitempty"`
	Support   float32            `json:"support_score,omitempty"`
	Plan      int                `json:"sub_questions,omitempty"`
	Timings   map[string]float64 `json:"timings_ms,omitempty"`
	PromptSet string             `json:"prompt_set,omitempty"`
}

// NewResult is a result for question with no answer, citations or
// passages yet: the lists are empty, not null, as score_qa.py expects.
func NewResult(question string) Result {
	return Result{Question: question, Citations: []Citation{}, Passages: []Passage{}}
}

// Citation is a document and page an answer cites.
type Citation struct {
	Document string `json:"document"`
	Page     int    `json:"page"`
}

// Passage is one passage of evidence, best first.
type Passage struct {
	Document string  `json:"document"`
	Page     int     `json:"page"`
	Text     string  `json:"text"`
	Score    float64 `json:"score"`
}

// Score32 is a score the API carries as a float32, as the float64 that
// JSON writes with float32's digits (0.8123, not 0.8123000264167786).
func Score32(s float32) float64 {
	f, _ := strconv.ParseFloat(strconv.FormatFloat(float64(s), 'g', -1, 32), 64)
	return f
}

// Writer writes results, one JSON line each; it is safe for concurrent
// use.
type Writer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

// NewWriter writes result lines to w.
func NewWriter(w io.Writer) *Writer { return &Writer{enc: json.NewEncoder(w)} }

// Write writes r as one line.
func (w *Writer) Write(r Result) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.enc.Encode(r)
}

// ReadQuestions reads the Question column of the CSV file at path (the
// header is matched without regard to case, a byte-order mark or spaces;
// rows may have fewer fields than the header). Questions are trimmed; an
// empty one is passed over.
func ReadQuestions(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qs, err := readQuestions(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return qs, nil
}

func readQuestions(r io.Reader) ([]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("empty: no header row")
	}
	if err != nil {
		return nil, err
	}
	col := -1
	for i, h := range head {
		if strings.EqualFold(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")), "question") {
			col = i
			break
		}
	}
	if col < 0 {
		return nil, fmt.Errorf("no Question column in the header %q", head)
	}
	var qs []string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return qs, nil
		}
		if err != nil {
			return nil, err
		}
		if col < len(rec) {
			if q := strings.TrimSpace(rec[col]); q != "" {
				qs = append(qs, q)
			}
		}
	}
}
