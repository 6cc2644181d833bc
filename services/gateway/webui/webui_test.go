package webui

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func serve(t *testing.T, h http.Handler, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMountServesThePageItsAssetsAndTheAPI: / is the app, what it links to
// is served with its type, and the REST API still answers everything else.
func TestMountServesThePageItsAssetsAndTheAPI(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "api "+r.URL.Path) })
	h := Mount(api)

	r := serve(t, h, "/", nil)
	page := string(body(t, r))
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") || !strings.Contains(page, "<main") {
		t.Fatalf("GET /: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /: headers %v", r.Header)
	}
	links := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(links) != 2 {
		t.Fatalf("index.html links %v, want the app's script and stylesheet", links)
	}
	for _, l := range links {
		a := serve(t, h, l[1], nil)
		b := body(t, a)
		want := map[bool]string{true: "text/css", false: "text/javascript"}[strings.HasSuffix(l[1], ".css")]
		if a.StatusCode != 200 || !strings.HasPrefix(a.Header.Get("Content-Type"), want) || len(b) == 0 {
			t.Errorf("GET %s: %d %q, %d bytes", l[1], a.StatusCode, a.Header.Get("Content-Type"), len(b))
		}
		if !strings.Contains(a.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("GET %s: Cache-Control %q, want immutable (the name carries its hash)", l[1], a.Header.Get("Cache-Control"))
		}
	}
	for _, p := range []string{"/v1/collections", "/healthz", "/openapi.json"} {
		if got := string(body(t, serve(t, h, p, nil))); got != "api "+p {
			t.Errorf("GET %s reached %q, want the API", p, got)
		}
	}
	if r := serve(t, h, "/ui/missing.js", nil); r.StatusCode != 404 {
		t.Errorf("GET /ui/missing.js: %d, want 404", r.StatusCode)
	}
}

// TestAssetsGzip: compressed when asked, and the same bytes once inflated.
func TestAssetsGzip(t *testing.T) {
	h := Handler()
	plain := body(t, serve(t, h, "/", nil))
	r := serve(t, h, "/", map[string]string{"Accept-Encoding": "gzip, br"})
	if r.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", r.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(zr)
	if !bytes.Equal(got, plain) {
		t.Error("gzipped index differs from the plain one")
	}
	if r := serve(t, h, "/", map[string]string{"Accept-Encoding": "gzip;q=0"}); r.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent although refused")
	}
}

// TestPDFjsStaysOutOfTheFirstLoad: the page and what it links to are small
// and hold neither PDF.js nor its worker (the viewer imports them when it
// opens); both are in the bundle for the viewer.
func TestPDFjsStaysOutOfTheFirstLoad(t *testing.T) {
	files := Assets()
	page, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	total := len(page)
	for _, l := range regexp.MustCompile(`(?:src|href)="/(ui/[^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		b, err := fs.ReadFile(files, l[1])
		if err != nil {
			t.Fatal(err)
		}
		total += len(b)
		// static imports of the entry are fetched at first load too
		for _, imp := range regexp.MustCompile(`from"\./([^"]+)"`).FindAllStringSubmatch(string(b), -1) {
			c, err := fs.ReadFile(files, "ui/"+imp[1])
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(c), "GlobalWorkerOptions") {
				t.Errorf("%s, loaded with the page, holds PDF.js", imp[1])
			}
			total += len(c)
		}
		if strings.Contains(string(b), "GlobalWorkerOptions") {
			t.Errorf("%s, loaded with the page, holds PDF.js", l[1])
		}
	}
	if total > 200<<10 {
		t.Errorf("first load is %d bytes uncompressed, want under 200 KiB", total)
	}
	ents, _ := fs.ReadDir(files, "ui")
	var worker, viewer bool
	for _, e := range ents {
		worker = worker || strings.HasPrefix(e.Name(), "pdf.worker-")
		viewer = viewer || strings.HasPrefix(e.Name(), "viewer-")
	}
	if !worker || !viewer {
		t.Errorf("dist/ui lacks the viewer or the PDF.js worker: %v", ents)
	}
}
