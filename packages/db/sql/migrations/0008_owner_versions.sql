-- What changed for a member since it last looked, without reading all its partitions.
--
-- Every write that changes a partition for its owner (given to it, asked to release it) stamps the
-- row with the owner's assignment version as it will be once the owner is told: the version read
-- under the owner's row lock, + 1. A member that has read its partitions as of assignment version V
-- then needs only the rows stamped above V: a heartbeat that finds its version unchanged reads
-- nothing, one that finds it moved reads the rows that changed. Rows from before this migration
-- are stamped 0; a member reads all its partitions when it joins or registers again.
ALTER TABLE helix_ownership ADD COLUMN owner_version BIGINT UNSIGNED NOT NULL DEFAULT 0;

-- The changed rows of one owner are a range of this index, not a scan of all its partitions.
ALTER TABLE helix_ownership ADD KEY helix_ownership_by_owner_version (cluster, node_id, owner_version);

-- Its leading columns serve every read by owner that the earlier index served.
ALTER TABLE helix_ownership DROP KEY helix_allocation_by_node;

-- Writers of the earlier protocol ask for releases without stamping them, so a member of this one
-- would never read those requests while its heartbeats go on, and a forced hand-off would find it
-- still working. Every statement of theirs that asks for a release, or hands a partition over,
-- writes this column: under its new name they fail (and are reported) instead. Members of the
-- earlier protocol, which read all their partitions and never this column, keep working.
ALTER TABLE helix_ownership RENAME COLUMN release_requested_at TO release_asked_at;
