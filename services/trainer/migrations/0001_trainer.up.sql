-- The trainer's datasets, jobs and checkpoints (schema trainer). The bytes
-- (dataset splits, checkpoints, adapters) are in the shared blob bucket;
-- these rows say where. dataset, job and progress are protobufs
-- (trainerv1.Dataset, Job, WatchJobResponse); state and tenant are copied
-- out of them for the queries that need them.
CREATE TABLE datasets (
    id          text PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    dataset     bytea NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now()
);

-- A job runs on the replica that holds its lease (owner, lease_until); each
-- claim increments epoch, and every write of a running job names the epoch
-- it claimed, so a replica that lost the job writes nothing.
CREATE TABLE jobs (
    id               text PRIMARY KEY,
    tenant           text NOT NULL DEFAULT '',
    state            integer NOT NULL,
    owner            text,
    epoch            bigint NOT NULL DEFAULT 0,
    lease_until      timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    adapter_key      text NOT NULL DEFAULT '',
    job              bytea NOT NULL,
    progress         bytea NOT NULL,
    create_time      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_active ON jobs (lease_until) WHERE state IN (1, 2);

-- Checkpoints a job's worker wrote, recorded by the replica that held the
-- job at that epoch; the newest step is where a resumed job continues.
CREATE TABLE checkpoints (
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    step        integer NOT NULL,
    epoch       bigint NOT NULL,
    key         text NOT NULL,
    create_time timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, step, epoch)
);
