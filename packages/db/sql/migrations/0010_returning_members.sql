-- Static membership: a member that leaves saying it will be back (a rolling restart) keeps its
-- partitions reserved for its node id for `return_within_us` after its registration ended; its next
-- process takes them back at a new generation, and no other member owns them in between. 0: a
-- member that left for good, or whose TTL passed (its partitions move as they always did).
--
-- Processes of an earlier version never write the column (it defaults to 0) and never read it:
-- they keep working as before beside this version.
ALTER TABLE helix_nodes ADD COLUMN return_within_us BIGINT NOT NULL DEFAULT 0;
