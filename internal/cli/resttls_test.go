package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// --rest-tls takes 1 or 0 (strconv.ParseBool's spellings); anything else is
// a usage error naming the flag, before anything starts.
func TestRESTTLSFlag(t *testing.T) {
	for _, on := range []string{"1", "0", "true", "false"} {
		if _, err := parseRESTTLS(on); err != nil {
			t.Errorf("--rest-tls=%s: %v", on, err)
		}
	}
	for _, cmd := range []struct {
		run  func(context.Context, []string, *bytes.Buffer) error
		name string
	}{
		{func(ctx context.Context, a []string, out *bytes.Buffer) error {
			return commands["up"].run(ctx, a, out, out)
		}, "up"},
		{func(ctx context.Context, a []string, out *bytes.Buffer) error {
			return runServe(ctx, append([]string{"gateway"}, a...), out, out)
		}, "serve"},
	} {
		var out bytes.Buffer
		err := cmd.run(t.Context(), []string{"--data", t.TempDir(), "--rest-tls", "maybe"}, &out)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--rest-tls") {
			t.Errorf("%s --rest-tls maybe: %v, want a usage error naming --rest-tls", cmd.name, err)
		}
	}
}
