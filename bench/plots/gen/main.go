// Command gen draws docs/performance.md's charts from the committed
// results: go run ./bench/plots/gen [-results bench/recorded] [-out docs/perf]
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/pdfqa/pdfqa/bench/plots"
)

func main() {
	results := flag.String("results", "bench/recorded", "folder of benchmark results (JSON)")
	out := flag.String("out", "docs/perf", "folder the SVG charts are written to")
	flag.Parse()
	r, err := plots.Load(*results)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plots:", err)
		os.Exit(1)
	}
	figs, err := plots.Figures(r)
	if err != nil {
		fmt.Fprintln(os.Stderr, "plots:", err)
		os.Exit(1)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "plots:", err)
		os.Exit(1)
	}
	names := make([]string, 0, len(figs))
	for n := range figs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(*out, n), figs[n], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "plots:", err)
			os.Exit(1)
		}
		fmt.Println(filepath.Join(*out, n))
	}
}
