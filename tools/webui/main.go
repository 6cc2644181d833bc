// Command webui builds the gateway's web UI (services/gateway/webui) into
// the assets the gateway embeds: the app's JavaScript and CSS bundled and
// minified by esbuild, with PDF.js from the npm package pdfjs-dist, pinned
// by version and sha512 below and fetched with npm's ordinary client (npm
// pack) into the cache when missing. The output is committed, so a fresh
// clone builds without node; `make check-ui` rebuilds it and fails when the
// committed files differ.
//
// PDF.js is split from the app: the first load of / fetches the app only,
// and the viewer imports PDF.js (and starts its worker) when it first opens.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// The pinned PDF.js: npm's integrity string of the package tarball.
const (
	pdfjsVersion   = "6.5.438"
	pdfjsIntegrity = "sha512-vg8Pw1x+AFKy4AMDvhuWl5cOYV8d698UoEANoFFhc79hqXDnZQqnOXoxw3HG907WHOg1JYOvLhP756boddFxpA=="
)

// target is the oldest browsers the UI supports (PDF.js 6 needs as much).
var target = []api.Engine{
	{Name: api.EngineChrome, Version: "120"},
	{Name: api.EngineFirefox, Version: "121"},
	{Name: api.EngineSafari, Version: "17"},
}

func main() {
	dir := flag.String("dir", "services/gateway/webui", "the web UI's folder (src/ in, dist/ out)")
	cache := flag.String("cache", defaultCache(), "where the pdfjs-dist tarball is kept")
	flag.Parse()
	if err := build(*dir, *cache); err != nil {
		slog.Error("webui build failed", slog.Any("err", err))
		os.Exit(1)
	}
}

func defaultCache() string {
	if c := os.Getenv("PDFQA_CACHE"); c != "" {
		return filepath.Join(c, "npm")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "pdfqa", "npm")
}

