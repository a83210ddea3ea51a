-- Process identity and provable hand-off.
--
-- A partition's row records the incarnation of the process that owns it, not only its node id:
-- node ids are reused (restarts, StatefulSet names), and only the owning process may release,
-- confirm or fence the partition. A row whose incarnation is not its member's live one is owned by
-- a process that is gone. Rows from before this migration have none and are reassigned.
ALTER TABLE helix_allocation ADD COLUMN incarnation CHAR(32) CHARACTER SET ascii NULL;

-- A member's TTL, so that a live owner that does not confirm a release is overruled only after the
-- database clock passed (release request + its TTL): by then it has stopped on its own. Members
-- registered before this migration count as having the longest TTL a member may have until their
-- next heartbeat records their own.
ALTER TABLE helix_nodes ADD COLUMN ttl_us BIGINT UNSIGNED NOT NULL DEFAULT 3600000000;
