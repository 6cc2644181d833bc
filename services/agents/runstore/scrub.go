package runstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// Redacted stands where a run quoted a document that has since been
// deleted.
const Redacted = "[removed: the cited document was deleted]"

// Cited is a document that stored runs quote.
type Cited struct {
	Tenant, Collection, Document string
}

// Scrubber is a run store that can remove a deleted document's text from
// the runs that quote it: deletion means deletion, not a flag on a copy.
type Scrubber interface {
	// Cited lists the documents the stored runs quote (an index each store
	// keeps as it writes runs).
	Cited(ctx context.Context) ([]Cited, error)
	// Scrub removes the text of document c.Document from every finished
	// run of c.Tenant and c.Collection that quotes it (scrubRun) and drops
	// them from the index; a run still RUNNING is left for a later Scrub.
	// It returns how many runs it changed.
	Scrub(ctx context.Context, c Cited) (int, error)
}

var (
	_ Scrubber = (*Store)(nil)
	_ Scrubber = (*Postgres)(nil)
)

// cited lists the documents r quotes: its passages', its evidence's and
// its citations' (the answer's and the claims').
func cited(r *agentsv1.Run) []Cited {
	var docs []string
	for _, p := range runPassages(r) {
		docs = append(docs, p.GetDocumentId())
	}
	for _, c := range runCitations(r) {
		docs = append(docs, c.GetDocumentId())
	}
	slices.Sort(docs)
	docs = slices.Compact(docs)
	out := make([]Cited, 0, len(docs))
	for _, d := range docs {
		if d != "" {
			out = append(out, Cited{Tenant: r.GetTenant(), Collection: r.GetCollection(), Document: d})
		}
	}
	return out
}

func runPassages(r *agentsv1.Run) []*retrievalv1.Passage {
	ps := slices.Clone(r.GetPassages())
	for _, sa := range r.GetSubAnswers() {
		for _, ev := range sa.GetEvidence() {
			if ev.GetPassage() != nil {
				ps = append(ps, ev.GetPassage())
			}
		}
	}
	return ps
}

func runCitations(r *agentsv1.Run) []*agentsv1.Citation {
	cs := slices.Clone(r.GetCitations())
	for _, c := range r.GetVerification().GetClaims() {
		cs = append(cs, c.GetCitations()...)
	}
	return cs
}

// minSnippet is the shortest quoted sentence scrubRun looks for in the
// run's own text: shorter ones ("Revenue") are not the document's.
const minSnippet = 16

// scrubRun removes the text of document doc from r and reports whether it
// changed r. What stays are references: each passage's chunk id, document
// id and name, pages, boxes and kind; each citation's document and page,
// marked document_deleted. What goes: the passages' text, headings and
// document cards, the evidence's extracts, the citations' quotes; the
// answer's sentences that cite doc, and any sentence of doc's passages,
// extract or quote copied into the answer, the sub-answers, the claims or
// the scratchpad, become Redacted; a claim cited only to doc is Redacted.
func scrubRun(r *agentsv1.Run, doc string) bool {
	changed := false
	var quoted []string
	names := map[string]bool{}
	for _, p := range r.GetPassages() {
		if p.GetDocumentId() == doc {
			quoted = append(quoted, scrubPassage(p, names, &changed)...)
		}
	}
	for _, sa := range r.GetSubAnswers() {
		for _, ev := range sa.GetEvidence() {
			if ev.GetPassage().GetDocumentId() != doc {
				continue
			}
			quoted = append(quoted, scrubPassage(ev.GetPassage(), names, &changed)...)
			quoted = append(quoted, ev.GetExtracts()...)
			changed = changed || len(ev.GetExtracts()) > 0
			ev.Extracts = nil
		}
	}
	for _, c := range runCitations(r) {
		if c.GetDocumentId() != doc {
			continue
		}
		if c.GetDocument() != "" {
			names[c.GetDocument()] = true
		}
		quoted = append(quoted, c.GetQuote())
		changed = changed || c.GetQuote() != "" || !c.GetDocumentDeleted()
		c.Quote, c.DocumentDeleted = "", true
	}
	if !changed {
		return false
	}
	var snippets []string
	for _, q := range quoted {
		for _, s := range sentences(q) {
			if len(s) >= minSnippet {
				snippets = append(snippets, s)
			}
		}
	}
	// Longest first, so that a sentence is removed whole before a shorter
	// one inside it.
	slices.SortFunc(snippets, func(a, b string) int { return len(b) - len(a) })
	snippets = slices.Compact(snippets)
	redact := func(s string) string {
		for n := range names {
			s = redactCiting(s, "["+n+" p.")
		}
		for _, q := range snippets {
			s = strings.ReplaceAll(s, q, Redacted)
		}
		return s
	}
	r.Answer = redact(r.GetAnswer())
	r.Scratchpad = redact(r.GetScratchpad())
	for _, sa := range r.GetSubAnswers() {
		sa.Answer = redact(sa.GetAnswer())
	}
	for _, c := range r.GetVerification().GetClaims() {
		only := len(c.GetCitations()) > 0
		for _, ct := range c.GetCitations() {
			only = only && ct.GetDocumentId() == doc
		}
		if only {
			c.Claim = Redacted
		} else {
			c.Claim = redact(c.GetClaim())
		}
	}
	return true
}

