-- name: ListSchemaMigrations :many
SELECT version, name, checksum, statements_applied, started_at, finished_at
FROM helix_schema_migrations
ORDER BY version;

-- name: AcquireSchemaLock :execlastid
-- Takes the migration lease when it is free or expired. The answer is insertId (never affectedRows,
-- whose meaning depends on the client's FOUND_ROWS flag): 1 = taken, 0 = held by another process.
-- `id` stays 1 in every branch; it only carries the answer.
INSERT INTO helix_schema_lock (id, owner, token, expires_at)
VALUES (LAST_INSERT_ID(1), sqlc.arg(owner), sqlc.arg(token), UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND)
ON DUPLICATE KEY UPDATE
  id         = IF(expires_at <= UTC_TIMESTAMP(6), LAST_INSERT_ID(id), id + LAST_INSERT_ID(0 * id)),
  owner      = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(owner), owner),
  token      = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(token), token),
  expires_at = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(expires_at), expires_at);

-- name: RenewSchemaLock :execrows
UPDATE helix_schema_lock
SET expires_at = UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND
WHERE id = 1 AND token = sqlc.arg(token) AND expires_at > UTC_TIMESTAMP(6);

-- name: ReleaseSchemaLock :execrows
UPDATE helix_schema_lock
SET expires_at = UTC_TIMESTAMP(6)
WHERE id = 1 AND token = sqlc.arg(token);

-- name: StartSchemaMigration :exec
-- Records that a migration began; a row left by an interrupted run is kept as it is.
INSERT IGNORE INTO helix_schema_migrations (version, name, checksum, statements_applied, started_at)
VALUES (sqlc.arg(version), sqlc.arg(name), sqlc.arg(checksum), 0, UTC_TIMESTAMP(6));

-- name: RecordSchemaStatement :execrows
-- Records one more applied statement of a migration, only while the caller still holds the lease.
UPDATE helix_schema_migrations
SET statements_applied = sqlc.arg(statements_applied)
WHERE version = sqlc.arg(version)
  AND EXISTS (
    SELECT 1 FROM helix_schema_lock
    WHERE id = 1 AND token = sqlc.arg(token) AND expires_at > UTC_TIMESTAMP(6)
  );

-- name: FinishSchemaMigration :execrows
UPDATE helix_schema_migrations
SET finished_at = UTC_TIMESTAMP(6)
WHERE version = sqlc.arg(version) AND finished_at IS NULL;
