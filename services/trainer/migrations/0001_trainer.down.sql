DROP TABLE checkpoints;
DROP TABLE jobs;
DROP TABLE datasets;
