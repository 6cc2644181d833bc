package trainer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
)

// The file store lists what its files hold: datasets newest first, every
// job, and passes over a file that is not a record.
func TestFileMetaLists(t *testing.T) {
	ctx := context.Background()
	m := &fileMeta{store: store{dir: t.TempDir()}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, id := range []string{"ds-old", "ds-new", "ds-mid"} {
		at := t0.Add(time.Duration([]int{0, 2, 1}[i]) * time.Hour)
		if err := m.putDataset(ctx, &trainerv1.Dataset{Id: id, CreateTime: timestamppb.New(at)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"job-a", "job-b"} {
		if _, err := m.createJob(ctx, &trainerv1.Job{Id: id, State: trainerv1.JobState_JOB_STATE_SUCCEEDED}, &trainerv1.WatchJobResponse{}, jobCaps{Total: 10}); err != nil {
			t.Fatal(err)
		}
	}
	for _, junk := range []string{filepath.Join("datasets", "ds-junk", "manifest.json"), filepath.Join("jobs", "job-junk", "job.json")} {
		p := filepath.Join(m.dir, junk)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{half a record"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := m.datasets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.GetId())
	}
	if strings.Join(ids, " ") != "ds-new ds-mid ds-old" {
		t.Errorf("datasets %q, want newest first without the junk", ids)
	}
	js, err := m.jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids = nil
	for _, j := range js {
		ids = append(ids, j.GetId())
	}
	if strings.Join(ids, " ") != "job-a job-b" {
		t.Errorf("jobs %q", ids)
	}
}
