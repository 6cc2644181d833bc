package mesh

import (
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
	"github.com/pdfqa/pdfqa/services/trainer"
)

// The trainer's job lease is read from the flag the command bound (over
// PDFQA_TRAINER_LEASE) by the trainer unit itself: a malformed or too short
// lease stops the trainer from starting with an error naming the setting.
func TestTrainerLeaseSettingReachesTheTrainer(t *testing.T) {
	etcd, err := StartEmbedded(t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer etcd.Close()
	cli, err := EtcdClient([]string{etcd.Endpoint()}, "", ClientIdentity)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	for _, tc := range []struct {
		env, flag, want string
	}{
		{"20s", "100ms", "PDFQA_TRAINER_LEASE 100ms: want at least 1s"},
		{"20s", "soon", `PDFQA_TRAINER_LEASE (or --trainer-lease) "soon": want a duration`},
		{"later", "", `PDFQA_TRAINER_LEASE (or --trainer-lease) "later": want a duration`},
	} {
		r := config.NewReader(config.MapEnv(map[string]string{"PDFQA_TRAINER_LEASE": tc.env}))
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		r.BindFlag(fs, trainer.LeaseSetting)
		var args []string
		if tc.flag != "" {
			args = []string{"--trainer-lease", tc.flag}
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		inst, err := Start(ctx, "trainer", RunOptions{Etcd: cli, Data: t.TempDir(), Cache: t.TempDir(), Env: r,
			// Never reached: the lease is checked before the store is opened.
			Store:    "postgres://pdfqa@127.0.0.1:1/none?connect_timeout=1",
			Security: Security{Insecure: true}})
		cancel()
		if err == nil {
			_ = inst.Wait() // stopped by cancel
			t.Fatalf("env %q flag %q: the trainer started", tc.env, tc.flag)
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("env %q flag %q: %v; want %q", tc.env, tc.flag, err, tc.want)
		}
	}
}
