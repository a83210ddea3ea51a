-- Lock rows that have been idle for long may be deleted (see PruneIdleLocks), so that a table of
-- unique keys stays bounded. A key's epoch is its fencing token and must never go back, yet a key
-- whose row is gone would start again at epoch 1: a holder of that key's old epoch 1 would then
-- pass the fence. So one floor, for every key, remembers the largest epoch ever deleted: it is
-- raised before rows are deleted, and a new key's first epoch is floor + 1, above every epoch any
-- deleted key ever had. Keys whose rows stay keep counting from their own epoch as before.
CREATE TABLE helix_lock_epoch_floor (
  id          TINYINT UNSIGNED NOT NULL,
  epoch_floor BIGINT UNSIGNED NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The only row (id 1). AcquireLock reads it; only PruneIdleLocks' transaction raises it.
INSERT INTO helix_lock_epoch_floor (id, epoch_floor) VALUES (1, 0);

-- Pruning finds idle rows oldest first in bounded batches: a range of this index, never a scan of
-- the table. (expires_at is when a released lease was released, or when an unreleased one expired.)
-- The epoch rides along, so that finding a batch's largest epoch reads the index alone; every write
-- that changes the epoch changes expires_at too, so it costs no extra index write.
ALTER TABLE helix_locks ADD KEY helix_locks_by_expiry (expires_at, epoch);
