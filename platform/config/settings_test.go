package config

import (
	"bytes"
	"flag"
	"strings"
	"testing"
	"time"
)

func TestReaderRecordsValueDefaultAndSource(t *testing.T) {
	r := NewReader(MapEnv(map[string]string{"PDFQA_S": "x", "PDFQA_I": "7", "PDFQA_F": "0.25", "PDFQA_B": "1", "PDFQA_EMPTY": ""}))
	sec := func(env string) Setting { return Setting{Section: "t", Env: env, Doc: "d"} }
	if got := r.String(sec("PDFQA_S"), "def"); got != "x" {
		t.Errorf("String = %q", got)
	}
	if got := r.String(sec("PDFQA_EMPTY"), "def"); got != "def" {
		t.Errorf("an empty variable counts as unset: got %q", got)
	}
	if got := r.Int(sec("PDFQA_I"), 3); got != 7 {
		t.Errorf("Int = %d", got)
	}
	if got := r.Int(sec("PDFQA_I_UNSET"), 3); got != 3 {
		t.Errorf("Int default = %d", got)
	}
	if got := r.Float(sec("PDFQA_F"), 0.5); got != 0.25 {
		t.Errorf("Float = %v", got)
	}
	if !r.Bool(sec("PDFQA_B")) || r.Bool(sec("PDFQA_B_UNSET")) {
		t.Error("Bool")
	}
	want := []struct{ env, value, def string }{
		{"PDFQA_S", "x", "def"}, {"PDFQA_EMPTY", "def", "def"}, {"PDFQA_I", "7", "3"}, {"PDFQA_I_UNSET", "3", "3"},
		{"PDFQA_F", "0.25", "0.5"}, {"PDFQA_B", "1", ""}, {"PDFQA_B_UNSET", "", ""},
	}
	vs := r.Values()
	if len(vs) != len(want) {
		t.Fatalf("%d values recorded, want %d: %+v", len(vs), len(want), vs)
	}
	for i, w := range want {
		v := vs[i]
		src := FromEnv
		if strings.Contains(w.env, "UNSET") || w.env == "PDFQA_EMPTY" {
			src = FromDefault
		}
		if v.Env != w.env || v.Value != w.value || v.Default != w.def || v.Source != src {
			t.Errorf("value %d: %+v, want %s=%q default %q from %s", i, v, w.env, w.value, w.def, src)
		}
	}
	if r.Err() != nil {
		t.Errorf("Err = %v", r.Err())
	}
}

func TestReaderMalformedNumbersFallBackAndReport(t *testing.T) {
	r := NewReader(MapEnv(map[string]string{"PDFQA_I": "many", "PDFQA_F": "lots"}))
	if got := r.Int(Setting{Env: "PDFQA_I"}, 4); got != 4 {
		t.Errorf("Int = %d, want the default", got)
	}
	if got := r.Float(Setting{Env: "PDFQA_F"}, 0.5); got != 0.5 {
		t.Errorf("Float = %v, want the default", got)
	}
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), `PDFQA_I="many"`) || !strings.Contains(err.Error(), `PDFQA_F="lots"`) {
		t.Errorf("Err = %v", err)
	}
	for _, v := range r.Values() {
		if v.Source != FromDefault {
			t.Errorf("%s: source %s, want default", v.Env, v.Source)
		}
	}
}

