package trainer

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
)

// The job lease: 15s by default, PDFQA_TRAINER_LEASE over it, --trainer-lease
// over both; malformed or under a second is ErrInvalid naming the setting.
func TestReadLease(t *testing.T) {
	for _, tc := range []struct {
		env  string
		args []string
		want time.Duration
		err  string
	}{
		{"", nil, DefaultLease, ""},
		{"40s", nil, 40 * time.Second, ""},
		{"40s", []string{"--trainer-lease", "2m"}, 2 * time.Minute, ""},
		{"", []string{"--trainer-lease=1s"}, time.Second, ""},
		{"999ms", nil, 0, "PDFQA_TRAINER_LEASE 999ms: want at least 1s"},
		{"-5s", nil, 0, "want at least 1s"},
		{"15", nil, 0, `PDFQA_TRAINER_LEASE (or --trainer-lease) "15": want a duration`},
		{"40s", []string{"--trainer-lease", "x"}, 0, `"x": want a duration`},
	} {
		env := map[string]string{}
		if tc.env != "" {
			env["PDFQA_TRAINER_LEASE"] = tc.env
		}
		r := config.NewReader(config.MapEnv(env))
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		r.BindFlag(fs, LeaseSetting)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		got, err := ReadLease(r)
		if tc.err != "" {
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("env %q args %v: %v, %v; want ErrInvalid %q", tc.env, tc.args, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("env %q args %v: %v, %v; want %v", tc.env, tc.args, got, err, tc.want)
		}
		// Read, the trainer's one settings reader, gives the same value.
		if c := Read(r, t.TempDir()); c.Lease != tc.want {
			t.Errorf("env %q args %v: Config.Lease %v, want %v", tc.env, tc.args, c.Lease, tc.want)
		}
	}
}
