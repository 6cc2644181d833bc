package cli

import (
	"bytes"
	"context"
	"flag"
	"net"
	"slices"
	"strings"
	"testing"
)

// TestFlagCommand: a command registered with flagCommand gets its flags
// parsed and the arguments after them; -h and a bad flag stop before the
// body (exit 0 for -h, 1 for the flag package's error).
func TestFlagCommand(t *testing.T) {
	var got []string
	var ran int
	flagCommand("test-flags", "a test command", func(fs *flag.FlagSet) body {
		n := fs.Int("n", 1, "a number")
		return func(_ context.Context, c *call) error {
			ran++
			got = append([]string{strings.Repeat("x", *n)}, c.args...)
			c.stdout.Write([]byte("out"))
			c.stderr.Write([]byte("err"))
			return nil
		}
	})
	t.Cleanup(func() { delete(commands, "test-flags") })
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"test-flags", "-n", "3", "a", "b"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !slices.Equal(got, []string{"xxx", "a", "b"}) || out.String() != "out" || errOut.String() != "err" {
		t.Fatalf("body saw %q, wrote %q / %q", got, out.String(), errOut.String())
	}
	errOut.Reset()
	if code := Main(context.Background(), []string{"test-flags", "-h"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "-n int") {
		t.Fatalf("-h: exit %d, %q", code, errOut.String())
	}
	errOut.Reset()
	if code := Main(context.Background(), []string{"test-flags", "-bogus"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "flag provided but not defined: -bogus") {
		t.Fatalf("bad flag: exit %d, %q", code, errOut.String())
	}
	if ran != 1 {
		t.Fatalf("body ran %d times, want once (not for -h or a bad flag)", ran)
	}
}

// TestMeshCommandsCheckArgumentsBeforeDialling: every client command's
// usage errors come before it reaches for the mesh, so they are usage
// errors (exit 2) even when nothing listens where the flags point.
func TestMeshCommandsCheckArgumentsBeforeDialling(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	for _, args := range [][]string{
		{"ask", "question without a collection"},
		{"runs", "a", "b"},
		{"search"},
		{"ingest"},
		{"generate"},
		{"embed"},
		{"finetune"},
	} {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), append(args, "--addr", dead, "--data", t.TempDir()), &out, &errOut)
		if code != 2 || strings.Contains(errOut.String(), "no mesh running") {
			t.Errorf("pdfqa %s: exit %d, %q; want a usage error", strings.Join(args, " "), code, errOut.String())
		}
	}
	// And a valid call does dial, through call.connect: nothing there.
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"embed", "--etcd", dead, "--data", t.TempDir(), "text"}, &out, &errOut)
	if code != 1 || !strings.Contains(errOut.String(), "no mesh running") {
		t.Fatalf("embed with no mesh: exit %d, %q", code, errOut.String())
	}
}
