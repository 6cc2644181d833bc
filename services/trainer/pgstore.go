package trainer

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/proto"

	trainerv1 "github.com/pdfqa/pdfqa/gen/pdfqa/trainer/v1"
	"github.com/pdfqa/pdfqa/platform/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// pgMeta is the shared store (schema trainer): every replica reads and
// writes the same datasets and jobs. A running job is leased: its owner
// renews lease_until while it runs; a job whose lease ran out (its replica
// died) is claimed by another replica, which increments epoch, so the old
// owner's writes (fenced by epoch) fail with ErrLost.
type pgMeta struct {
	db    *pg.DB
	owner string
	lease time.Duration
}

var _ meta = (*pgMeta)(nil)

// capLock is the advisory lock key that serializes the cap's count and the
// insert of a job (or its requeue) across replicas.
const capLock = 0x7472616e // "tran"

func openPG(ctx context.Context, url string, lease time.Duration, log *slog.Logger) (*pgMeta, error) {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	db, err := pg.Open(ctx, pg.Options{URL: url, Schema: "trainer", Migrations: sub, MaxConns: 8,
		StatementTimeout: 10 * time.Second, CallTimeout: 10 * time.Second, Log: log})
	if err != nil {
		return nil, err
	}
	return &pgMeta{db: db, owner: rand.Text(), lease: lease}, nil
}

func (s *pgMeta) close() { s.db.Close() }

func (s *pgMeta) leaseMS() int64 { return s.lease.Milliseconds() }

func (s *pgMeta) putDataset(ctx context.Context, d *trainerv1.Dataset) error {
	b, err := proto.Marshal(d)
	if err != nil {
		return err
	}
	return s.db.Do(ctx, func(ctx context.Context) error {
		tag, err := s.db.Pool.Exec(ctx, `INSERT INTO datasets (id, tenant, dataset, create_time) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO NOTHING`, d.GetId(), d.GetTenant(), b, d.GetCreateTime().AsTime())
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: dataset %q", ErrAlreadyExist, d.GetId())
		}
		return err
	})
}

func (s *pgMeta) dataset(ctx context.Context, id string) (*trainerv1.Dataset, error) {
	if !idPattern.MatchString(id) {
		return nil, fmt.Errorf("%w: dataset id %q", ErrInvalid, id)
	}
	d := &trainerv1.Dataset{}
	err := s.db.Do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `SELECT dataset FROM datasets WHERE id = $1`, id).Scan(pg.Proto(d))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: dataset %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

func (s *pgMeta) rewriteDataset(ctx context.Context, id string, fn func(ctx context.Context, d *trainerv1.Dataset) (*trainerv1.Dataset, error)) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("%w: dataset id %q", ErrInvalid, id)
	}
	return s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		d := &trainerv1.Dataset{}
		err := tx.QueryRow(ctx, `SELECT dataset FROM datasets WHERE id = $1 FOR UPDATE`, id).Scan(pg.Proto(d))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: dataset %q", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		next, err := fn(ctx, d)
		if err != nil || next == nil {
			return err
		}
		b, err := proto.Marshal(next)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE datasets SET tenant = $2, dataset = $3 WHERE id = $1`, id, next.GetTenant(), b)
		return err
	})
}

func (s *pgMeta) datasets(ctx context.Context) ([]*trainerv1.Dataset, error) {
	return pg.QueryProtos[trainerv1.Dataset](ctx, s.db, `SELECT dataset FROM datasets ORDER BY create_time DESC`)
}

func (s *pgMeta) jobs(ctx context.Context) ([]*trainerv1.Job, error) {
	return pg.QueryProtos[trainerv1.Job](ctx, s.db, `SELECT job FROM jobs ORDER BY create_time DESC`)
}

func (s *pgMeta) job(ctx context.Context, id string) (*trainerv1.Job, *trainerv1.WatchJobResponse, error) {
	if !idPattern.MatchString(id) {
		return nil, nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	j, w := &trainerv1.Job{}, &trainerv1.WatchJobResponse{}
	err := s.db.Do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `SELECT job, progress FROM jobs WHERE id = $1`, id).Scan(pg.Proto(j), pg.Proto(w))
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	if err != nil {
		return nil, nil, err
	}
	return j, w, nil
}

// marshalJob is a job's two stored columns: the job and its progress.
func marshalJob(j *trainerv1.Job, w *trainerv1.WatchJobResponse) (job, progress []byte, err error) {
	if job, err = proto.Marshal(j); err != nil {
		return nil, nil, err
	}
	if progress, err = proto.Marshal(w); err != nil {
		return nil, nil, err
	}
	return job, progress, nil
}

// active counts the queued and running jobs under the cap's lock.
func active(ctx context.Context, tx pgx.Tx, tenant string) (n, nt int, err error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(capLock)); err != nil {
		return 0, 0, err
	}
	err = tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE tenant = $1) FROM jobs WHERE state IN (1, 2)`, tenant).Scan(&n, &nt)
	return n, nt, err
}

