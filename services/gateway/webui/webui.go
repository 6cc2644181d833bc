// Package webui serves pdfqa's web UI: the page at / and its assets under
// /ui/, embedded in the binary (no network, no CDN). The assets in dist/ are
// built from src/ by tools/webui (esbuild, with PDF.js from the pinned
// pdfjs-dist package) and committed; `make check-ui` fails when they are
// stale.
package webui

import (
	"bytes"
	"compress/gzip"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed dist
var dist embed.FS

// Assets returns the built UI: index.html and ui/.
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // dist is embedded at build time
	}
	return sub
}

// csp allows the app's own scripts and PDF.js (its worker, the fonts and
// images it makes from blobs and data URLs), nothing from elsewhere.
const csp = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; connect-src 'self'; " +
	"img-src 'self' data: blob:; font-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Mount serves the UI at / and /ui/ and hands every other request to api.
func Mount(api http.Handler) http.Handler {
	ui := Handler()
	mux := http.NewServeMux()
	mux.Handle("/", api)
	mux.Handle("GET /{$}", ui)
	mux.Handle("GET /ui/", ui)
	return mux
}

// Handler serves the UI's files: / is index.html (revalidated on every
// load), /ui/NAME-HASH.ext are immutable; gzip when the client accepts it.
func Handler() http.Handler {
	files := Assets()
	var mu sync.Mutex
	gz := map[string][]byte{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if name == "" {
			name = "index.html"
		}
		if name != "index.html" && !strings.HasPrefix(name, "ui/") {
			http.NotFound(w, r)
			return
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Type", contentType(name))
		h.Set("X-Content-Type-Options", "nosniff")
		if name == "index.html" {
			h.Set("Cache-Control", "no-cache")
			h.Set("Content-Security-Policy", csp)
			h.Set("Referrer-Policy", "no-referrer")
		} else {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) && compressible(name) {
			mu.Lock()
			z, ok := gz[name]
			if !ok {
				z = gzipped(body)
				gz[name] = z
			}
			mu.Unlock()
			body = z
			h.Set("Content-Encoding", "gzip")
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(body))
	})
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func compressible(name string) bool {
	switch path.Ext(name) {
	case ".html", ".js", ".mjs", ".css", ".txt":
		return true
	}
	return false
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}
