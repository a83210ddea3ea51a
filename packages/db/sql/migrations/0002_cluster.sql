-- Cluster membership, the task-list catalog and partition ownership.
-- Every table leads with `cluster`, and every statement names one cluster, so the tables can be
-- sharded by cluster.

-- Change counters per cluster: a reader polls one row to learn whether membership, the catalog or
-- the ownership table changed since it last looked, instead of reading them.
CREATE TABLE helix_cluster_state (
  cluster            VARCHAR(128) NOT NULL,
  membership_version BIGINT UNSIGNED NOT NULL DEFAULT 0,
  catalog_version    BIGINT UNSIGNED NOT NULL DEFAULT 0,
  allocation_version BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (cluster)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Members of a cluster. A member is live while status = 1 and expires_at (last heartbeat + member TTL,
-- computed by the database clock) is in the future. `incarnation` changes on every registration, so
-- a member that was declared dead and re-registers is told apart from its earlier self.
-- `assignment_version` grows whenever the member's partitions change; heartbeats return it, so a
-- member notices "nothing changed" without reading its partitions.
CREATE TABLE helix_nodes (
  cluster            VARCHAR(128) NOT NULL,
  node_id            VARCHAR(128) NOT NULL,
  incarnation        CHAR(32) CHARACTER SET ascii NOT NULL,
  metadata           JSON NOT NULL,
  status             TINYINT NOT NULL,
  assignment_version BIGINT UNSIGNED NOT NULL DEFAULT 0,
  registered_at      DATETIME(6) NOT NULL,
  heartbeat_at       DATETIME(6) NOT NULL,
  expires_at         DATETIME(6) NOT NULL,
  PRIMARY KEY (cluster, node_id),
  KEY helix_nodes_by_expiry (cluster, status, expires_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The catalog: task lists, each with a partition count. `version` grows on every change of the
-- row; status 1 = active, 2 = deletable (removed; its partitions are being released).
CREATE TABLE helix_cluster (
  cluster    VARCHAR(128) NOT NULL,
  domain     VARCHAR(128) NOT NULL,
  task_list  VARCHAR(128) NOT NULL,
  partitions INT UNSIGNED NOT NULL,
  metadata   JSON NOT NULL,
  status     TINYINT NOT NULL,
  version    BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  PRIMARY KEY (cluster, domain, task_list)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Partition ownership: exactly one row per partition, so a partition has at most one owner by
-- construction. `generation` grows on every change of owner and is handed to the worker as its
-- fencing token. `state`: 0 unassigned, 1 assigned, 2 release requested, 3 released.
-- `target_node_id` is where a partition goes once its current owner confirms the release (NULL when
-- the partition is being retired by a shrink or removal).
CREATE TABLE helix_allocation (
  cluster              VARCHAR(128) NOT NULL,
  domain               VARCHAR(128) NOT NULL,
  task_list            VARCHAR(128) NOT NULL,
  partition_id         INT UNSIGNED NOT NULL,
  node_id              VARCHAR(128) NULL,
  state                TINYINT NOT NULL,
  generation           BIGINT UNSIGNED NOT NULL,
  target_node_id       VARCHAR(128) NULL,
  assigned_at          DATETIME(6) NULL,
  release_requested_at DATETIME(6) NULL,
  updated_at           DATETIME(6) NOT NULL,
  PRIMARY KEY (cluster, domain, task_list, partition_id),
  KEY helix_allocation_by_node (cluster, node_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- 0 .. 9999: partition numbers, so that a task list's partition rows are created by one
-- INSERT ... SELECT (sqlc supports no recursive CTE in INSERT). Read-only after this migration.
CREATE TABLE helix_numbers (
  n INT UNSIGNED NOT NULL,
  PRIMARY KEY (n)
) ENGINE = InnoDB;

INSERT INTO helix_numbers (n)
SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d
FROM (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
      UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS a
CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
      UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS b
CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
      UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS c
CROSS JOIN (SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
      UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) AS e;
