package ask

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	agentsv1 "github.com/pdfqa/pdfqa/gen/pdfqa/agents/v1"
	retrievalv1 "github.com/pdfqa/pdfqa/gen/pdfqa/retrieval/v1"
)

// MaxImageBytes is the largest page image sent to the model (the inference
// service refuses larger ones); bigger renders are skipped.
const MaxImageBytes = 8 << 20

// PageRef is one page of a document, with its citation label.
type PageRef struct {
	DocumentID string
	Page       int
	Label      string
}

// PageImage is a rendered page.
type PageImage struct {
	PageRef
	Image Image
}

// visual reports whether a passage comes from a table, an OCR'd page (a
// scan or figure whose text was recognised) or a page holding images
// (figures, charts): what an image shows better than the extracted text.
func visual(p *retrievalv1.Passage) bool {
	switch p.GetKind() {
	case retrievalv1.PassageKind_PASSAGE_KIND_TABLE, retrievalv1.PassageKind_PASSAGE_KIND_OCR:
		return true
	}
	return p.GetPageImages() > 0
}

// VisualPages picks the pages worth showing a vision model: the distinct
// pages of the evidence passages (best first) that hold table rows, OCR
// text or images, at most n.
func VisualPages(evs []*agentsv1.Evidence, n int) []PageRef {
	var out []PageRef
	seen := map[PageRef]bool{}
	for _, ev := range evs {
		if len(out) >= n {
			break
		}
		p := ev.GetPassage()
		if !visual(p) || p.GetDocumentId() == "" || p.GetPage() <= 0 {
			continue
		}
		ref := PageRef{DocumentID: p.GetDocumentId(), Page: int(p.GetPage()), Label: Label(p)}
		if seen[ref] {
			continue
		}
		seen[ref] = true
		out = append(out, ref)
	}
	return out
}

// Illustrator renders evidence pages for a vision model. Rendering is best
// effort: a page that fails (error, deadline, too large) is logged and
// left out, and the answer goes on with the pages that rendered, or text only.
type Illustrator struct {
	Pages      PageRenderer
	Collection string
	Timeout    time.Duration // per page
	Log        *slog.Logger
}

// Render renders pages concurrently, keeping their order, and returns notes
// for the scratchpad.
func (il Illustrator) Render(ctx context.Context, pages []PageRef) ([]PageImage, []string) {
	type result struct {
		png []byte
		err error
	}
	res := make([]result, len(pages))
	var wg sync.WaitGroup
	for i, pg := range pages {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, il.Timeout)
			defer cancel()
			png, err := il.Pages.RenderPage(rctx, il.Collection, pg.DocumentID, pg.Page)
			if err == nil && len(png) == 0 {
				err = fmt.Errorf("empty image")
			}
			if err == nil && len(png) > MaxImageBytes {
				err = fmt.Errorf("image is %d bytes (max %d)", len(png), MaxImageBytes)
			}
			res[i] = result{png, err}
		}()
	}
	wg.Wait()
	var out []PageImage
	var notes []string
	for i, pg := range pages {
		if err := res[i].err; err != nil {
			il.Log.WarnContext(ctx, "rendering evidence page for the vision model; answering without it",
				slog.String("collection", il.Collection), slog.String("document_id", pg.DocumentID),
				slog.Int("page", pg.Page), slog.Any("err", err))
			notes = append(notes, fmt.Sprintf("vision: page %s not rendered, left out: %v", pg.Label, err))
			continue
		}
		out = append(out, PageImage{PageRef: pg, Image: Image{Data: res[i].png, MIMEType: "image/png"}})
		notes = append(notes, fmt.Sprintf("vision: page %s attached (%d bytes)", pg.Label, len(res[i].png)))
	}
	return out, notes
}

// pageImages returns the images of the visual evidence pages when the model
// accepts images, nil otherwise (no page is rendered then).
func (e *Engine) pageImages(ctx context.Context, collection string, evs []*agentsv1.Evidence, note func(...string)) []PageImage {
	if e.MaxImages <= 0 {
		return nil
	}
	vl, ok := e.LLM.(VisionLLM)
	if !ok {
		return nil
	}
	renderer := e.Pages
	if renderer == nil {
		renderer, _ = e.Search.(PageRenderer)
	}
	if renderer == nil {
		return nil
	}
	pages := VisualPages(evs, e.MaxImages)
	if len(pages) == 0 {
		return nil
	}
	log := e.Log
	if log == nil {
		log = slog.Default()
	}
	vision, err := vl.Vision(ctx)
	if err != nil {
		log.WarnContext(ctx, "asking whether the model accepts images; answering text only", slog.Any("err", err))
		note("vision: model info unavailable, text only: " + err.Error())
		return nil
	}
	if !vision {
		return nil
	}
	imgs, notes := Illustrator{Pages: renderer, Collection: collection, Timeout: e.RenderTimeout, Log: log}.Render(ctx, pages)
	note(notes...)
	return imgs
}
