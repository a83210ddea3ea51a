-- Maintenance mode: while a row here is in force (it has no expiry, or the database clock has not
-- reached it) the coordinator moves nothing in its scope, the whole cluster (`domain` and
-- `task_list` empty) or one task list: owners keep what they have, a member that joins takes
-- nothing, a member that leaves or dies keeps its partitions (or leaves them without an owner).
-- What it still does moves nothing to another member: a hand-off asked for before completes, and a
-- member restarted under its node id takes its own partitions back. Starting or ending maintenance
-- moves the cluster's catalog counter, so that the leader looks again at once.
--
-- Processes of an earlier version never read the table: a coordinator of that version ignores
-- maintenance, so upgrade the coordinators before relying on it.
CREATE TABLE helix_maintenance (
  cluster    VARCHAR(128) NOT NULL,
  domain     VARCHAR(128) NOT NULL,
  task_list  VARCHAR(128) NOT NULL,
  reason     VARCHAR(512) NOT NULL,
  actor      VARCHAR(255) NOT NULL,
  started_at DATETIME(6) NOT NULL,
  expires_at DATETIME(6) NULL,
  PRIMARY KEY (cluster, domain, task_list)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
