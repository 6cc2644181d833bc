package trainer

import (
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// atOnce runs call(0) … call(n-1), each in a goroutine of its own, released
// together so that they overlap as much as the scheduler lets them (the
// concurrency tests' races), and returns when every call has.
func atOnce(n int, call func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			call(i)
		})
	}
	close(start)
	wg.Wait()
}

// codeCounts is atOnce for calls that return an error: how many of them
// ended with each gRPC code (OK for nil).
func codeCounts(n int, call func(i int) error) map[codes.Code]int {
	got := make([]codes.Code, n)
	atOnce(n, func(i int) { got[i] = status.Code(call(i)) })
	counts := map[codes.Code]int{}
	for _, c := range got {
		counts[c]++
	}
	return counts
}

// TestAtOnce: every call runs once, and none starts before all are
// launched (a call that waits for all the others to start ends, which it
// could not if they ran one after another).
func TestAtOnce(t *testing.T) {
	const n = 16
	var started sync.WaitGroup
	started.Add(n)
	ran := make([]int, n)
	atOnce(n, func(i int) {
		started.Done()
		started.Wait()
		ran[i]++
	})
	for i, r := range ran {
		if r != 1 {
			t.Fatalf("call %d ran %d times", i, r)
		}
	}
	got := codeCounts(6, func(i int) error {
		if i%3 == 0 {
			return status.Error(codes.Aborted, "x")
		}
		return nil
	})
	if len(got) != 2 || got[codes.OK] != 4 || got[codes.Aborted] != 2 {
		t.Fatalf("codeCounts = %v, want 4 OK and 2 Aborted", got)
	}
}
