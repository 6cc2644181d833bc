package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/pdfqa/pdfqa/internal/mesh"
	"github.com/pdfqa/pdfqa/platform/config"
)

func init() {
	flagCommand("config", "print every setting with its value, default and source (env, flag, default); --markdown: the README's tables", configCommand)
}

// sectionTitles head the README's tables of the commands' settings; a
// service's section is titled by its registered name.
var sectionTitles = map[string]string{
	"common": "Every serving command (`pdfqa up`, `pdfqa serve`)",
	"up":     "`pdfqa up`",
	"serve":  "`pdfqa serve <service>`",
	"limits": "Per API key, on every service (`pdfqa up`, `pdfqa serve`)",
}

func sectionTitle(sec string) string {
	if t, ok := sectionTitles[sec]; ok {
		return t
	}
	return sec + " service"
}

// readAllSettings binds the serving commands' flags (on throwaway flag
// sets, after any already bound by the caller) and reads every service's
// settings through r: the whole of pdfqa's configuration.
func readAllSettings(r *config.Reader, cache string) error {
	new(upFlags).bind(flag.NewFlagSet("up", flag.ContinueOnError), r)
	new(serveFlags).bind(flag.NewFlagSet("serve", flag.ContinueOnError), r)
	return mesh.ReadSettings(r, cache)
}

func configCommand(fs *flag.FlagSet) body {
	markdown := fs.Bool("markdown", false, "print the README's tables: defaults as documented, not this machine's values")
	r := config.Environment()
	var common config.Common
	common.BindFrom(fs, r)
	return func(_ context.Context, c *call) error {
		if len(c.args) > 0 {
			return usageErr("config takes no arguments")
		}
		if *markdown {
			return writeConfigDocs(c.stdout)
		}
		// Flags given here override the environment for every command.
		r.Parsed(fs)
		err := readAllSettings(r, common.Cache)
		r.Parsed(fs)
		if werr := config.WriteTable(c.stdout, r.Values()); werr != nil {
			return werr
		}
		if err == nil {
			err = r.Err()
		}
		return err
	}
}

// writeConfigDocs writes the README's configuration tables: every setting
// read from an empty environment, with its documented default.
func writeConfigDocs(w io.Writer) error {
	r := config.NewReader(config.MapEnv(nil))
	if err := readAllSettings(r, "<cache>"); err != nil {
		return err
	}
	vs := r.Values()
	var b strings.Builder
	for i, sec := range config.Sections(vs) {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s:\n\n", sectionTitle(sec))
		if err := config.WriteMarkdown(&b, vs, sec); err != nil {
			return err
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
