package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// writeCommandDocs writes docs/configuration.md's command reference: every
// command's summary and its flags as `pdfqa <command> -h` prints them, with
// this machine's cache directory written as ~/.cache/pdfqa. Flag defaults
// that come from the environment show the environment's value, so the docs
// are generated with no PDFQA_* variable set.
func writeCommandDocs(w io.Writer) error {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	sub := map[string][][]string{
		"keys":  {{"keys", "create"}, {"keys", "list"}, {"keys", "revoke"}},
		"serve": {{"serve", "agents"}},
	}
	cache := ""
	if dir, err := os.UserCacheDir(); err == nil {
		cache = filepath.Join(dir, "pdfqa")
	}
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "### `pdfqa %s`\n\n%s\n\n", n, commands[n].summary)
		calls := sub[n]
		if calls == nil {
			calls = [][]string{{n}}
		}
		for _, args := range calls {
			var out bytes.Buffer
			Main(context.Background(), append(append([]string(nil), args...), "-h"), io.Discard, &out)
			text := strings.TrimRight(out.String(), "\n")
			if cache != "" {
				text = strings.ReplaceAll(text, cache, "~/.cache/pdfqa")
			}
			if n == "serve" {
				text += "\n(the same flags for every service: agents, gateway, inference, retrieval, trainer)"
			}
			fmt.Fprintf(&b, "```text\n$ pdfqa %s -h\n%s\n```\n\n", strings.Join(args, " "), text)
		}
	}
	_, err := io.WriteString(w, strings.TrimRight(b.String(), "\n")+"\n")
	return err
}
