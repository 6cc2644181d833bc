package retrieval

import (
	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/retrieval/parse"
)

// DefaultEmbedModel is the inference model ingestion embeds with: the
// static table distilled from MiniLM (the inference service's "static" alias).
const DefaultEmbedModel = "static"

// Settings are retrieval's environment settings.
type Settings struct {
	// EmbedModel is the inference model chunks and queries are embedded
	// with at ingestion ("": the contextual MiniLM engine).
	EmbedModel string
	// RefineModel is the model the background refinement re-embeds READY
	// documents with ("": the contextual engine; "none": no refinement).
	RefineModel string
	// VectorWeight, TableShare and InProcessParse fill the Config fields of
	// the same names when those are zero.
	VectorWeight   float64
	TableShare     float64
	InProcessParse bool
	// MaxPages and MaxOCRPages fill the Config fields of the same names.
	MaxPages, MaxOCRPages int
	// Blobs is the blob bucket's URL with a shared store (PDFQA_STORE).
	Blobs string
}

// ReadSettings reads retrieval's settings through r: the one place they
// are read (and documented).
func ReadSettings(r *config.Reader) Settings {
	set := config.Section("retrieval").Setting
	return Settings{
		EmbedModel: r.String(set("PDFQA_RETRIEVAL_EMBED_MODEL",
			"inference model retrieval embeds chunks and queries with at ingestion; empty: the contextual MiniLM engine (slower ingestion)", ""), DefaultEmbedModel),
		RefineModel: r.String(set("PDFQA_RETRIEVAL_REFINE_MODEL",
			"model the background refinement re-embeds READY documents with; `none`: no refinement", "empty (contextual MiniLM)"), ""),
		VectorWeight: r.Float(set("PDFQA_VECTOR_WEIGHT",
			"weight of the vector list against BM25's 1 in hybrid search (weighted reciprocal rank fusion)", ""), 0.5),
		TableShare: r.Float(set("PDFQA_TABLE_SHARE",
			"share of a search's results kept for table rows when the candidates hold enough of them; negative: none", ""), 0.4),
		Blobs: r.String(set("PDFQA_BLOBS",
			"with `--store`: the bucket for uploaded PDFs, checkpoints and adapters (platform/blobstore: `file:///dir` on a volume every replica mounts, or `s3://BUCKET?endpoint=…&region=…` on S3 or an S3-compatible server, keys from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` or the pod's role); every replica must reach the same one", "`file://<data>/blobs`"), ""),
		InProcessParse: r.Bool(set("PDFQA_PARSE_INPROCESS",
			"`1`: parse PDFs inside the retrieval process instead of supervised worker processes (slower: wazero's per-call interrupt)", "")),
		MaxPages: r.Int(set("PDFQA_MAX_PAGES",
			"a document with more pages fails (`too many pages: 200000 > 5000`) before any page is read", ""), parse.DefaultMaxPages),
		MaxOCRPages: r.Int(set("PDFQA_MAX_OCR_PAGES",
			"pages OCR'd per document; the pages past it that need OCR keep no text and are named in one warning", ""), parse.DefaultMaxOCRPages),
	}
}

// Refines reports whether documents are refined with a second model, and
// which: none when RefineModel is "none" or the ingestion model itself.
func (s Settings) Refines() (string, bool) {
	return s.RefineModel, s.RefineModel != "none" && s.RefineModel != s.EmbedModel
}

// Apply fills c's VectorWeight, TableShare, InProcessParse, MaxPages and
// MaxOCRPages where c leaves them unset (a positive weight, a non-zero
// share, positive limits).
func (s Settings) Apply(c *Config) {
	if c.VectorWeight <= 0 && s.VectorWeight > 0 {
		c.VectorWeight = s.VectorWeight
	}
	if c.TableShare == 0 {
		c.TableShare = s.TableShare
	}
	c.InProcessParse = c.InProcessParse || s.InProcessParse
	if c.MaxPages <= 0 {
		c.MaxPages = s.MaxPages
	}
	if c.MaxOCRPages <= 0 {
		c.MaxOCRPages = s.MaxOCRPages
	}
}
