-- Agent runs (schema agents). run is the agentsv1.Run protobuf; status,
-- tenant and owner are copied out of it for the queries that need them.
CREATE TABLE runs (
    id          text PRIMARY KEY,
    tenant      text NOT NULL DEFAULT '',
    status      integer NOT NULL,
    owner       text NOT NULL,
    run         bytea NOT NULL,
    update_time timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX runs_running ON runs (owner) WHERE status = 1;

-- Live replicas: each renews beat_until while it runs; a RUNNING run whose
-- owner is not live any more is marked INTERRUPTED by any replica.
CREATE TABLE replicas (
    id         text PRIMARY KEY,
    beat_until timestamptz NOT NULL
);
