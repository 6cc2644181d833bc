package trainer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// SystemPrompt is the system message examples are rendered with; the worker
// uses the same text (pdfqa_trainer/data.py SYSTEM_PROMPT).
const SystemPrompt = "Answer the question using only the context. Be brief and exact."

// Splits are the dataset files, in manifest order.
var Splits = []string{"train", "validation", "test"}

// message is one chat turn.
type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// example is one dataset line as the worker reads it.
type example struct {
	Messages   []message `json:"messages"`
	DocumentID string    `json:"document_id,omitempty"`
}

func qaExample(question, answer, context, doc string) example {
	user := strings.TrimSpace(question)
	if c := strings.TrimSpace(context); c != "" {
		user = "Context:\n" + c + "\n\nQuestion: " + user
	}
	return example{Messages: []message{
		{Role: "system", Content: SystemPrompt},
		{Role: "user", Content: user},
		{Role: "assistant", Content: strings.TrimSpace(answer)},
	}, DocumentID: doc}
}

// parseImport reads user JSONL: {"messages": [...]} or {"question",
// "answer", "context"} per line (optionally "document_id"). A bad line is
// ErrInvalid naming its line number.
func parseImport(data []byte) ([]example, error) {
	var out []example
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		ex, err := parseRecord(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrInvalid, n, err)
		}
		out = append(out, ex)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: line %d: %v", ErrInvalid, n+1, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no examples in the JSONL", ErrInvalid)
	}
	return out, nil
}

func parseRecord(line []byte) (example, error) {
	var rec struct {
		Messages   []message `json:"messages"`
		Question   *string   `json:"question"`
		Answer     *string   `json:"answer"`
		Context    string    `json:"context"`
		DocumentID string    `json:"document_id"`
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&rec); err != nil {
		return example{}, fmt.Errorf("invalid JSON: %v", err)
	}
	if rec.Messages != nil {
		if len(rec.Messages) == 0 {
			return example{}, fmt.Errorf(`"messages" is empty`)
		}
		user := false
		for i, m := range rec.Messages {
			switch m.Role {
			case "system", "assistant":
			case "user":
				user = true
			default:
				return example{}, fmt.Errorf("message %d has role %q (want system, user or assistant)", i, m.Role)
			}
		}
		last := rec.Messages[len(rec.Messages)-1]
		if !user || last.Role != "assistant" || strings.TrimSpace(last.Content) == "" {
			return example{}, fmt.Errorf("need a user message and a final non-empty assistant answer")
		}
		return example{Messages: rec.Messages, DocumentID: rec.DocumentID}, nil
	}
	if rec.Question == nil || rec.Answer == nil || strings.TrimSpace(*rec.Question) == "" || strings.TrimSpace(*rec.Answer) == "" {
		return example{}, fmt.Errorf(`need "messages" or non-empty "question" and "answer"`)
	}
	return qaExample(*rec.Question, *rec.Answer, rec.Context, rec.DocumentID), nil
}

// docKey groups examples for splitting: the document id, else the context
// (examples about one passage stay together), else the example itself.
func docKey(ex example, i int) string {
	if ex.DocumentID != "" {
		return ex.DocumentID
	}
	for _, m := range ex.Messages {
		if m.Role == "user" {
			if c, _, ok := strings.Cut(m.Content, "\n\nQuestion: "); ok {
				s := sha256.Sum256([]byte(c))
				return "ctx-" + hex.EncodeToString(s[:8])
			}
		}
	}
	return fmt.Sprintf("example-%d", i)
}

// splitByDocument assigns whole documents to test, then validation, then
// train, in a seeded random order, so no document is in two splits. Train
// always gets a document; test and validation get one when there are enough.
func splitByDocument(exs []example, valFrac, testFrac float32, seed int64) map[string][]example {
	if valFrac <= 0 {
		valFrac = 0.1
	}
	if testFrac <= 0 {
		testFrac = 0.1
	}
	groups := map[string][]example{}
	var keys []string
	for i, ex := range exs {
		k := docKey(ex, i)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], ex)
	}
	sort.Strings(keys)
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	out := map[string][]example{}
	total := float32(len(exs))
	i := 0
	// Each split takes whole documents until it holds its fraction, leaving
	// at least one document for train.
	take := func(split string, frac float32) {
		for i < len(keys)-1 && (len(out[split]) == 0 || float32(len(out[split])) < frac*total) {
			out[split] = append(out[split], groups[keys[i]]...)
			i++
		}
	}
	take("test", testFrac)
	take("validation", valFrac)
	for ; i < len(keys); i++ {
		out["train"] = append(out["train"], groups[keys[i]]...)
	}
	return out
}

// writeDataset writes a new dataset's split files, then records it (its
// manifest; with the shared store the files go to the bucket first) and
// returns it.
func (s *Service) writeDataset(ctx context.Context, d *trainerv1.Dataset, splits map[string][]example) (*trainerv1.Dataset, error) {
	if err := s.writeSplits(d, splits); err != nil {
		return nil, err
	}
	if err := s.recordDataset(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// writeSplits writes d's split files in the store's directory and sets its
// path, sha256s and counts.
func (s *Service) writeSplits(d *trainerv1.Dataset, splits map[string][]example) error {
	dir := s.store.datasetDir(d.GetId())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d.Path, d.Sha256, d.Counts = dir, map[string]string{}, &trainerv1.SplitCounts{}
	if d.CreateTime == nil { // a dataset written again (scrubDataset) keeps its own
		d.CreateTime = timestamppb.New(time.Now())
	}
	for _, name := range Splits {
		var buf bytes.Buffer
		for _, ex := range splits[name] {
			b, err := json.Marshal(ex)
			if err != nil {
				return err
			}
			buf.Write(b)
			buf.WriteByte('\n')
		}
		if err := writeFileAtomic(filepath.Join(dir, name+".jsonl"), buf.Bytes()); err != nil {
			return err
		}
		sum := sha256.Sum256(buf.Bytes())
		d.Sha256[name] = hex.EncodeToString(sum[:])
		n := int32(len(splits[name]))
		switch name {
		case "train":
			d.Counts.Train = n
		case "validation":
			d.Counts.Validation = n
		case "test":
			d.Counts.Test = n
		}
	}
	return nil
}

// chatTemplate names the template examples are rendered with: the base
// tokenizer's, read from the dequantized base when it exists.
func (c Config) chatTemplate() string {
	b, err := os.ReadFile(filepath.Join(c.BaseDir, "tokenizer_config.json"))
	if err == nil {
		var tc struct {
			ChatTemplate string `json:"chat_template"`
		}
		if json.Unmarshal(b, &tc) == nil && tc.ChatTemplate != "" {
			return tc.ChatTemplate
		}
	}
	if b, err := os.ReadFile(filepath.Join(c.BaseDir, "chat_template.jinja")); err == nil {
		return string(b)
	}
	return "tokenizer.chat_template of " + filepath.Base(c.BaseGGUF)
}
