-- Lease locks with fencing epochs.
--
-- A key's row is never deleted: its epoch is the fencing token, and it must only ever grow, so the
-- row that remembers it stays (released leases keep their epoch; a later owner gets epoch + 1).
-- A lease is held while status = 1 (active) and expires_at is in the future by the database clock.
CREATE TABLE helix_locks (
  lock_key    VARCHAR(255) NOT NULL,
  owner       VARCHAR(255) NOT NULL,
  token       CHAR(32) CHARACTER SET ascii NOT NULL,
  epoch       BIGINT UNSIGNED NOT NULL,
  status      TINYINT NOT NULL,
  acquired_at DATETIME(6) NOT NULL,
  expires_at  DATETIME(6) NOT NULL,
  PRIMARY KEY (lock_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
