package trainer

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pdfqa/pdfqa/platform/config"
)

// DefaultBaseModelFile is the served chat model, the base every adapter is trained on.
const DefaultBaseModelFile = "smollm2-135m-instruct-q4_1.gguf"

// Config locates the worker's interpreter, the base model and the llama.cpp
// tree whose converter turns PEFT adapters into GGUF. Zero values take
// defaults from the cache directory (see FromEnv).
type Config struct {
	// Python is the interpreter of the venv built from scripts/setup/requirements.txt.
	Python string
	// LlamaTree is the llama.cpp source tree (convert_lora_to_gguf.py, gguf-py).
	LlamaTree string
	// BaseGGUF is the served model the adapters are trained for.
	BaseGGUF string
	// BaseDir is the dequantized HF copy of BaseGGUF, made once by the worker.
	BaseDir string
	// WorkerDir holds the worker's Python package; empty extracts the embedded copy.
	WorkerDir string
	// Cache is the pdfqa cache directory.
	Cache string
	// Threads caps the worker's CPU threads (0: torch's default).
	Threads int
	// MaxJobs caps the jobs training at once (default 1); one more is
	// ResourceExhausted.
	MaxJobs int
	// MaxJobsPerTenant caps the jobs one tenant may have training at once
	// (0: no cap but MaxJobs), so that one tenant cannot take every slot.
	MaxJobsPerTenant int
	// Lease is how long a replica's claim on a running job lasts without
	// renewal with the shared store (Options.Lease; LeaseSetting).
	Lease time.Duration
}

// DefaultLease is the job lease's default: a job whose replica died is
// taken over by another within about that long.
const DefaultLease = 15 * time.Second

// MinLease is the shortest lease allowed: the holder renews it at a third
// of its length, each renewal a PostgreSQL round trip.
const MinLease = time.Second

// LeaseSetting is the job lease's length, also a flag of `pdfqa serve` and
// `pdfqa up` (config.Reader.BindFlag).
var LeaseSetting = config.Setting{Section: "trainer", Env: "PDFQA_TRAINER_LEASE", Flag: "trainer-lease",
	Doc: "with `--store`: how long a trainer replica's claim on a running job lasts unrenewed; a job whose replica died resumes on another about this long after (at least 1s)"}

// ReadLease reads the job lease through r: an error for a malformed value
// or one under MinLease.
func ReadLease(r *config.Reader) (time.Duration, error) {
	d := r.Duration(LeaseSetting, DefaultLease)
	if err := r.ErrOf(LeaseSetting); err != nil {
		return 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if d < MinLease {
		return 0, fmt.Errorf("%w: %s %v: want at least %v", ErrInvalid, LeaseSetting.Env, d, MinLease)
	}
	return d, nil
}

// FromEnv reads PDFQA_* variables over defaults derived from the cache dir.
func FromEnv(cache string) Config { return Read(config.Environment(), cache) }

// Read reads the trainer settings through r over defaults derived from the
// cache dir: the one place they are read (and documented).
func Read(r *config.Reader, cache string) Config {
	set := config.Section("trainer").Setting
	base := r.String(set("PDFQA_CHAT_MODEL", "the served chat model GGUF, the base every adapter is trained on", "cached `"+DefaultBaseModelFile+"`"),
		filepath.Join(cache, "models", DefaultBaseModelFile))
	return Config{
		Python:    r.String(set("PDFQA_TRAINER_PYTHON", "Python of the venv built from scripts/setup/requirements.txt", "the newest cached venv with peft, else `python3`"), findPython(cache)),
		LlamaTree: r.String(set("PDFQA_LLAMA_TREE", "llama.cpp source tree (convert_lora_to_gguf.py, gguf-py)", "the cached engine source"), findLlamaTree(cache)),
		BaseGGUF:  base,
		BaseDir: r.String(set("PDFQA_TRAINER_BASE_DIR", "dequantized HF copy of the base model, made once by the worker", "`<cache>/trainer/base/<model>`"),
			filepath.Join(cache, "trainer", "base", strings.TrimSuffix(filepath.Base(base), ".gguf"))),
		WorkerDir: r.String(set("PDFQA_TRAINER_WORKER", "the worker's Python package", "the embedded copy"), ""),
		Cache:     cache,
		MaxJobs:   r.Int(set("PDFQA_TRAINER_MAX_JOBS", "jobs that may train at once; one more is refused (ResourceExhausted)", ""), 1),
		MaxJobsPerTenant: r.Int(set("PDFQA_TRAINER_MAX_JOBS_PER_TENANT",
			"jobs one tenant may have training at once, so that one tenant cannot take every slot; one more is refused (ResourceExhausted); `0`: only `PDFQA_TRAINER_MAX_JOBS` applies", "`0`"), 0),
		Lease: r.Duration(LeaseSetting, DefaultLease),
	}
}

// findPython picks the newest complete venv under cache/venv that has peft
// (the venv is keyed by the hash of requirements.txt, which the binary does
// not know).
func findPython(cache string) string {
	dirs, _ := filepath.Glob(filepath.Join(cache, "venv", "*", "lib", "python3*", "site-packages", "peft"))
	type cand struct {
		py  string
		mod int64
	}
	var cs []cand
	for _, d := range dirs {
		venv := filepath.Clean(filepath.Join(d, "..", "..", "..", ".."))
		st, err := os.Stat(filepath.Join(venv, ".complete"))
		if err != nil {
			continue
		}
		cs = append(cs, cand{filepath.Join(venv, "bin", "python"), st.ModTime().UnixNano()})
	}
	if len(cs) == 0 {
		return "python3"
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].mod > cs[j].mod })
	return cs[0].py
}

func findLlamaTree(cache string) string {
	m, _ := filepath.Glob(filepath.Join(cache, "src", "llama-cpp-python-*", "vendor", "llama.cpp"))
	if len(m) == 0 {
		return ""
	}
	sort.Strings(m)
	return m[len(m)-1]
}
