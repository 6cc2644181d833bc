// Package proc supervises child processes the one way pdfqa does it: each
// child leads its own process group, the kernel SIGKILLs it when its parent
// dies (Pdeathsig, Linux), the whole group is killed when the child's
// context ends (SIGTERM, then SIGKILL after a grace period) and once the
// child has exited (so nothing it started outlives it), and the tail of
// its stderr is kept for error messages. Backoff paces restarts, and Lock
// (an flock held by the child for as long as it lives) keeps a second child
// from writing to the same files.
//
// The inference engine supervisor (llama-server), the retrieval parse
// workers (re-exec'd PDFium) and the trainer's Python worker run on it.
//
// Pdeathsig fires when the OS thread that forked the child exits; the Go
// runtime only retires threads of goroutines that exit while locked with
// runtime.LockOSThread, which callers of Start must not do. It reaches the
// child only, not the child's own children: those die when the child's
// group is killed, and Lock keeps one that outlives a SIGKILLed parent from
// sharing its files with a successor.
package proc