// scrubPassage clears p's text and returns what it held (setting
// *changed when there was some); p's document name goes into names.
func scrubPassage(p *retrievalv1.Passage, names map[string]bool, changed *bool) []string {
	if p.GetDocumentName() != "" {
		names[p.GetDocumentName()] = true
	}
	*changed = *changed || p.GetText() != "" || p.GetHeading() != "" || p.GetDocumentCard() != nil
	out := []string{p.GetText(), p.GetHeading()}
	p.Text, p.Heading, p.DocumentCard = "", "", nil
	return out
}

// sentences splits text at sentence ends and line breaks, each trimmed of
// spaces and of its final punctuation (an answer quotes "X was 5" before
// its citation marker, not "X was 5.").
func sentences(text string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		for len(line) > 0 {
			i := strings.IndexAny(line, ".!?")
			for i >= 0 && i+1 < len(line) && line[i+1] != ' ' {
				// Not a sentence end (3.5%, acme.pdf): look further.
				j := strings.IndexAny(line[i+1:], ".!?")
				if j < 0 {
					i = -1
					break
				}
				i += 1 + j
			}
			var s string
			if i < 0 {
				s, line = line, ""
			} else {
				s, line = line[:i], line[i+1:]
			}
			if s = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(s), ".!?;:,")); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// redactCiting replaces each sentence of s that carries a citation marker
// beginning with marker ("[acme.pdf p.") by Redacted.
func redactCiting(s, marker string) string {
	for {
		i := strings.Index(s, marker)
		if i < 0 {
			return s
		}
		start := 0
		for _, sep := range []string{". ", "! ", "? ", "\n"} {
			if j := strings.LastIndex(s[:i], sep); j >= 0 && j+len(sep) > start {
				start = j + len(sep)
			}
		}
		end := len(s)
		if k := strings.Index(s[i:], "]"); k >= 0 {
			rest := i + k + 1
			end = rest + len(s[rest:])
			for _, sep := range []string{". ", "! ", "? ", "\n"} {
				// The sentence's own punctuation goes with it; the space or
				// line break after it stays.
				if j := strings.Index(s[rest:], sep); j >= 0 && rest+j+len(sep)-1 < end {
					end = rest + j + len(sep) - 1
				}
			}
			if strings.TrimRight(s[end:], ".!? ") == "" {
				end = len(s)
			}
		}
		s = s[:start] + Redacted + s[end:]
	}
}

// citedKey is c's key for run id in the file store's index.
func citedKey(c Cited, id string) []byte {
	return []byte(citedPrefix(c) + id)
}

func citedPrefix(c Cited) string {
	return c.Tenant + "\x00" + c.Collection + "\x00" + c.Document + "\x00"
}

// putCited indexes the documents run quotes.
func putCited(tx *bolt.Tx, run *agentsv1.Run) error {
	cb, err := tx.CreateBucketIfNotExists(citedBucket)
	if err != nil {
		return err
	}
	for _, c := range cited(run) {
		if err := cb.Put(citedKey(c, run.GetId()), nil); err != nil {
			return err
		}
	}
	return nil
}

// indexCited builds the index of a file written before it existed.
func (s *Store) indexCited() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(citedBucket) != nil {
			return nil
		}
		if _, err := tx.CreateBucket(citedBucket); err != nil {
			return err
		}
		bk := tx.Bucket(bucket)
		if bk == nil {
			return nil
		}
		return bk.ForEach(func(_, v []byte) error {
			r := &agentsv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			return putCited(tx, r)
		})
	})
}

// Cited implements Scrubber.
func (s *Store) Cited(ctx context.Context) ([]Cited, error) {
	var out []Cited
	err := s.db.View(func(tx *bolt.Tx) error {
		cb := tx.Bucket(citedBucket)
		if cb == nil {
			return nil
		}
		return cb.ForEach(func(k, _ []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			f := strings.SplitN(string(k), "\x00", 4)
			if len(f) != 4 {
				return nil
			}
			c := Cited{Tenant: f[0], Collection: f[1], Document: f[2]}
			if len(out) == 0 || out[len(out)-1] != c {
				out = append(out, c) // keys sort by document, then run
			}
			return nil
		})
	})
	return out, err
}

// Scrub implements Scrubber. bbolt reuses the pages a transaction frees
// without erasing them, so once it has changed a run, Scrub rewrites the
// file without its free pages (bolt.Compact): no copy of the removed text
// is left in it.
func (s *Store) Scrub(ctx context.Context, c Cited) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		cb, bk := tx.Bucket(citedBucket), tx.Bucket(bucket)
		if cb == nil || bk == nil {
			return nil
		}
		prefix := []byte(citedPrefix(c))
		var done [][]byte
		cur := cb.Cursor()
		for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := k[len(prefix):]
			v := bk.Get(id)
			if v == nil {
				done = append(done, bytes.Clone(k)) // purged
				continue
			}
			r := &agentsv1.Run{}
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			if r.GetStatus() == agentsv1.RunStatus_RUN_STATUS_RUNNING {
				continue
			}
			done = append(done, bytes.Clone(k))
			if !scrubRun(r, c.Document) {
				continue
			}
			b, err := proto.Marshal(r)
			if err != nil {
				return err
			}
			if err := bk.Put(bytes.Clone(id), b); err != nil {
				return err
			}
			n++
		}
		for _, k := range done {
			if err := cb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || n == 0 {
		return n, err
	}
	if err := s.db.Compact(); err != nil {
		return n, fmt.Errorf("runstore: %w", err)
	}
	return n, nil
}
