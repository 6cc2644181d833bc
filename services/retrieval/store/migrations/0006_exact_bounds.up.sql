-- Block-max ranking's first postings batch (issue #12, store/blockmax.go)
-- is sized by a lower bound of the k-th best score taken from the bound
-- points themselves, which holds only when every point but a block's
-- capped last one is a real posting's (tf, len): so CommitIndex and the
-- bulk load write them. Migration 0004's rows converted from older
-- postings carry one made-up point a block (the block's highest tf with
-- its shortest length), so every collection that exists now is marked
-- not exact (the ranking then sizes its batches without that bound, as
-- before); collections created from here on are exact. (A collection
-- written entirely after 0004 may be marked again by hand:
-- UPDATE collections SET exact_bounds = true WHERE name = '…'.)
ALTER TABLE collections ADD COLUMN exact_bounds boolean NOT NULL DEFAULT false;
ALTER TABLE collections ALTER COLUMN exact_bounds SET DEFAULT true;
