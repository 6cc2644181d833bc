package mesh

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/pdfqa/pdfqa/platform/testenv"
)

// The browser test drives Debian's chromium (scripts/setup/system.sh
// installs it) through the web UI of a whole mesh: upload, READY, a
// streamed answer, the citation viewer's highlights on one and on two
// pages, a bad PDF's error. The PDF and chromium are required under CI
// (platform/testenv). Screenshots go to $PDFQA_UI_SHOTS (relative to the
// repository root; docs/webui is what the README shows), else to a
// temporary folder.

const webuiDoc = "Q1 2022 Snowflake Inc. Earnings Call - Snowflake Inc - BamSEC.pdf"

type rect struct{ X0, Y0, X1, Y1 float64 }

func (a rect) overlap(b rect) float64 { // intersection over the smaller area
	w := math.Min(a.X1, b.X1) - math.Max(a.X0, b.X0)
	h := math.Min(a.Y1, b.Y1) - math.Max(a.Y0, b.Y0)
	if w <= 0 || h <= 0 {
		return 0
	}
	small := math.Min((a.X1-a.X0)*(a.Y1-a.Y0), (b.X1-b.X0)*(b.Y1-b.Y0))
	return w * h / small
}

// shown is what the viewer draws: per page its canvas and highlights.
type shown struct {
	Chunk string
	Pages []struct {
		Page    int
		WidthPt float64
		Canvas  rect
		Hls     []rect
	}
}

const readViewer = `(() => {
  const r = (e) => { const b = e.getBoundingClientRect(); return {X0: b.left, Y0: b.top, X1: b.right, Y1: b.bottom}; };
  return { Chunk: document.getElementById("viewer").dataset.chunkId,
    Pages: [...document.querySelectorAll("#viewer .page")].map((p) => ({ Page: +p.dataset.page, WidthPt: +p.dataset.widthPt,
      Canvas: r(p.querySelector("canvas")), Hls: [...p.querySelectorAll(".hl")].map(r) })) };
})()`

type box struct {
	Page           int
	X0, Y0, X1, Y1 float64
}

type chunk struct {
	ChunkID    string `json:"chunk_id"`
	DocumentID string `json:"document_id"`
	Page       int    `json:"page"`
	PageEnd    int    `json:"page_end"`
	Text       string `json:"text"`
	Boxes      []box  `json:"boxes"`
}

// checkHighlights asserts every box of c is drawn on its page by a
// highlight that covers it, in the canvas's coordinates.
func checkHighlights(t *testing.T, v shown, c chunk) {
	t.Helper()
	if v.Chunk != c.ChunkID {
		t.Errorf("viewer shows chunk %q, want %q", v.Chunk, c.ChunkID)
	}
	for _, b := range c.Boxes {
		found := false
		for _, p := range v.Pages {
			if p.Page != b.Page {
				continue
			}
			found = true
			s := (p.Canvas.X1 - p.Canvas.X0) / p.WidthPt
			want := rect{p.Canvas.X0 + b.X0*s, p.Canvas.Y0 + b.Y0*s, p.Canvas.X0 + b.X1*s, p.Canvas.Y0 + b.Y1*s}
			best := 0.0
			for _, hl := range p.Hls {
				best = math.Max(best, hl.overlap(want))
			}
			if best < 0.9 {
				t.Errorf("page %d: box %+v (at %+v on screen) covered %.2f by highlights %+v", b.Page, b, want, best, p.Hls)
			}
		}
		if !found {
			t.Errorf("page %d of chunk %s not shown (pages %+v)", b.Page, c.ChunkID, v.Pages)
		}
	}
}

