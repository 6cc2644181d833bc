package trainer

import (
	"context"
	"slices"
	"testing"
)

// A replica that lost a job after pruning its checkpoint records (its
// claim was epoch 1) prunes the bucket with its stale list of kept
// checkpoints: it deletes its own superseded checkpoint, keeps the kept
// one, and never the checkpoint the next claim (epoch 2) just uploaded.
func TestStalePruneKeepsALaterClaimsCheckpoints(t *testing.T) {
	ctx := context.Background()
	b, err := openBlobs(ctx, bucketURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.b.Close()
	const job = "trainer/jobs/job-1"
	keys := []string{
		job + "/e1/checkpoints/step-00000010/state.json",
		job + "/e1/checkpoints/step-00000020/state.json",
		job + "/e2/checkpoints/step-00000030/state.json",
		job + "/e2/adapter/adapter_config.json",
		job + "/e12/checkpoints/step-00000040/state.json",
	}
	for _, k := range keys {
		if err := b.b.WriteAll(ctx, k, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.deleteCheckpointsExcept(ctx, job, 1, []string{job + "/e1/checkpoints/step-00000020"}); err != nil {
		t.Fatal(err)
	}
	var left []string
	if err := b.eachObject(ctx, job, func(k string) error { left = append(left, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := keys[1:]; !slices.Equal(slices.Sorted(slices.Values(left)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("left after the stale prune: %v, want %v", left, want)
	}
	// The later claim's own prune deletes what it no longer keeps.
	if err := b.deleteCheckpointsExcept(ctx, job, 12, []string{job + "/e12/checkpoints/step-00000040"}); err != nil {
		t.Fatal(err)
	}
	left = left[:0]
	if err := b.eachObject(ctx, job, func(k string) error { left = append(left, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := []string{keys[3], keys[4]}; !slices.Equal(slices.Sorted(slices.Values(left)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("left after the later claim's prune: %v, want %v", left, want)
	}
}
