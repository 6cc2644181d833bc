package parse

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	RunWorkerIfRequested() // Process tests re-exec this binary as a worker
	code := m.Run()
	if sharedProc != nil {
		sharedProc.Close()
	}
	os.Exit(code)
}
