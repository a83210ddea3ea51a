-- One audit row for many transitions: the transitions a round records together that share their
-- kind, task list, owners before and after, cause and actor. A first assignment of 100,000
-- partitions to 4 members writes a few hundred rows instead of 100,000: a row per partition was
-- about a third of such a round's work, in the database and in the coordinator.
--
-- `partition_count`: how many transitions the row records. `partitions`: NULL for a row of one (the
-- partition in `partition_id`, at `generation`, as every row before this migration); otherwise each
-- transition's `partition:generation`, comma-separated, in the order recorded (`partition_id` and
-- `generation` are the first's).
--
-- Processes of an earlier version read a row of many as the transition of its first partition.
ALTER TABLE helix_transitions ADD COLUMN partition_count INT UNSIGNED NOT NULL DEFAULT 1;
ALTER TABLE helix_transitions ADD COLUMN partitions MEDIUMTEXT NULL;
