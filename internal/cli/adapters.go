package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
)

func init() {
	meshCommand("adapters", "list the loaded LoRA adapters, each with its version's sha256, or unload one: pdfqa adapters [list] | pdfqa adapters unload [--sha256 DIGEST] NAME", adaptersCommand)
}

// adaptersCommand lists the adapters or unloads one. --sha256 makes the
// unload conditional: only that version (as the listing shows it) goes; a
// version published since (another load, a trainer's publish) stays, and
// the command fails naming it.
func adaptersCommand(fs *flag.FlagSet) body {
	sha := fs.String("sha256", "", "unload: only if NAME is still this version (its sha256 as 'pdfqa adapters' lists it); otherwise nothing is unloaded and the current digest is reported")
	return func(ctx context.Context, c *call) error {
		verb := "list"
		if len(c.args) > 0 {
			verb = c.args[0]
		}
		switch verb {
		case "list":
			if len(c.args) > 1 || *sha != "" {
				return usageErr("pdfqa adapters list takes no arguments (--sha256 is for unload)")
			}
			cl, err := c.connect(ctx)
			if err != nil {
				return err
			}
			ads, err := cl.Adapters(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSHA256\tSCALE\tBASE MODEL")
			for _, a := range ads {
				fmt.Fprintf(tw, "%s\t%s\t%g\t%s\n", a.GetName(), a.GetSha256(), a.GetScale(), a.GetBaseModel())
			}
			return tw.Flush()
		case "unload":
			// Flags may follow the verb and the name too.
			rest := c.args[1:]
			if err := fs.Parse(rest); err != nil {
				return err
			}
			if fs.NArg() == 0 {
				return usageErr("pdfqa adapters unload [--sha256 DIGEST] NAME: give the adapter's name")
			}
			name := fs.Arg(0)
			if err := fs.Parse(fs.Args()[1:]); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return usageErr("pdfqa adapters unload: one adapter name, got also %q", fs.Args())
			}
			cl, err := c.connect(ctx)
			if err != nil {
				return err
			}
			if err := cl.UnloadAdapter(ctx, name, *sha); err != nil {
				return err
			}
			if *sha != "" {
				fmt.Fprintf(c.stdout, "unloaded adapter %s (sha256 %s)\n", name, *sha)
			} else {
				fmt.Fprintf(c.stdout, "unloaded adapter %s\n", name)
			}
			return nil
		}
		return usageErr("pdfqa adapters: unknown action %q (list or unload)", verb)
	}
}
