package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Setting describes one configuration knob: the environment variable that
// sets it, the flag that overrides it (if any), and what it means. Each
// service's Read function names its settings where it reads them, so the
// code that reads a value is the one place that documents it.
type Setting struct {
	// Section groups settings in listings ("common", "inference", ...).
	Section string
	// Env is the environment variable (PDFQA_...).
	Env string
	// Flag is the command-line flag that overrides Env, without dashes ("" none).
	Flag string
	// Doc says what the setting does.
	Doc string
	// DocDefault describes the default where it depends on the machine
	// (a path in the cache, the CPU count); "" renders the default itself.
	DocDefault string
	// Secret values (API keys) are never printed, only whether they are set.
	Secret bool
}

// Section names a group of settings; its Setting spells one of the
// group's rows, so a service's Read names each setting in one line:
//
//	set := config.Section("inference").Setting
//	r.Int(set("PDFQA_CHAT_SLOTS", "chat engine parallel slots", ""), 4)
type Section string

// Setting is the row of this section for env, with no flag and not
// secret: doc says what it does, docDefault describes a machine-dependent
// default ("" renders the default itself).
func (s Section) Setting(env, doc, docDefault string) Setting {
	return Setting{Section: string(s), Env: env, Doc: doc, DocDefault: docDefault}
}

// Source says where a value came from.
type Source string

// Sources of a value.
const (
	FromDefault Source = "default"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Value is a setting as read: its value, default and source.
type Value struct {
	Setting
	Value   string
	Default string
	Source  Source
}

// Reader reads settings from an environment and records every one it read,
// with its default and source, for `pdfqa config` and the README's tables.
// A Reader is safe for concurrent use.
type Reader struct {
	lookup func(string) (string, bool)

	mu     sync.Mutex
	values []Value
	errs   []error
	// flags holds values given on the command line to flags bound by
	// BindFlag, by variable: they override the environment.
	flags map[string]string
	// bad is the malformed value's error per variable (ErrOf).
	bad map[string]error
}

// NewReader reads from lookup (nil: the process environment).
func NewReader(lookup func(string) (string, bool)) *Reader {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	return &Reader{lookup: lookup}
}

// Environment is a Reader over the process environment.
func Environment() *Reader { return NewReader(nil) }

// MapEnv is a lookup over a fixed environment (tests, documentation).
func MapEnv(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// raw returns the setting's environment value, or "" when unset or empty
// (an empty variable counts as unset, as it always has here).
func (r *Reader) raw(s Setting) (string, bool) {
	r.mu.Lock()
	v, ok := r.flags[s.Env]
	r.mu.Unlock()
	if !ok {
		v, _ = r.lookup(s.Env)
	}
	return v, v != ""
}

func (r *Reader) record(s Setting, value, def string, src Source) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.flags[s.Env]; ok && src == FromEnv {
		src = FromFlag
	}
	if src != FromDefault {
		delete(r.bad, s.Env) // read well formed since
	}
	for i := range r.values {
		if r.values[i].Env == s.Env && r.values[i].Section == s.Section && r.values[i].Flag == s.Flag {
			r.values[i] = Value{s, value, def, src}
			return
		}
	}
	r.values = append(r.values, Value{s, value, def, src})
}

func (r *Reader) fail(s Setting, v, want string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := fmt.Errorf("%s=%q: want %s", s.Env, v, want)
	if s.Flag != "" {
		err = fmt.Errorf("%s (or --%s) %q: want %s", s.Env, s.Flag, v, want)
	}
	r.errs = append(r.errs, err)
	if r.bad == nil {
		r.bad = map[string]error{}
	}
	r.bad[s.Env] = err
}

// ErrOf is the error of s's malformed value, nil when it was well formed
// or not read: for a service that refuses to start on it.
func (r *Reader) ErrOf(s Setting) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bad[s.Env]
}

// Duration reads s (a Go duration such as 15s or 2m), def when unset or
// malformed (recorded in Err and ErrOf).
func (r *Reader) Duration(s Setting, def time.Duration) time.Duration {
	return readParsed(r, s, def, def.String(), time.ParseDuration, "a duration such as 15s or 2m")
}

// readParsed is the one read of a setting whose value is parsed: def (shown
// as d) when unset or when parse refuses the value, which is then recorded
// as malformed with want saying what was expected.
func readParsed[T any](r *Reader, s Setting, def T, d string, parse func(string) (T, error), want string) T {
	v, ok := r.raw(s)
	if ok {
		if n, err := parse(v); err == nil {
			r.record(s, v, d, FromEnv)
			return n
		}
		r.fail(s, v, want)
	}
	r.record(s, d, d, FromDefault)
	return def
}

