-- Member weights and the coordinator's audit trail.

-- A member's share of partitions is proportional to its weight (0 takes none). Set at registration.
ALTER TABLE helix_nodes ADD COLUMN weight INT UNSIGNED NOT NULL DEFAULT 1;

-- Every ownership change the coordinator made: what moved where, at which generation, under which
-- leadership epoch. Rows older than the coordinator's retention are deleted in bounded batches.
-- `kind`: 1 assigned (was unassigned), 2 handed off (owner confirmed its release), 3 reclaimed
-- (owner no longer live), 4 forced (owner did not confirm in time), 5 release requested.
CREATE TABLE helix_transitions (
  cluster      VARCHAR(128) NOT NULL,
  id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  created_at   DATETIME(6) NOT NULL,
  epoch        BIGINT UNSIGNED NOT NULL,
  kind         TINYINT NOT NULL,
  domain       VARCHAR(128) NOT NULL,
  task_list    VARCHAR(128) NOT NULL,
  partition_id INT UNSIGNED NOT NULL,
  from_node_id VARCHAR(128) NULL,
  to_node_id   VARCHAR(128) NULL,
  generation   BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (cluster, id),
  KEY helix_transitions_by_id (id),
  KEY helix_transitions_by_time (cluster, created_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
