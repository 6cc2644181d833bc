-- Singleton leases (issue #12): background work that exactly one replica
-- may do at a time (refining a document's vectors) is done under a lease
-- row; the holder renews it while it works, a killed holder's lease
-- expires and another replica takes it over. Times are the server's.
CREATE TABLE leases (
    key   text COLLATE "C" PRIMARY KEY,
    owner text        NOT NULL,
    until timestamptz NOT NULL
);