func TestWebUIEndToEndInChromium(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "chromium not found: install Debian's chromium (scripts/setup/system.sh, run by make test)")
	}
	pdf := testenv.Data(t, "dev", "earnings-calls", webuiDoc) // absolute: the browser's cwd is not ours
	bad := filepath.Join(t.TempDir(), "broken.pdf")
	if err := os.WriteFile(bad, []byte("this is not a PDF\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("PDFQA_UI_SHOTS")
	switch {
	case shots == "":
		shots = t.TempDir()
	case !filepath.IsAbs(shots):
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		shots = filepath.Join(root, shots)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	m := StartForTest(t, UpOptions{Data: t.TempDir(), HTTPAddr: "127.0.0.1:0", LogLevel: "error"})
	base := "http://" + m.Gateway().HTTPAddr
	getJSON := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+m.AdminKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %s", path, resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if i > 600 {
			t.Fatal("/healthz never 200")
		}
		time.Sleep(100 * time.Millisecond)
	}

	actx, acancel := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.WindowSize(1280, 900))...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer bcancel()
	if err := chromedp.Do(bctx); err != nil { // starts the browser
		t.Fatal(err)
	}
	run := func(step string, acts ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		limit := 2 * time.Minute // the ingestion and the answer wait longer, in their polls
		if step == "ingest" || step == "ask" {
			limit = 6 * time.Minute
		}
		sctx, c := context.WithTimeout(bctx, limit)
		defer c()
		if err := chromedp.Do(sctx, acts...); err != nil {
			fctx, c := context.WithTimeout(bctx, 10*time.Second)
			defer c()
			if b, serr := chromedp.Run(fctx, chromedp.CaptureScreenshot()); serr == nil {
				_ = os.WriteFile(filepath.Join(shots, "failed.png"), b, 0o644)
			}
			t.Fatalf("%s: %v (screenshot in %s)", step, err, shots)
		}
	}
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			b, err := chromedp.CaptureScreenshot()(ctx, tg)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(shots, name), b, 0o644)
		})
	}
	hash := func(h string) chromedp.Action[chromedp.Void] { // same-document navigation: no load event to wait for
		return void(chromedp.Evaluate[string](fmt.Sprintf("location.hash = %q", h)))
	}
	const viewerDone = `["true", "failed"].includes((document.querySelector("#viewer .pages") || {dataset: {}}).dataset.rendered)`
	rendered := func() chromedp.Action[chromedp.Void] { // fails with the viewer's own message
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			msg, err := chromedp.Evaluate[string](`(() => { const p = document.querySelector("#viewer .pages");
			  return p.dataset.rendered === "true" ? "" : p.textContent; })()`)(ctx, tg)
			if err == nil && msg != "" {
				err = fmt.Errorf("viewer: %s", msg)
			}
			return err
		})
	}
	poll := func(expr string, timeout time.Duration) chromedp.Action[chromedp.Void] {
		return void(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	}

	// First load: the app alone, PDF.js and its worker not fetched.
	type res struct {
		Name     string
		Transfer float64
	}
	var first []res
	run("first load", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("new-coll")),
		into(&first, `[performance.getEntriesByType("navigation")[0], ...performance.getEntriesByType("resource")].map((e) => ({Name: e.name, Transfer: e.transferSize}))`))
	var firstBytes float64
	for _, r := range first {
		firstBytes += r.Transfer
		if strings.Contains(r.Name, "pdf.worker") || strings.Contains(r.Name, "/viewer-") {
			t.Errorf("first load fetched %s", r.Name)
		}
	}
	t.Logf("first load of /: %.0f bytes transferred in %d requests", firstBytes, len(first))
	if firstBytes > 1.5e6 || firstBytes == 0 {
		t.Errorf("first load transferred %.0f bytes, budget 1.5 MB", firstBytes)
	}

	// The mesh has identities on: the UI asks for a key, keeps it for the
	// tab, and then lists the collections.
	if m.AdminKey == "" {
		t.Fatal("the mesh runs without API keys")
	}
	var stored string
	run("sign in", poll(`document.querySelector("details.key").open && document.activeElement.id === "apikey"`, 30*time.Second),
		chromedp.SetValue(chromedp.ID("apikey"), m.AdminKey), chromedp.Click(chromedp.CSS(`#keyform button`)),
		poll(`!document.querySelector("details.key").open && !!document.querySelector("#main .muted, #main table")`, 30*time.Second),
		into(&stored, `sessionStorage.getItem("pdfqa.apiKey") + "|" + localStorage.length`))
	if stored != m.AdminKey+"|0" {
		t.Errorf("key storage %q, want the key in session storage only", stored)
	}

	// A collection, one real PDF and one bad file: READY and its error.
	run("create collection", chromedp.SetValue(chromedp.ID("new-coll"), "webui"), chromedp.Click(chromedp.CSS(`#main form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("files")), chromedp.SetUploadFiles(chromedp.ID("files"), []string{pdf, bad}))
	state := func(name string) string {
		return fmt.Sprintf(`(document.querySelector(%q) || {dataset: {}}).dataset.state`, fmt.Sprintf(`li[data-name=%q]`, name))
	}
	run("ingest", poll(state(webuiDoc)+` === "READY" && `+state("broken.pdf")+` === "FAILED"`, 3*time.Minute))
	var docs struct {
		Documents []struct{ ID, Name, Error string }
	}
	getJSON("/v1/collections/webui/documents", &docs)
	var docID, badErr string
	for _, d := range docs.Documents {
		switch d.Name {
		case webuiDoc:
			docID = d.ID
		case "broken.pdf":
			badErr = d.Error
		}
	}
	var shownErr string
	run("bad file's error", into(&shownErr, `document.querySelector('li[data-name="broken.pdf"] .msg').textContent`))
	if badErr == "" || !strings.Contains(shownErr, badErr) {
		t.Errorf("bad PDF shows %q, want its error %q", shownErr, badErr)
	}
	run("documents table", poll(fmt.Sprintf(`!!document.querySelector('tr[data-id=%q]')`, docID), 10*time.Second), shot("upload.png"))

	// A streamed answer: the text grows in several steps, then citations.
	run("ask", hash("#/ask?collection=webui"), chromedp.WaitVisible(chromedp.ID("question")),
		poll(`document.querySelector("#ask-coll").value === "webui"`, 10*time.Second),
		chromedp.SetValue(chromedp.ID("ask-mode"), "ASK_MODE_SINGLE_SHOT"),
		chromedp.SetValue(chromedp.ID("question"), "What was product revenue growth in Q1?"),
		void(chromedp.Evaluate[bool](`window.lens = []; new MutationObserver(() => { const a = document.getElementById("answer");
		  if (a && a.dataset.state === "streaming" && a.textContent.length !== window.lens.at(-1)) window.lens.push(a.textContent.length); })
		  .observe(document.getElementById("main"), {subtree: true, childList: true, characterData: true}); true`)),
		chromedp.Click(chromedp.CSS(`#main form button[type=submit]`)),
		poll(`["done", "failed"].includes((document.getElementById("answer") || {dataset: {}}).dataset.state)`, 5*time.Minute))
	var lens []int
	var ansState string
	run("answer", into(&lens, `window.lens`), into(&ansState, `document.getElementById("answer").dataset.state`),
		poll(`document.querySelectorAll(".chips button.cite").length > 0`, 30*time.Second), shot("answer.png"))
	if ansState != "done" {
		t.Fatalf("answer state %q", ansState)
	}
	grew := 0
	for i := range lens {
		if lens[i] > 0 && (i == 0 || lens[i] > lens[i-1]) {
			grew++
		}
	}
	if grew < 3 {
		t.Errorf("answer grew in %d steps (lengths %v), want at least 3", grew, lens)
	}

	// The first citation opens its page with the passage's boxes lit.
	var runs struct {
		Runs []struct {
			ID        string
			Citations []struct {
				DocumentID string `json:"document_id"`
				Page       int
			}
		}
	}
	getJSON("/v1/runs?limit=1", &runs)
	if len(runs.Runs) == 0 || len(runs.Runs[0].Citations) == 0 {
		t.Fatalf("run has no citations: %+v", runs)
	}
	cit := runs.Runs[0].Citations[0]
	var chunks struct{ Chunks []chunk }
	getJSON("/v1/collections/webui/chunks?page_size=1000&document_id="+url.QueryEscape(docID), &chunks)
	byID := map[string]chunk{}
	for _, c := range chunks.Chunks {
		byID[c.ChunkID] = c
	}
	var v shown
	run("open citation", chromedp.Click(chromedp.CSS(".chips button.cite")),
		poll(viewerDone, time.Minute), rendered(),
		into(&v, readViewer), shot("viewer.png"))
	c, ok := byID[v.Chunk]
	if !ok {
		t.Fatalf("viewer shows chunk %q, not one of the document's", v.Chunk)
	}
	if c.DocumentID != cit.DocumentID || cit.Page < c.Page || cit.Page > max(c.Page, c.PageEnd) {
		t.Errorf("citation %+v opened chunk %s (pages %d-%d)", cit, c.ChunkID, c.Page, c.PageEnd)
	}
	checkHighlights(t, v, c)
	var after []res
	run("worker loaded", poll(`performance.getEntriesByType("resource").some((e) => e.name.includes("pdf.worker"))`, 30*time.Second),
		into(&after, `performance.getEntriesByType("resource").map((e) => ({Name: e.name, Transfer: e.transferSize}))`))
	var viewerBytes float64
	for _, r := range after[len(first)-1:] {
		if !strings.Contains(r.Name, "/v1/") {
			viewerBytes += r.Transfer
		}
	}
	t.Logf("opening the viewer: %.0f bytes of assets transferred (PDF.js and its worker)", viewerBytes)

	// Keyboard: the next citation with the arrow key, Escape closes.
	var pos string
	run("keyboard", chromedp.KeyEvent(kb.ArrowRight), into(&pos, `document.querySelector("#viewer .vbar .muted").textContent`))
	if len(runs.Runs[0].Citations) > 1 && !strings.HasPrefix(pos, "2 of") {
		t.Errorf("after the right arrow the viewer is at %q, want the second citation", pos)
	}

	// A passage over two pages is lit on both.
	var two chunk
	for _, c := range chunks.Chunks {
		pages := map[int]bool{}
		for _, b := range c.Boxes {
			pages[b.Page] = true
		}
		if c.PageEnd > c.Page && len(pages) >= 2 {
			two = c
			break
		}
	}
	if two.ChunkID == "" {
		t.Fatal("no chunk of the document spans two pages")
	}
	v = shown{}
	run("two-page passage", chromedp.KeyEvent(kb.Escape), poll(`document.getElementById("viewer").hidden`, 5*time.Second),
		hash("#/c/webui"), chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-label=%q]`, "Chunks of "+webuiDoc))),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`li[data-chunk-id=%q] button`, two.ChunkID))),
		poll(viewerDone, time.Minute), rendered(),
		into(&v, readViewer), shot("two-pages.png"))
	if len(v.Pages) < 2 {
		t.Errorf("two-page passage %s shows %d pages", two.ChunkID, len(v.Pages))
	}
	for _, p := range v.Pages {
		if len(p.Hls) == 0 {
			t.Errorf("page %d of the two-page passage has no highlight", p.Page)
		}
	}
	checkHighlights(t, v, two)

	// Run history: the run reopens with the same answer and the same
	// highlights for its first citation.
	v = shown{}
	run("reopen the run", chromedp.KeyEvent(kb.Escape), hash("#/runs/"+url.PathEscape(runs.Runs[0].ID)),
		poll(`document.querySelectorAll(".chips button.cite").length > 0`, 30*time.Second),
		chromedp.Click(chromedp.CSS(".chips button.cite")), poll(viewerDone, time.Minute), rendered(),
		into(&v, readViewer))
	checkHighlights(t, v, c)

	// Mesh status: every service serving, the gateway's breakers closed.
	var status struct {
		Serving  bool
		Breakers map[string]string
	}
	run("mesh status", chromedp.KeyEvent(kb.Escape), hash("#/status"),
		poll(`document.querySelectorAll("#breakers tr[data-downstream]").length > 0`, 30*time.Second),
		into(&status, `({Serving: document.querySelector("#main p.ok") !== null,
		  Breakers: Object.fromEntries([...document.querySelectorAll("#breakers tr[data-downstream]")].map((r) => [r.dataset.downstream, r.cells[1].textContent]))})`),
		shot("status.png"))
	if !status.Serving {
		t.Error("the status page does not say every service is serving")
	}
	for _, want := range []string{"agents", "retrieval"} { // the gateway has called both by now
		if status.Breakers[want] != "closed" {
			t.Errorf("breaker of %s: %q, want closed (all: %v)", want, status.Breakers[want], status.Breakers)
		}
	}

	// Phone width: nothing wider than the screen.
	var overflow bool
	run("phone width", chromedp.KeyEvent(kb.Escape), chromedp.EmulateViewport(390, 844),
		hash("#/ask?collection=webui"), chromedp.WaitVisible(chromedp.ID("question")),
		into(&overflow, `document.documentElement.scrollWidth > window.innerWidth + 1`), shot("phone.png"))
	if overflow {
		t.Error("the ask page scrolls sideways at 390 px")
	}
}

// void drops an action's value, so it runs among the steps of chromedp.Do.
func void[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}

// into evaluates expr in the page and stores its value in v.
func into[T any](v *T, expr string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		x, err := chromedp.Evaluate[T](expr)(ctx, t)
		*v = x
		return chromedp.Void{}, err
	}
}