// String reads s, def when unset.
func (r *Reader) String(s Setting, def string) string {
	v, ok := r.raw(s)
	if !ok {
		r.record(s, def, def, FromDefault)
		return def
	}
	r.record(s, v, def, FromEnv)
	return v
}

// Int reads s, def when unset or not a number (recorded in Err).
func (r *Reader) Int(s Setting, def int) int {
	return readParsed(r, s, def, strconv.Itoa(def), strconv.Atoi, "a whole number")
}

// Float reads s, def when unset or not a number (recorded in Err).
func (r *Reader) Float(s Setting, def float64) float64 {
	return readParsed(r, s, def, strconv.FormatFloat(def, 'g', -1, 64), func(v string) (float64, error) {
		return strconv.ParseFloat(v, 64)
	}, "a number")
}

// Bool reads s: true only when set to 1 (the default is off).
func (r *Reader) Bool(s Setting) bool {
	v, ok := r.raw(s)
	if !ok {
		r.record(s, "", "", FromDefault)
		return false
	}
	r.record(s, v, "", FromEnv)
	return v == "1"
}

// BindFlag registers s.Flag on fs without reading s: a value given on the
// command line overrides s.Env for every later read of s through r (by the
// service's own Read, which records it as FromFlag).
func (r *Reader) BindFlag(fs *flag.FlagSet, s Setting) {
	// No backquotes: flag's usage would take the quoted word for the
	// argument's name.
	fs.Func(s.Flag, strings.ReplaceAll(s.Doc, "`", "")+" (env "+s.Env+")", func(v string) error {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.flags == nil {
			r.flags = map[string]string{}
		}
		r.flags[s.Env] = v
		return nil
	})
}

// StringFlag binds s.Flag on fs with the environment's value as its default
// (def when unset); call Parsed after fs.Parse to record flags given.
func (r *Reader) StringFlag(fs *flag.FlagSet, p *string, s Setting, def string) {
	help := s.Doc
	if s.Env != "" {
		help += " (env " + s.Env + ")"
	}
	fs.StringVar(p, s.Flag, r.String(s, def), help)
}

// Parsed records the flags given on fs's command line as the source of the
// settings they override.
func (r *Reader) Parsed(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		r.mu.Lock()
		defer r.mu.Unlock()
		for i := range r.values {
			if r.values[i].Flag == f.Name {
				r.values[i].Value, r.values[i].Source = f.Value.String(), FromFlag
			}
		}
	})
}

// Values lists every setting read, in the order first read.
func (r *Reader) Values() []Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Value(nil), r.values...)
}

// Err joins the malformed values seen (nil when none).
func (r *Reader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return errors.Join(r.errs...)
}

// Sections lists the sections of vs in first-seen order.
func Sections(vs []Value) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vs {
		if !seen[v.Section] {
			seen[v.Section] = true
			out = append(out, v.Section)
		}
	}
	return out
}

// WriteTable prints vs as aligned text: one row per setting with its value,
// default on this machine and source.
func WriteTable(w io.Writer, vs []Value) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SECTION\tVARIABLE\tFLAG\tVALUE\tDEFAULT\tSOURCE")
	for _, v := range vs {
		fl := ""
		if v.Flag != "" {
			fl = "--" + v.Flag
		}
		val := v.Value
		if v.Secret && val != "" {
			val = "(set)"
		}
		def := v.Default
		if def == "" {
			def = strings.ReplaceAll(v.DocDefault, "`", "")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", v.Section, v.Env, fl, orDash(val), orDash(def), v.Source)
	}
	return tw.Flush()
}

// WriteMarkdown prints the settings of section as a Markdown table for the
// README: variable (and flag), default as documented, meaning. Values read
// are not shown: the table does not depend on the machine.
func WriteMarkdown(w io.Writer, vs []Value, section string) error {
	var rows []Value
	for _, v := range vs {
		if v.Section == section {
			rows = append(rows, v)
		}
	}
	var b strings.Builder
	b.WriteString("| variable | flag | default | meaning |\n|---|---|---|---|\n")
	for _, v := range rows {
		fl := ""
		if v.Flag != "" {
			fl = "`--" + v.Flag + "`"
		}
		def := docDefault(v)
		if def == "" {
			def = "unset"
		} else if v.DocDefault == "" {
			def = "`" + def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", v.Env, fl, def, strings.ReplaceAll(v.Doc, "|", `\|`))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func docDefault(v Value) string {
	if v.DocDefault != "" {
		return v.DocDefault
	}
	return v.Default
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
