//go:build unix

// The processes the replica tests run: a trainer replica of its own
// (helperReplica, started by startReplica) and the stand-in for the
// Python worker it runs (checkpointWorker). runner_test.go's TestMain
// dispatches to them; replicas_test.go holds the tests.

package trainer

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// replicaEnv carries a "replica" child's settings (replicaSpec as JSON).
const replicaEnv = "PDFQA_TRAINER_TEST_REPLICA"

type replicaSpec struct {
	Store, Blobs, Data string
	Lease              time.Duration
}

// testLease is the replicas' job lease: a dead replica's job is taken over
// about this long after it died.
const testLease = 2 * time.Second

// helperReplica is one trainer replica in a process of its own, on the
// shared store, its workers checkpointWorker; it prints the address it
// serves gRPC on and runs until killed.
func helperReplica() int {
	var sp replicaSpec
	if err := json.Unmarshal([]byte(os.Getenv(replicaEnv)), &sp); err != nil {
		fmt.Println(err)
		return 1
	}
	os.Setenv(roleEnv, "ckworker")
	svc, err := New(Options{DataDir: sp.Data, StoreURL: sp.Store, BlobsURL: sp.Blobs, Lease: sp.Lease, Runner: testRunner()})
	if err != nil {
		fmt.Println(err)
		return 1
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return 1
	}
	g := grpc.NewServer()
	svc.Register(g)
	fmt.Println("listening", lis.Addr().String())
	_ = g.Serve(lis)
	return 1
}

// ckState is a checkpoint of checkpointWorker: the step and the pid of
// the worker that wrote it.
type ckState struct {
	Step int32 `json:"step"`
	Pid  int   `json:"pid"`
}

// resumed is what a checkpointWorker found when it started.
type resumed struct {
	Step    int32 `json:"step"`
	FromPid int   `json:"from_pid"`
	Pid     int   `json:"pid"`
	StartNS int64 `json:"start_ns"`
}

// checkpointWorker stands in for python -m pdfqa_trainer train with the
// real worker's file layout: it continues from the newest
// checkpoints/step-NNNNNNNN/state.json, writes a checkpoint every
// checkpoint_every steps (announcing it like the worker does), and at
// max_steps writes adapter/ and ends. It appends what it resumed from to
// <output_dir>/resumed.
func checkpointWorker() int {
	wc, ok := fakeWorkerConfig()
	if !ok {
		return 2
	}
	if slices.Contains(os.Args, string(ModeEval)) {
		// The adapter must be on this machine (fetched from the bucket
		// when another replica trained it).
		if _, err := os.Stat(filepath.Join(wc.OutputDir, "adapter", "adapter_config.json")); err != nil {
			fmt.Fprintln(os.Stderr, "no adapter:", err)
			return 1
		}
		fmt.Println(`{"event":"eval","report":{"base":{"token_f1":0.2},"adapter":{"token_f1":0.4},"examples":1,"improved":true}}`)
		return 0
	}
	if _, err := os.Stat(filepath.Join(wc.DatasetDir, "train.jsonl")); err != nil {
		fmt.Fprintln(os.Stderr, "no dataset:", err)
		return 1
	}
	root := filepath.Join(wc.OutputDir, "checkpoints")
	var from ckState
	done, _ := filepath.Glob(filepath.Join(root, "step-*", "state.json"))
	sort.Strings(done)
	if len(done) > 0 {
		b, _ := os.ReadFile(done[len(done)-1])
		_ = json.Unmarshal(b, &from)
	}
	me := os.Getpid()
	rb, _ := json.Marshal(resumed{Step: from.Step, FromPid: from.Pid, Pid: me, StartNS: time.Now().UnixNano()})
	f, err := os.OpenFile(filepath.Join(wc.OutputDir, "resumed"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 1
	}
	fmt.Fprintln(f, string(rb))
	f.Close()
	total, every := wc.MaxSteps, wc.CheckpointEvery
	fmt.Printf(`{"event":"start","step":%d,"total_steps":%d,"message":"%d"}`+"\n", from.Step, total, me)
	for step := from.Step; step < total; {
		time.Sleep(20 * time.Millisecond)
		step++
		fmt.Printf(`{"event":"progress","step":%d,"total_steps":%d,"loss":0.5}`+"\n", step, total)
		if step%every == 0 && step < total {
			d := filepath.Join(root, fmt.Sprintf("step-%08d", step))
			sb, _ := json.Marshal(ckState{Step: step, Pid: me})
			if os.MkdirAll(d, 0o755) != nil || os.WriteFile(filepath.Join(d, "adapter_model.safetensors"), []byte(strings.Repeat("w", 4096)), 0o644) != nil ||
				os.WriteFile(filepath.Join(d, "state.json"), sb, 0o644) != nil {
				return 1
			}
			fmt.Printf(`{"event":"checkpoint","step":%d,"path":%q}`+"\n", step, d)
		}
	}
	ad := filepath.Join(wc.OutputDir, "adapter")
	if os.MkdirAll(ad, 0o755) != nil || os.WriteFile(filepath.Join(ad, "adapter_config.json"), []byte(`{"r":8}`), 0o644) != nil {
		return 1
	}
	fmt.Printf(`{"event":"done","step":%d,"total_steps":%d}`+"\n", total, total)
	return 0
}

// startReplica runs a replica process on the shared store and returns it
// with a client of its gRPC server.
func startReplica(t *testing.T, sp replicaSpec) (*exec.Cmd, trainerv1.TrainerServiceClient) {
	t.Helper()
	sb, _ := json.Marshal(sp)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), roleEnv+"=replica", replicaEnv+"="+string(sb))
	logf, err := os.Create(filepath.Join(t.TempDir(), "replica.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logf
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("replica log:\n%s", b)
		}
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			go func() {
				for sc.Scan() {
				}
			}()
			conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			return cmd, trainerv1.NewTrainerServiceClient(conn)
		}
		t.Logf("replica: %s", sc.Text())
	}
	t.Fatal("replica exited before serving")
	return nil, nil
}

func readResumed(t *testing.T, outDir string) []resumed {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(outDir, "resumed"))
	if err != nil {
		t.Fatal(err)
	}
	var out []resumed
	for _, line := range strings.Fields(string(b)) {
		var r resumed
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}