func (s *pgMeta) createJob(ctx context.Context, j *trainerv1.Job, w *trainerv1.WatchJobResponse, caps jobCaps) (int64, error) {
	jb, wb, err := marshalJob(j, w)
	if err != nil {
		return 0, err
	}
	err = s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		n, nt, err := active(ctx, tx, j.GetTenant())
		if err != nil {
			return err
		}
		if err := caps.check(n, nt, j.GetTenant()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO jobs (id, tenant, state, owner, epoch, lease_until, job, progress, create_time)
			VALUES ($1, $2, $3, $4, 1, now() + $5 * interval '1 millisecond', $6, $7, $8)`,
			j.GetId(), j.GetTenant(), int32(j.GetState()), s.owner, s.leaseMS(), jb, wb, j.GetCreateTime().AsTime())
		return err
	})
	return 1, err
}

func (s *pgMeta) requeueJob(ctx context.Context, id string, caps jobCaps) (*trainerv1.Job, int64, error) {
	var j *trainerv1.Job
	var epoch int64
	err := s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		// The cap's lock before the row's, as createJob takes it; a job's
		// tenant never changes.
		var tenant string
		err := tx.QueryRow(ctx, `SELECT tenant FROM jobs WHERE id = $1`, id).Scan(&tenant)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: job %q", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		n, nt, err := active(ctx, tx, tenant)
		if err != nil {
			return err
		}
		j = &trainerv1.Job{}
		err = tx.QueryRow(ctx, `SELECT job FROM jobs WHERE id = $1 FOR UPDATE`, id).Scan(pg.Proto(j))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: job %q", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if err := resumable(j); err != nil {
			return err
		}
		if err := caps.check(n, nt, tenant); err != nil {
			return err
		}
		j.State = trainerv1.JobState_JOB_STATE_QUEUED
		jb, err := proto.Marshal(j)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `UPDATE jobs SET state = $2, job = $3, owner = $4, epoch = epoch + 1, cancel_requested = false,
			lease_until = now() + $5 * interval '1 millisecond' WHERE id = $1 RETURNING epoch`,
			id, int32(j.GetState()), jb, s.owner, s.leaseMS()).Scan(&epoch)
	})
	if err != nil {
		return nil, 0, err
	}
	return j, epoch, nil
}

func (s *pgMeta) putJob(ctx context.Context, j *trainerv1.Job, w *trainerv1.WatchJobResponse, epoch int64, release bool) error {
	jb, wb, err := marshalJob(j, w)
	if err != nil {
		return err
	}
	return s.db.Do(ctx, func(ctx context.Context) error {
		if epoch == 0 {
			// Every write names a claim: a running job's, or the one an
			// evaluate or publish holds (reserve). An unclaimed write could
			// overwrite a concurrent one's result.
			return fmt.Errorf("%w: job %s: a write without a claim on the job", ErrState, j.GetId())
		}
		tag, err := s.db.Pool.Exec(ctx, `UPDATE jobs SET job = $2, progress = $3, state = $4,
				owner = CASE WHEN $7 THEN NULL ELSE owner END, lease_until = CASE WHEN $7 THEN NULL ELSE lease_until END
			WHERE id = $1 AND owner = $5 AND epoch = $6`,
			j.GetId(), jb, wb, int32(j.GetState()), s.owner, epoch, release)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: job %s (epoch %d)", ErrLost, j.GetId(), epoch)
		}
		return err
	})
}

// renew extends this replica's lease on a job it runs; it reports whether
// a CancelJob (through any replica) asked for the job to stop.
func (s *pgMeta) renew(ctx context.Context, id string, epoch int64) (cancel bool, err error) {
	err = s.db.Do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `UPDATE jobs SET lease_until = now() + $4 * interval '1 millisecond'
			WHERE id = $1 AND owner = $2 AND epoch = $3 RETURNING cancel_requested`, id, s.owner, epoch, s.leaseMS()).Scan(&cancel)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("%w: job %s (epoch %d)", ErrLost, id, epoch)
	}
	return cancel, err
}

// claimed is a job this replica took over.
type claimed struct {
	job   *trainerv1.Job
	epoch int64
	// cancel: a CancelJob asked for it before its last owner stopped.
	cancel bool
}

// claim takes the oldest queued or running job that no live replica holds
// (its owner released it or stopped renewing), or reports none.
func (s *pgMeta) claim(ctx context.Context) (*claimed, error) {
	c := &claimed{job: &trainerv1.Job{}}
	err := s.db.Do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `UPDATE jobs SET owner = $1, epoch = epoch + 1, lease_until = now() + $2 * interval '1 millisecond'
			WHERE id = (SELECT id FROM jobs WHERE state IN (1, 2) AND (owner IS NULL OR lease_until < now())
				ORDER BY create_time LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING job, epoch, cancel_requested`, s.owner, s.leaseMS()).Scan(pg.Proto(c.job), &c.epoch, &c.cancel)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return c, nil
}

// requestCancel asks the replica running job id to stop it (it sees the
// flag on its next renewal); a job no live replica holds is cancelled here
// and then. It returns the job as it is now.
func (s *pgMeta) requestCancel(ctx context.Context, id string) (*trainerv1.Job, error) {
	var j *trainerv1.Job
	err := s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		j = &trainerv1.Job{}
		var held bool
		err := tx.QueryRow(ctx, `SELECT job, owner IS NOT NULL AND lease_until > now() FROM jobs WHERE id = $1 FOR UPDATE`, id).Scan(pg.Proto(j), &held)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: job %q", ErrNotFound, id)
		}
		if err != nil {
			return err
		}
		if !activeState(j.GetState()) {
			return nil
		}
		if held {
			_, err = tx.Exec(ctx, `UPDATE jobs SET cancel_requested = true WHERE id = $1`, id)
			return err
		}
		j.State = trainerv1.JobState_JOB_STATE_CANCELLED
		w := progressOf(j, "cancelled; ResumeJob continues from the last checkpoint")
		jb, wb, err := marshalJob(j, w)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE jobs SET state = $2, job = $3, progress = $4, owner = NULL, lease_until = NULL WHERE id = $1`,
			id, int32(j.GetState()), jb, wb)
		return err
	})
	return j, err
}

