ALTER TABLE collections DROP COLUMN exact_bounds;
