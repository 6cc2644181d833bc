// Package benchutil is what the benchmark commands under bench/ share, one
// way each: the exit on error, the JSON report writer, what a report says
// about its run (commit, command, load), the nearest-rank percentile, the
// resident memory of a process, and the content deltas of an
// OpenAI-compatible chat completion stream.
package benchutil

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Main runs run and, when it fails, exits through Fail.
func Main(name string, run func() error) {
	if err := run(); err != nil {
		Fail(name, err)
	}
}

// Fail prints "name: err" on stderr and exits with status 1.
func Fail(name string, err error) {
	fmt.Fprintln(os.Stderr, name+":", err)
	os.Exit(1)
}

// WriteJSON writes v as indented JSON ending in a newline to the file path,
// or to stdout when path is empty.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "" {
		_, err = os.Stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// RSSKiB is the resident set size of process pid in KiB (VmRSS of
// /proc/PID/status).
func RSSKiB(pid int) (int, error) { return statusKiB(pid, "VmRSS") }

// RSSMiB is RSSKiB in MiB, 0 when it cannot be read (the process is gone).
func RSSMiB(pid int) float64 { return kibToMiB(RSSKiB(pid)) }

// PeakRSSKiB is the peak resident set size of process pid so far in KiB
// (VmHWM of /proc/PID/status).
func PeakRSSKiB(pid int) (int, error) { return statusKiB(pid, "VmHWM") }

// PeakRSSMiB is PeakRSSKiB in MiB, 0 when it cannot be read.
func PeakRSSMiB(pid int) float64 { return kibToMiB(PeakRSSKiB(pid)) }

func kibToMiB(kb int, err error) float64 {
	if err != nil {
		return 0
	}
	return float64(kb) / 1024
}

// statusKiB reads one "Field: N kB" line of /proc/PID/status.
func statusKiB(pid int, field string) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("process %d: no %s (a kernel thread or a zombie)", pid, field)
}

// Percentile is the nearest-rank percentile p (0 < p <= 1) of ds: the
// smallest sample that at least a fraction p of the samples do not exceed.
// ds is left as it is; no samples give 0.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// WorkDir is dir when it is set (a -dir flag: kept after the run), else a
// new temporary directory named after prefix that done removes.
func WorkDir(dir, prefix string) (path string, done func(), err error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	d, err := os.MkdirTemp("", prefix+"-")
	if err != nil {
		return "", nil, err
	}
	return d, func() { _ = os.RemoveAll(d) }, nil
}

// Commit is the short hash of the checkout's HEAD, "" outside a git
// checkout.
func Commit() string {
	b, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages as
// /proc/loadavg writes them ("0.52 0.61 0.70"), "" when it cannot be read.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return ""
}

// Load1 is the 1 minute load average, 0 when it cannot be read.
func Load1() float64 {
	f, _ := strconv.ParseFloat(strings.Split(LoadAvg(), " ")[0], 64)
	return f
}

// Command is how the report's run was started: "go run ./bench/cmd/NAME"
// and this process's arguments.
func Command(name string) string {
	return strings.TrimSpace("go run ./bench/cmd/" + name + " " + strings.Join(os.Args[1:], " "))
}

// ChatDeltas reads an OpenAI-compatible streamed chat completion (server-
// sent events: "data: {chunk}" lines, the last "data: [DONE]") and calls
// each with the content of every chunk whose first choice carries some.
// Other lines (blank, comments, event names) are passed over; a data line
// that is not a JSON chunk is an error.
func ChatDeltas(r io.Reader, each func(content string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		d, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok || d == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content string `json:"content"`
				} `json:"delta"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(d), &ch); err != nil {
			return fmt.Errorf("chat stream: bad chunk %q: %w", d, err)
		}
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			each(ch.Choices[0].Delta.Content)
		}
	}
	return sc.Err()
}