// addCheckpoint records a checkpoint uploaded under key, if this replica
// still holds the job at epoch.
func (s *pgMeta) addCheckpoint(ctx context.Context, id string, epoch int64, step int32, key string) error {
	return s.db.Do(ctx, func(ctx context.Context) error {
		tag, err := s.db.Pool.Exec(ctx, `INSERT INTO checkpoints (job_id, step, epoch, key)
			SELECT $1, $4, $3, $5 WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND owner = $2 AND epoch = $3)
			ON CONFLICT (job_id, step, epoch) DO UPDATE SET key = excluded.key`, id, s.owner, epoch, step, key)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: job %s (epoch %d)", ErrLost, id, epoch)
		}
		return err
	})
}

// keepCheckpoints is how many recorded checkpoints a job keeps (the
// worker's own keep_checkpoints); older ones are dropped as newer land.
const keepCheckpoints = 2

// pruneCheckpoints forgets job id's recorded checkpoints but the newest
// keepCheckpoints, if this replica holds the job at epoch, and returns the
// keys still recorded (the objects of any other checkpoint of the job are
// the caller's to delete).
func (s *pgMeta) pruneCheckpoints(ctx context.Context, id string, epoch int64) ([]string, error) {
	var kept []string
	err := s.db.Tx(ctx, pgx.ReadCommitted, func(ctx context.Context, tx pgx.Tx) error {
		kept = kept[:0]
		_, err := tx.Exec(ctx, `DELETE FROM checkpoints c WHERE c.job_id = $1
				AND EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND owner = $2 AND epoch = $3)
				AND (c.step, c.epoch) NOT IN (SELECT step, epoch FROM checkpoints WHERE job_id = $1 ORDER BY step DESC, epoch DESC LIMIT $4)`,
			id, s.owner, epoch, keepCheckpoints)
		if err != nil {
			return err
		}
		var held bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND owner = $2 AND epoch = $3)`, id, s.owner, epoch).Scan(&held); err != nil {
			return err
		}
		if !held {
			return fmt.Errorf("%w: job %s (epoch %d)", ErrLost, id, epoch)
		}
		rows, err := tx.Query(ctx, `SELECT key FROM checkpoints WHERE job_id = $1`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			kept = append(kept, k)
		}
		return rows.Err()
	})
	return kept, err
}

// latestCheckpoint is the newest recorded checkpoint of job id.
func (s *pgMeta) latestCheckpoint(ctx context.Context, id string) (key string, step int32, ok bool, err error) {
	err = s.db.Do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `SELECT key, step FROM checkpoints WHERE job_id = $1 ORDER BY step DESC, epoch DESC LIMIT 1`, id).Scan(&key, &step)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", 0, false, nil
	}
	return key, step, err == nil, err
}

// setAdapter records where the trained adapter was uploaded.
func (s *pgMeta) setAdapter(ctx context.Context, id string, epoch int64, key string) error {
	return s.db.Do(ctx, func(ctx context.Context) error {
		tag, err := s.db.Pool.Exec(ctx, `UPDATE jobs SET adapter_key = $4 WHERE id = $1 AND owner = $2 AND epoch = $3`, id, s.owner, epoch, key)
		if err == nil && tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: job %s (epoch %d)", ErrLost, id, epoch)
		}
		return err
	})
}

func (s *pgMeta) adapterKey(ctx context.Context, id string) (string, error) {
	var key string
	err := s.db.Do(ctx, func(ctx context.Context) error {
		return s.db.Pool.QueryRow(ctx, `SELECT adapter_key FROM jobs WHERE id = $1`, id).Scan(&key)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	return key, err
}

// reserve claims finished job id for one evaluate or publish by this
// replica: like a running job's claim (owner, lease renewed while the call
// runs, a new epoch fencing the result's write), on a SUCCEEDED job that no
// live claim holds. It returns the job as stored. A job another call holds
// is ErrConflict: two calls never evaluate or publish one job at once, so
// neither overwrites the other's result.
func (s *pgMeta) reserve(ctx context.Context, id string) (*trainerv1.Job, int64, error) {
	if !idPattern.MatchString(id) {
		return nil, 0, fmt.Errorf("%w: job %q", ErrNotFound, id)
	}
	j := &trainerv1.Job{}
	var epoch int64
	err := s.db.Do(ctx, func(ctx context.Context) error {
		// owner = this replica too: a claim of its own whose release did
		// not reach the store (this replica's calls are excluded by the
		// entry's busy flag first).
		return s.db.Pool.QueryRow(ctx, `UPDATE jobs SET owner = $2, epoch = epoch + 1, lease_until = now() + $3 * interval '1 millisecond'
			WHERE id = $1 AND state = $4 AND (owner IS NULL OR owner = $2 OR lease_until < now())
			RETURNING job, epoch`, id, s.owner, s.leaseMS(), int32(trainerv1.JobState_JOB_STATE_SUCCEEDED)).Scan(pg.Proto(j), &epoch)
	})
	if err == nil {
		return j, epoch, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, 0, err
	}
	cur, _, err := s.job(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if st := cur.GetState(); st != trainerv1.JobState_JOB_STATE_SUCCEEDED {
		return nil, 0, fmt.Errorf("%w: job %s is %s; it must have succeeded", ErrState, id, st)
	}
	return nil, 0, busyError(id)
}

// unreserve gives back a claim reserve took, if this replica still holds
// it at epoch (a result written with release already gave it back).
func (s *pgMeta) unreserve(ctx context.Context, id string, epoch int64) error {
	return s.db.Do(ctx, func(ctx context.Context) error {
		_, err := s.db.Pool.Exec(ctx, `UPDATE jobs SET owner = NULL, lease_until = NULL WHERE id = $1 AND owner = $2 AND epoch = $3`, id, s.owner, epoch)
		return err
	})
}