func TestFlagsOverrideTheEnvironment(t *testing.T) {
	r := NewReader(MapEnv(map[string]string{"PDFQA_DATA": "/env/data", "PDFQA_LOG_LEVEL": "warn"}))
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	var c Common
	c.BindFrom(fs, r)
	if err := fs.Parse([]string{"--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	r.Parsed(fs)
	if c.Data != "/env/data" || c.LogLevel != "debug" || c.Etcd != "127.0.0.1:2379" {
		t.Errorf("common %+v", c)
	}
	src := map[string]Source{}
	for _, v := range r.Values() {
		src[v.Env] = v.Source
	}
	if src["PDFQA_DATA"] != FromEnv || src["PDFQA_LOG_LEVEL"] != FromFlag || src["PDFQA_ETCD"] != FromDefault || src["PDFQA_CACHE"] != FromDefault {
		t.Errorf("sources %v", src)
	}
	if u := fs.Lookup("data").Usage; u != "data directory (env PDFQA_DATA)" {
		t.Errorf("flag usage %q", u)
	}
}

func TestRereadingASettingKeepsOneRow(t *testing.T) {
	r := NewReader(MapEnv(nil))
	s := Setting{Section: "a", Env: "PDFQA_X"}
	r.String(s, "1")
	r.String(s, "2")
	r.String(Setting{Section: "b", Env: "PDFQA_X"}, "3")
	if vs := r.Values(); len(vs) != 2 || vs[0].Value != "2" || vs[1].Section != "b" {
		t.Errorf("values %+v", vs)
	}
}

func TestWriteTableHidesSecrets(t *testing.T) {
	r := NewReader(MapEnv(map[string]string{"PDFQA_KEY": "hunter2"}))
	r.String(Setting{Section: "s", Env: "PDFQA_KEY", Secret: true}, "")
	r.String(Setting{Section: "s", Env: "PDFQA_PATH", DocDefault: "`<cache>/x`"}, "")
	var b bytes.Buffer
	if err := WriteTable(&b, r.Values()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Contains(out, "hunter2") || !strings.Contains(out, "(set)") {
		t.Errorf("secret shown:\n%s", out)
	}
	if !strings.Contains(out, "<cache>/x") {
		t.Errorf("an empty default falls back to the documented one:\n%s", out)
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := NewReader(MapEnv(map[string]string{"PDFQA_A": "machine-specific"}))
	r.String(Setting{Section: "s", Env: "PDFQA_A", Flag: "a", Doc: "first | piped"}, "x")
	r.Int(Setting{Section: "s", Env: "PDFQA_B", Doc: "second", DocDefault: "CPU count"}, 2)
	r.Bool(Setting{Section: "s", Env: "PDFQA_C", Doc: "third"})
	r.String(Setting{Section: "other", Env: "PDFQA_D", Doc: "elsewhere"}, "")
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r.Values(), "s"); err != nil {
		t.Fatal(err)
	}
	want := "| variable | flag | default | meaning |\n|---|---|---|---|\n" +
		"| `PDFQA_A` | `--a` | `x` | first \\| piped |\n" +
		"| `PDFQA_B` |  | CPU count | second |\n" +
		"| `PDFQA_C` |  | unset | third |\n"
	if b.String() != want {
		t.Errorf("markdown:\n%s\nwant:\n%s", b.String(), want)
	}
	if got := Sections(r.Values()); strings.Join(got, ",") != "s,other" {
		t.Errorf("Sections = %v", got)
	}
}

func TestSectionSetting(t *testing.T) {
	set := Section("inference").Setting
	want := Setting{Section: "inference", Env: "PDFQA_THREADS", Doc: "engine threads", DocDefault: "CPU count"}
	if got := set("PDFQA_THREADS", "engine threads", "CPU count"); got != want {
		t.Errorf("Section.Setting = %+v, want %+v", got, want)
	}
	r := NewReader(MapEnv(map[string]string{"PDFQA_THREADS": "3"}))
	if got := r.Int(set("PDFQA_THREADS", "engine threads", "CPU count"), 8); got != 3 {
		t.Errorf("Int = %d", got)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r.Values(), "inference"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "PDFQA_THREADS") || !strings.Contains(md.String(), "CPU count") {
		t.Errorf("the section's row is not in its table:\n%s", md.String())
	}
}

// A flag bound by BindFlag overrides the environment for the service that
// reads the setting later (recorded as from the flag); a malformed duration
// falls back to the default and is reported for that setting alone.
func TestBindFlagAndDurations(t *testing.T) {
	s := Setting{Section: "svc", Env: "PDFQA_T_LEASE", Flag: "t-lease", Doc: "lease"}
	other := Setting{Section: "svc", Env: "PDFQA_T_OTHER"}
	r := NewReader(MapEnv(map[string]string{"PDFQA_T_LEASE": "20s", "PDFQA_T_OTHER": "soon"}))
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	r.BindFlag(fs, s)
	if len(r.Values()) != 0 {
		t.Fatalf("BindFlag recorded %v before any read", r.Values())
	}
	if got := r.Duration(s, 15*time.Second); got != 20*time.Second {
		t.Fatalf("from the environment: %v", got)
	}
	if err := fs.Parse([]string{"--t-lease", "3s"}); err != nil {
		t.Fatal(err)
	}
	if got := r.Duration(s, 15*time.Second); got != 3*time.Second || r.ErrOf(s) != nil {
		t.Fatalf("flag over the environment: %v, %v", got, r.ErrOf(s))
	}
	if vs := r.Values(); len(vs) != 1 || vs[0].Source != FromFlag || vs[0].Value != "3s" || vs[0].Default != "15s" {
		t.Fatalf("recorded %+v", vs)
	}
	if got := r.Duration(other, time.Minute); got != time.Minute {
		t.Fatalf("malformed: %v, want the default", got)
	}
	if err := r.ErrOf(other); err == nil || !strings.Contains(err.Error(), `PDFQA_T_OTHER="soon": want a duration`) {
		t.Fatalf("ErrOf(malformed) = %v", err)
	}
	if err := fs.Parse([]string{"--t-lease", "never"}); err != nil {
		t.Fatal(err)
	}
	r.Duration(s, 15*time.Second)
	if err := r.ErrOf(s); err == nil || !strings.Contains(err.Error(), `PDFQA_T_LEASE (or --t-lease) "never": want a duration`) {
		t.Fatalf("ErrOf(bad flag) = %v", err)
	}
}