func build(dir, cache string) error {
	files, err := pdfjs(cache)
	if err != nil {
		return err
	}
	out := map[string][]byte{} // dist-relative name -> bytes

	// The worker: its own module, loaded by PDF.js from its URL.
	worker, err := bundle(api.BuildOptions{
		Stdin: &api.StdinOptions{Contents: string(files["build/pdf.worker.mjs"]), Sourcefile: "pdf.worker.mjs", Loader: api.LoaderJS},
	})
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	workerName := hashed("pdf.worker", ".mjs", worker[0].Contents)
	out["ui/"+workerName] = worker[0].Contents

	// The app and its lazily loaded chunks (the viewer with PDF.js).
	src := filepath.Join(dir, "src")
	app, err := bundle(api.BuildOptions{
		EntryPoints: []string{filepath.Join(src, "app.js"), filepath.Join(src, "style.css")},
		Splitting:   true,
		Outdir:      filepath.Join(dir, "dist", "ui"),
		EntryNames:  "[name]-[hash]",
		ChunkNames:  "[name]-[hash]",
		Define:      map[string]string{"PDFJS_WORKER_URL": fmt.Sprintf("%q", "/ui/"+workerName)},
		Plugins: []api.Plugin{{Name: "pdfjs-dist", Setup: func(b api.PluginBuild) {
			b.OnResolve(api.OnResolveOptions{Filter: `^pdfjs-dist$`}, func(api.OnResolveArgs) (api.OnResolveResult, error) {
				return api.OnResolveResult{Path: "pdf.mjs", Namespace: "pdfjs-dist"}, nil
			})
			b.OnLoad(api.OnLoadOptions{Filter: `.*`, Namespace: "pdfjs-dist"}, func(api.OnLoadArgs) (api.OnLoadResult, error) {
				s := string(files["build/pdf.mjs"])
				return api.OnLoadResult{Contents: &s, Loader: api.LoaderJS}, nil
			})
		}}},
	})
	if err != nil {
		return fmt.Errorf("app: %w", err)
	}
	names := map[string]string{} // "app.js" -> "ui/app-HASH.js"
	distAbs, err := filepath.Abs(filepath.Join(dir, "dist"))
	if err != nil {
		return err
	}
	for _, f := range app {
		rel, err := filepath.Rel(distAbs, f.Path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		out[rel] = f.Contents
		base := path.Base(rel)
		if i := strings.LastIndex(base, "-"); i > 0 {
			names[base[:i]+path.Ext(base)] = rel
		}
	}
	page, err := os.ReadFile(filepath.Join(src, "index.html"))
	if err != nil {
		return err
	}
	html := string(page)
	for _, k := range []string{"app.js", "style.css"} {
		if names[k] == "" {
			return fmt.Errorf("no output for %s", k)
		}
		ph := "{{" + k + "}}"
		if !strings.Contains(html, ph) {
			return fmt.Errorf("index.html lacks %s", ph)
		}
		html = strings.ReplaceAll(html, ph, "/"+names[k])
	}
	out["index.html"] = []byte(html)
	out["ui/LICENSE-pdfjs.txt"] = files["LICENSE"]
	return write(filepath.Join(dir, "dist"), out)
}

// bundle runs esbuild with the options every output shares.
func bundle(o api.BuildOptions) ([]api.OutputFile, error) {
	o.Bundle = true
	o.Write = false
	o.Format = api.FormatESModule
	o.Platform = api.PlatformBrowser
	o.Target = api.ESNext
	o.Engines = target
	o.MinifyWhitespace, o.MinifyIdentifiers, o.MinifySyntax = true, true, true
	o.LegalComments = api.LegalCommentsEndOfFile
	o.Charset = api.CharsetUTF8
	o.LogLevel = api.LogLevelWarning
	if o.Outdir == "" {
		o.Outfile = "out.js" // named only because esbuild needs a name
	}
	r := api.Build(o)
	if len(r.Errors) > 0 {
		var msgs []string
		for _, m := range r.Errors {
			msgs = append(msgs, m.Text)
		}
		return nil, errors.New(strings.Join(msgs, "; "))
	}
	return r.OutputFiles, nil
}

func hashed(name, ext string, b []byte) string {
	h := sha256.Sum256(b)
	return name + "-" + strings.ToUpper(hex.EncodeToString(h[:4])) + ext
}

// write replaces dist with exactly the files in out.
func write(dist string, out map[string][]byte) error {
	if err := os.RemoveAll(dist); err != nil {
		return err
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := filepath.Join(dist, filepath.FromSlash(k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, out[k], 0o644); err != nil {
			return err
		}
		slog.Info("wrote", slog.String("file", k), slog.Int("bytes", len(out[k])))
	}
	return nil
}

// pdfjs returns the files of the pinned pdfjs-dist package it needs, from
// the cached tarball (fetched with npm pack when missing) after checking its
// integrity.
func pdfjs(cache string) (map[string][]byte, error) {
	tgz := filepath.Join(cache, "pdfjs-dist-"+pdfjsVersion+".tgz")
	if _, err := os.Stat(tgz); err != nil {
		if err := os.MkdirAll(cache, 0o755); err != nil {
			return nil, err
		}
		slog.Info("fetching pdfjs-dist with npm pack", slog.String("version", pdfjsVersion))
		cmd := exec.Command("npm", "pack", "--silent", "pdfjs-dist@"+pdfjsVersion, "--pack-destination", cache)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("npm pack pdfjs-dist@%s: %w (npm is needed only to rebuild the UI)", pdfjsVersion, err)
		}
	}
	data, err := os.ReadFile(tgz)
	if err != nil {
		return nil, err
	}
	sum := sha512.Sum512(data)
	if got := "sha512-" + base64.StdEncoding.EncodeToString(sum[:]); got != pdfjsIntegrity {
		return nil, fmt.Errorf("%s: integrity %s, want %s (remove it to fetch again)", tgz, got, pdfjsIntegrity)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{"build/pdf.mjs": true, "build/pdf.worker.mjs": true, "LICENSE": true}
	files := map[string][]byte{}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		name := strings.TrimPrefix(h.Name, "package/")
		if want[name] {
			if files[name], err = io.ReadAll(tr); err != nil {
				return nil, err
			}
		}
	}
	for k := range want {
		if files[k] == nil {
			return nil, fmt.Errorf("%s: no %s", tgz, k)
		}
	}
	return files, nil
}
