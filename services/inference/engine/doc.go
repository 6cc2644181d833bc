// Package engine runs and talks to llama.cpp's llama-server, the inference
// service's local engine for generation and embeddings.
//
// A Supervisor owns one llama-server process: it picks a free loopback port,
// launches the binary built by scripts/setup/build-engine.sh with a GGUF model
// (generation, or embeddings with --embedding/--pooling), waits for /health,
// health-checks it periodically, restarts it with exponential backoff when it
// crashes or stops answering, and stops it with SIGTERM then SIGKILL. On Linux
// the process is also killed by the kernel if the Go process dies (Pdeathsig;
// platform/proc runs it, in its own process group).
// Its State (Starting, Ready, Down, Stopped) gates requests: while it is not
// Ready, Acquire and every Client call fail fast with ErrUnavailable.
//
// LoRA adapters are loaded at process start with --lora-init-without-apply and
// selected per request by id (their position in the list) and scale. Because
// llama-server cannot load adapters at run time, SetLoRAs replaces the process
// blue/green: the new one must become healthy before it takes over, so a bad
// adapter fails with ErrBadAdapter while the old engine keeps serving.
//
// Client is a typed client for the llama-server endpoints the service uses:
// streaming /v1/chat/completions (SSE; sampling, seed, json_schema or
// response_format, per-request lora, usage and timings from the final chunks;
// cancelling the context closes the connection, which stops generation),
// /v1/embeddings (batched, L2-normalised), /tokenize, /apply-template and
// /lora-adapters. Errors wrap the sentinels in errors.go so the gRPC layer maps
// them in one place.
//
// The API was checked against tools/server/README.md and the server sources of
// the llama.cpp tree vendored in llama-cpp-python 0.3.36.
//
// supervisor.go decides when a process starts, is replaced and stops;
// launch.go is one process (its command line, start, termination);
// config.go is what a process is started with and its defaults. Two files
// are longer than the project's ~500 lines on purpose: client.go is the
// whole HTTP contract with llama-server (each endpoint's request and
// response types beside the call that uses them, SSE reading and the one
// error decoding, which change together when llama.cpp does), and
// engine_test.go runs against one real engine per model shared by all its
// tests (TestMain stops them), so they stay in the file that owns it.
package engine
