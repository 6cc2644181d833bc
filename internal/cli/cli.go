// Package cli implements the pdfqa command's subcommands.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	pdfqa "github.com/pdfqa/pdfqa/sdk/go"
)

// command is one subcommand.
type command struct {
	summary string
	run     runFunc
}

// runFunc runs a command on its arguments (those after its name).
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

var commands = map[string]command{}

// register adds a command that reads its arguments itself (serve and keys,
// whose flags depend on the word after the command's name); the others
// register with flagCommand or meshCommand.
func register(name, summary string, run runFunc) {
	commands[name] = command{summary, run}
}

// body is a command's work once its flags are parsed.
type body func(ctx context.Context, c *call) error

// setup declares a command's flags on fs and returns its body, which reads
// them once they are parsed.
type setup func(fs *flag.FlagSet) body

// call is what a body is given: the arguments after the flags, the outputs
// and, for a meshCommand, the mesh its flags name.
type call struct {
	args           []string
	stdout, stderr io.Writer
	mesh           *meshFlags
	client         *pdfqa.Client
}

// connect dials the mesh the flags name (meshCommand), once; the client is
// closed when the body returns. A body validates its arguments first, so a
// usage error needs no mesh.
func (c *call) connect(ctx context.Context) (*pdfqa.Client, error) {
	if c.client == nil {
		cl, err := c.mesh.sdk(ctx)
		if err != nil {
			return nil, err
		}
		c.client = cl
	}
	return c.client, nil
}

// flagCommand registers a command whose flags s declares: its arguments
// are parsed into them (-h prints them, a bad one is a usage error) and
// the body s returned runs.
func flagCommand(name, summary string, s setup) {
	register(name, summary, parsed(name, false, s))
}

// meshCommand is flagCommand for a command that talks to the mesh: the
// mesh flags (--etcd, --data, --addr, --key, --tls-dir) are declared with
// its own and the body reaches the mesh through call.connect.
func meshCommand(name, summary string, s setup) {
	register(name, summary, parsed(name, true, s))
}

func parsed(name string, withMesh bool, s setup) runFunc {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := newFlags(name, stderr)
		c := &call{stdout: stdout, stderr: stderr}
		if withMesh {
			c.mesh = new(meshFlags)
			c.mesh.bind(fs)
		}
		run := s(fs)
		if err := fs.Parse(args); err != nil {
			return err
		}
		c.args = fs.Args()
		defer func() {
			if c.client != nil {
				c.client.Close()
			}
		}()
		return run(ctx, c)
	}
}

// errUsage marks a usage error (exit code 2).
var errUsage = errors.New("usage")

// Main runs the subcommand named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "pdfqa: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if errors.Is(err, errUsage) {
			fmt.Fprintf(stderr, "pdfqa %s: %v\n", args[0], err)
			return 2
		}
		fmt.Fprintf(stderr, "pdfqa %s: %v\n", args[0], err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "pdfqa — PDF question answering with cited answers, as a gRPC mesh.")
	fmt.Fprintln(w, "\nUsage: pdfqa <command> [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'pdfqa <command> -h' for a command's flags.")
}

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("pdfqa "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func usageErr(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, a...))
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
