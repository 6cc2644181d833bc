package mesh

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pdfqa/pdfqa/platform/testenv"
	"github.com/pdfqa/pdfqa/services/gateway/webui"
)

// instantAsk is a REST front whose /v1/ask streams its first answer token
// at once, so a time to first token measures the client alone.
func instantAsk() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/collections":
			_, _ = io.WriteString(w, `{"collections":[{"name":"bench"}]}`)
		case "/v1/ask":
			_, _ = io.Copy(io.Discard, r.Body)
			f := w.(http.Flusher)
			_, _ = io.WriteString(w, `{"result":{"run_id":"r1","plan":{"sub_questions":[{"id":"q1","question":"q"}],"source":"single-shot"}}}`+"\n")
			for _, d := range []string{"Product", " revenue", " grew", " 110%."} {
				_, _ = fmt.Fprintf(w, `{"result":{"run_id":"r1","answer_delta":%q}}`+"\n", d)
				f.Flush()
			}
			_, _ = io.WriteString(w, `{"result":{"run_id":"r1","run":{"id":"r1","status":"RUN_STATUS_SUCCEEDED","answer":"Product revenue grew 110%."}}}`+"\n")
		default:
			http.NotFound(w, r)
		}
	})
}

// TestWebUIFirstTokenOverhead: the UI shows the first answer token within
// 100 ms of a plain REST client reading it from the same stream (the issue's
// budget against the CLI; the model's own time is the same for both and is
// left out by a backend that answers at once).
func TestWebUIFirstTokenOverhead(t *testing.T) {
	chrome, err := exec.LookPath("chromium")
	if err != nil {
		testenv.Missing(t, "chromium not found: install Debian's chromium (scripts/setup/system.sh, run by make test)")
	}
	srv := httptest.NewServer(webui.Mount(instantAsk()))
	defer srv.Close()
	const n = 15

	var client []time.Duration
	for range n {
		t0 := time.Now()
		resp, err := http.Post(srv.URL+"/v1/ask", "application/json", strings.NewReader(`{"collection":"bench","question":"q"}`))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() && !strings.Contains(sc.Text(), "answer_delta") {
		}
		client = append(client, time.Since(t0))
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	actx, acancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox)...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	defer bcancel()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	defer cancel()
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return void(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(5*time.Millisecond)))
	}
	// t0 when the form is submitted, t1 when the first token is on screen.
	const watch = `document.querySelector("#main form").addEventListener("submit", () => {
	  window.t0 = performance.now(); window.t1 = 0;
	  const o = new MutationObserver(() => { const a = document.getElementById("answer");
	    if (a && a.textContent && !window.t1) { window.t1 = performance.now(); o.disconnect(); } });
	  o.observe(document.getElementById("main"), {subtree: true, childList: true, characterData: true});
	}, true); true`
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/#/ask?collection=bench"), chromedp.WaitVisible(chromedp.ID("question")),
		poll(`document.querySelector("#ask-coll").value === "bench"`),
		chromedp.SetValue(chromedp.ID("question"), "How much did product revenue grow?"),
		void(chromedp.Evaluate[bool](watch))); err != nil {
		t.Fatal(err)
	}
	var ui []time.Duration
	for range n {
		var ms float64
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#main form button[type=submit]`)),
			poll(`window.t1 > 0 && document.getElementById("answer").dataset.state === "done"`),
			into(&ms, `window.t1 - window.t0`)); err != nil {
			t.Fatal(err)
		}
		ui = append(ui, time.Duration(ms*float64(time.Millisecond)))
	}
	med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	t.Logf("time to first token over %d asks, median: REST client %v, UI (submit to token on screen) %v", n, med(client), med(ui))
	if over := med(ui) - med(client); over > 100*time.Millisecond {
		t.Errorf("the UI shows the first token %v after a REST client reads it, budget 100 ms", over)
	}
}
