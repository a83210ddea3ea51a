-- Operator placements: a partition pinned to a member, or moved to one. While the member is live
-- (and not draining) the coordinator keeps the partition on it, moving it there through the
-- acknowledged hand-off when another member owns it, and balances the other partitions around it.
-- While the member is not live the row is set aside and the partition is placed as any other; it
-- goes back when the member is live again.
--
-- `incarnation` empty: a pin, which holds until it is lifted. Otherwise a move: it holds while that
-- process of the member lives (the incarnation it had when the move was made) and lapses when the
-- node id registers again or is gone, leaving the partition to the planner from then on. One row
-- per partition: a later pin or move replaces an earlier one.
--
-- The transitions that carry out a placement have cause 8 (operator) in helix_transitions.
--
-- Making or lifting a placement moves the cluster's catalog counter, so that the leader looks
-- again at once. Processes of an earlier version never read the table: a coordinator of that
-- version ignores placements, so upgrade the coordinators before relying on them.
CREATE TABLE helix_placements (
  cluster      VARCHAR(128) NOT NULL,
  domain       VARCHAR(128) NOT NULL,
  task_list    VARCHAR(128) NOT NULL,
  partition_id INT UNSIGNED NOT NULL,
  node_id      VARCHAR(128) NOT NULL,
  incarnation  CHAR(32) CHARACTER SET ascii NOT NULL,
  reason       VARCHAR(512) NOT NULL,
  actor        VARCHAR(255) NOT NULL,
  created_at   DATETIME(6) NOT NULL,
  PRIMARY KEY (cluster, domain, task_list, partition_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
