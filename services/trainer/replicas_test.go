//go:build unix

package trainer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/pgtest"
)

// TestKilledReplicaJobIsTakenOver runs two trainer replicas on one
// PostgreSQL and one bucket: replica A, a process of its own, and B, in
// this process, each with its own data directory. A dataset imported
// through B trains on A (which fetches it from the bucket); the job shows
// in B's ListJobs and GetJob and B's WatchJob follows it. A is SIGKILLed
// mid-job (its worker dies with it): once A's lease runs out B takes the
// job over and its worker, the job's one writer from then on, continues
// from A's last recorded checkpoint (fetched from the bucket: A's worker
// wrote it) to the end.
func TestKilledReplicaJobIsTakenOver(t *testing.T) {
	t.Setenv(roleEnv, "ckworker") // for B's workers
	sp := replicaSpec{Store: pgtest.DSN(t), Blobs: bucketURL(t), Data: t.TempDir(), Lease: testLease}
	a, ca := startReplica(t, sp)
	b := newService(t, Options{DataDir: t.TempDir(), StoreURL: sp.Store, BlobsURL: sp.Blobs, Lease: testLease, Runner: testRunner()})
	cb := serve(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	ds, err := cb.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
	if err != nil {
		t.Fatal(err)
	}
	const total, every = 300, 20
	st, err := ca.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId(), Config: &trainerv1.LoraConfig{MaxSteps: total, CheckpointEvery: every}})
	if err != nil {
		t.Fatal(err)
	}
	id := st.GetJob().GetId()
	list, err := cb.ListJobs(ctx, &trainerv1.ListJobsRequest{})
	if err != nil || len(list.GetJobs()) != 1 || list.GetJobs()[0].GetId() != id {
		t.Fatalf("B's ListJobs: %v %v, want job %s", list, err, id)
	}
	watch, err := cb.WatchJob(ctx, &trainerv1.WatchJobRequest{JobId: id})
	if err != nil {
		t.Fatal(err)
	}
	watched := make(chan *trainerv1.WatchJobResponse, 1)
	go func() {
		var last *trainerv1.WatchJobResponse
		for {
			ev, err := watch.Recv()
			if err != nil {
				watched <- last
				return
			}
			last = ev
		}
	}()

	// Let A's worker pass a few checkpoints, as B sees it.
	for {
		g, err := cb.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id})
		if err != nil {
			t.Fatal(err)
		}
		if g.GetJob().GetState() != trainerv1.JobState_JOB_STATE_RUNNING && g.GetJob().GetState() != trainerv1.JobState_JOB_STATE_QUEUED {
			t.Fatalf("job on A: %v", g.GetJob())
		}
		if g.GetJob().GetStep() >= 3*every {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("A's job made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	aOut := filepath.Join(sp.Data, "trainer", "jobs", id, "out")
	first := readResumed(t, aOut)
	if len(first) != 1 || first[0].Step != 0 {
		t.Fatalf("A's worker: %+v, want one start from step 0", first)
	}
	aWorker := first[0].Pid
	killed := time.Now()
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = a.Wait()
	waitDead(t, aWorker, "worker of the SIGKILLed replica")
	// A's newest recorded checkpoint, read before B can claim the job (A's
	// lease has at least 3/4 of its term left) and prune it.
	conn, err := pgx.Connect(ctx, sp.Store)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var lastA int32
	if err := conn.QueryRow(ctx, `SELECT max(step) FROM trainer.checkpoints WHERE job_id = $1 AND epoch = 1`, id).Scan(&lastA); err != nil {
		t.Fatal(err)
	}
	// What a replica killed between uploading a checkpoint and recording it
	// leaves in the bucket: B's pruning removes it.
	bucket := strings.TrimPrefix(strings.Split(sp.Blobs, "?")[0], "file://")
	orphan := filepath.Join(bucket, filepath.FromSlash(jobKey(id, 1, "checkpoints/step-00009999")), "adapter_model.safetensors")
	if err := os.MkdirAll(filepath.Dir(orphan), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(orphan, []byte("half"), 0o644); err != nil {
		t.Fatal(err)
	}

	var last *trainerv1.WatchJobResponse
	select {
	case last = <-watched:
	case <-ctx.Done():
		t.Fatal("B's WatchJob did not see the job end")
	}
	if last.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED || last.GetStep() != total {
		t.Fatalf("last event through B: %v, want SUCCEEDED at step %d", last, total)
	}
	g, err := cb.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id})
	if err != nil || g.GetJob().GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED || g.GetJob().GetStep() != total {
		t.Fatalf("B's GetJob: %v %v", g, err)
	}

	// B's worker continued from A's newest recorded checkpoint, written by
	// A's worker, and started only after A was killed.
	var epoch int64
	var owner *string
	if err := conn.QueryRow(ctx, `SELECT epoch, owner FROM trainer.jobs WHERE id = $1`, id).Scan(&epoch, &owner); err != nil {
		t.Fatal(err)
	}
	if epoch != 2 || owner != nil {
		t.Errorf("job row: epoch %d, owner %v; want epoch 2 (A's claim, then B's) and released", epoch, owner)
	}
	bRuns := readResumed(t, b.outDir(id))
	if len(bRuns) != 1 {
		t.Fatalf("B's workers: %+v, want one", bRuns)
	}
	br := bRuns[0]
	if lastA < 3*every-every || br.Step != lastA || br.FromPid != aWorker {
		t.Errorf("B's worker resumed from step %d written by pid %d; want A's last recorded checkpoint, step %d by A's worker %d", br.Step, br.FromPid, lastA, aWorker)
	}
	if took := time.Unix(0, br.StartNS).Sub(killed); took < 0 {
		t.Errorf("B's worker started before A was killed")
	} else {
		t.Logf("B's worker resumed step %d %v after A was SIGKILLed (lease %v)", br.Step, took.Round(10*time.Millisecond), testLease)
	}
	var late int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM trainer.checkpoints WHERE job_id = $1 AND epoch = 2 AND step <= $2`, id, lastA).Scan(&late); err != nil || late != 0 {
		t.Errorf("B recorded %d checkpoints at or before the step it resumed from (%v)", late, err)
	}
	if _, err := os.Stat(filepath.Join(b.outDir(id), "adapter", "adapter_config.json")); err != nil {
		t.Errorf("the adapter: %v", err)
	}
	// Only the newest checkpoints stay recorded, and only theirs (and the
	// adapter's) objects stay in the bucket.
	var kept []string
	rows, err := conn.Query(ctx, `SELECT key FROM trainer.checkpoints WHERE job_id = $1 ORDER BY step`, id)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		_ = rows.Scan(&k)
		kept = append(kept, k)
	}
	rows.Close()
	want := []string{jobKey(id, 2, fmt.Sprintf("checkpoints/step-%08d", total-2*every)), jobKey(id, 2, fmt.Sprintf("checkpoints/step-%08d", total-every))}
	if !slices.Equal(kept, want) {
		t.Errorf("recorded checkpoints %v, want %v", kept, want)
	}
	files, _ := filepath.Glob(filepath.Join(bucket, "trainer", "jobs", id, "*", "checkpoints", "*", "*"))
	var objs []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() {
			rel, _ := filepath.Rel(bucket, filepath.Dir(f))
			if !slices.Contains(objs, rel) {
				objs = append(objs, rel)
			}
		}
	}
	if !slices.Equal(objs, want) {
		t.Errorf("checkpoints in the bucket %v, want %v", objs, want)
	}
}

// TestCancelResumeEvaluateThroughOtherReplicas: a job running on replica A
// is cancelled through B (A's worker stops), resumed through B (it runs on
// B, from the checkpoint A's worker wrote), watched through A to its end
// and evaluated through A, which fetches the adapter B trained from the
// bucket; B then reads A's evaluation.
func TestCancelResumeEvaluateThroughOtherReplicas(t *testing.T) {
	cancelResumeEvaluate(t, bucketURL(t))
}

// cancelResumeEvaluate runs TestCancelResumeEvaluateThroughOtherReplicas
// on the bucket at blobs; it returns the dataset's and the job's ids.
func cancelResumeEvaluate(t *testing.T, blobs string) (datasetID, jobID string) {
	t.Setenv(roleEnv, "ckworker")
	o := Options{StoreURL: pgtest.DSN(t), BlobsURL: blobs, Lease: testLease, Runner: testRunner()}
	oa, ob := o, o
	oa.DataDir, ob.DataDir = t.TempDir(), t.TempDir()
	a, b := newService(t, oa), newService(t, ob)
	ca, cb := serve(t, a), serve(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ds, err := ca.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
	if err != nil {
		t.Fatal(err)
	}
	const total, every = 200, 20
	st, err := ca.StartJob(ctx, &trainerv1.StartJobRequest{DatasetId: ds.GetDataset().GetId(), Config: &trainerv1.LoraConfig{MaxSteps: total, CheckpointEvery: every}})
	if err != nil {
		t.Fatal(err)
	}
	id := st.GetJob().GetId()
	for {
		g, err := cb.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id})
		if err != nil {
			t.Fatal(err)
		}
		if g.GetJob().GetStep() >= 2*every+5 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cj, err := cb.CancelJob(ctx, &trainerv1.CancelJobRequest{JobId: id})
	if err != nil || cj.GetJob().GetState() != trainerv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("cancel through B: %v %v", cj, err)
	}
	first := readResumed(t, a.outDir(id))
	if len(first) != 1 {
		t.Fatalf("A's workers: %+v", first)
	}
	waitDead(t, first[0].Pid, "A's worker of the cancelled job")
	if g, err := ca.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id}); err != nil || g.GetJob().GetState() != trainerv1.JobState_JOB_STATE_CANCELLED {
		t.Fatalf("A's GetJob after the cancel: %v %v", g, err)
	}

	if _, err := cb.ResumeJob(ctx, &trainerv1.ResumeJobRequest{JobId: id}); err != nil {
		t.Fatal(err)
	}
	last := watchToEnd(t, ctx, ca, id)
	if last.GetState() != trainerv1.JobState_JOB_STATE_SUCCEEDED || last.GetStep() != total {
		t.Fatalf("watched through A: %v", last)
	}
	second := readResumed(t, b.outDir(id))
	if len(second) != 1 || second[0].Step < 2*every || second[0].Step%every != 0 || second[0].FromPid != first[0].Pid {
		t.Fatalf("B's worker: %+v, want it to continue from a checkpoint (>= step %d) of A's worker %d", second, 2*every, first[0].Pid)
	}
	if _, err := os.Stat(filepath.Join(a.outDir(id), "adapter")); err == nil {
		t.Fatal("A has an adapter before evaluating: the test would not show the fetch")
	}
	rep, err := ca.EvaluateAdapter(ctx, &trainerv1.EvaluateAdapterRequest{JobId: id})
	if err != nil || !rep.GetReport().GetImproved() {
		t.Fatalf("evaluate through A: %v %v", rep, err)
	}
	g, err := cb.GetJob(ctx, &trainerv1.GetJobRequest{JobId: id})
	if err != nil || g.GetJob().GetEvaluation().GetAdapter().GetTokenF1() != 0.4 {
		t.Fatalf("B's GetJob after A evaluated: %v %v", g, err)
	}
	return ds.GetDataset().GetId(), id
}

// TestStoreDownIsUnavailable: while PostgreSQL is down the trainer's calls
// fail with Unavailable, and they work again once it is back, without a
// restart.
func TestStoreDownIsUnavailable(t *testing.T) {
	srv := pgtest.New(t)
	dsn, err := srv.CreateDatabase()
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, newService(t, Options{DataDir: t.TempDir(), StoreURL: dsn, BlobsURL: bucketURL(t), Runner: holdRunner{}}))
	ctx := context.Background()
	if _, err := c.ListJobs(ctx, &trainerv1.ListJobsRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = c.ListJobs(ctx, &trainerv1.ListJobsRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("ListJobs with the store down: %v, want Unavailable", err)
	}
	_, err = c.GetDataset(ctx, &trainerv1.GetDatasetRequest{DatasetId: "ds-1"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("GetDataset with the store down: %v, want Unavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.ImportDataset(ctx, &trainerv1.ImportDatasetRequest{Jsonl: []byte(tinyJSONL)})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("store back, ImportDataset still fails: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
