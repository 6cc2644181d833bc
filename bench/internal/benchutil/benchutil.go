// Package benchutil is what the benchmark commands under bench/ share, one
// way each: the exit on error, the JSON report writer, the resident memory
// of a process, and the content deltas of an OpenAI-compatible chat
// completion stream.
package benchutil

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
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
func RSSKiB(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("process %d: no VmRSS (a kernel thread or a zombie)", pid)
}

// RSSMiB is RSSKiB in MiB, 0 when it cannot be read (the process is gone).
func RSSMiB(pid int) float64 {
	kb, err := RSSKiB(pid)
	if err != nil {
		return 0
	}
	return float64(kb) / 1024
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
