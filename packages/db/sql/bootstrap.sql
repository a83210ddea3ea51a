-- Bookkeeping for migrate(). These statements are idempotent and run on every migrate() call,
-- before the migration lease is taken, so they must stay CREATE ... IF NOT EXISTS.

-- One row per applied (or partly applied) migration. A migration is complete when finished_at is set;
-- statements_applied lets a migration interrupted by a crash resume after its last finished statement.
CREATE TABLE IF NOT EXISTS helix_schema_migrations (
  version            INT UNSIGNED NOT NULL,
  name               VARCHAR(255) NOT NULL,
  checksum           CHAR(64) CHARACTER SET ascii NOT NULL,
  statements_applied INT UNSIGNED NOT NULL DEFAULT 0,
  started_at         DATETIME(6) NOT NULL,
  finished_at        DATETIME(6) NULL,
  PRIMARY KEY (version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A single-row lease that serialises concurrent migrate() calls. It is a lease with an expiry judged
-- by the database clock (not GET_LOCK, which is bound to one session and breaks behind proxies), so a
-- migrating process that dies releases it by expiry.
CREATE TABLE IF NOT EXISTS helix_schema_lock (
  id         TINYINT UNSIGNED NOT NULL,
  owner      VARCHAR(255) NOT NULL,
  token      CHAR(32) CHARACTER SET ascii NOT NULL,
  expires_at DATETIME(6) NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
