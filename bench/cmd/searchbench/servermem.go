package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pdfqa/pdfqa/services/retrieval/store"
)

// serverMemory samples the PostgreSQL server's memory every second: the
// proportional set size (Pss, /proc/PID/smaps_rollup: shared pages split
// between the processes mapping them, so shared buffers count once) of the
// postmaster and its children, summed. The server must be on this machine.
type serverMemory struct {
	mu     sync.Mutex
	peak   float64 // MiB
	cancel context.CancelFunc
	done   chan struct{}
}

// watchServerMemory finds the server's postmaster (the parent of this
// connection's backend) and samples it until stop.
func watchServerMemory(ctx context.Context, pg *store.Postgres) (*serverMemory, error) {
	var backend int
	if err := pg.DB().Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return nil, err
	}
	postmaster, err := parentPID(backend)
	if err != nil {
		return nil, fmt.Errorf("the PostgreSQL server's processes (is it on this machine?): %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &serverMemory{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			if kib := treePssKiB(postmaster); kib > 0 {
				m.mu.Lock()
				m.peak = max(m.peak, float64(kib)/1024)
				m.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return m, nil
}

func (m *serverMemory) peakMiB() float64 {
	if m == nil {
		return 0
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.peak
}

func (m *serverMemory) stop() {
	m.cancel()
	<-m.done
}

// parentPID is the PPid of /proc/PID/status.
func parentPID(pid int) (int, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PPid:"); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("process %d: no PPid", pid)
}

// treePssKiB sums the Pss of pid and its children (0 when pid is gone).
func treePssKiB(pid int) int {
	total := pssKiB(pid)
	if total == 0 {
		return 0
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if pp, err := parentPID(child); err == nil && pp == pid {
			total += pssKiB(child)
		}
	}
	return total
}

// pssKiB is the Pss line of /proc/PID/smaps_rollup (0 when unreadable).
func pssKiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "Pss:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}
