-- name: AcquireLock :execresult
-- Takes the lease in one round trip when the key is new, released or expired by the database clock.
-- The answer is insertId: the epoch granted (1 for a new key), or 0 when another owner holds it.
-- (affectedRows is not an answer: for an upsert that changes nothing it is 0 or 1 depending on the
-- client's FOUND_ROWS flag. The VALUES row is evaluated even when the key exists, so the held
-- branch sets LAST_INSERT_ID back to 0.) An attempt sent again with the same token (its first reply
-- was lost) finds its own grant: it gets the same epoch back and the lease is extended from now, so
-- that the holder's deadline, counted from this send, is never later than the database's.
-- Assignments run left to right, so expires_at, which the conditions read, is last.
INSERT INTO helix_locks (lock_key, owner, token, epoch, status, acquired_at, expires_at)
VALUES (
  sqlc.arg(lock_key), sqlc.arg(owner), sqlc.arg(token), LAST_INSERT_ID(1), 1,
  UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND
)
ON DUPLICATE KEY UPDATE
  epoch       = IF(expires_at <= UTC_TIMESTAMP(6), LAST_INSERT_ID(epoch + 1),
                   IF(token = VALUES(token), LAST_INSERT_ID(epoch), epoch + LAST_INSERT_ID(0))),
  owner       = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(owner), owner),
  token       = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(token), token),
  status      = IF(expires_at <= UTC_TIMESTAMP(6), 1, status),
  acquired_at = IF(expires_at <= UTC_TIMESTAMP(6), VALUES(acquired_at), acquired_at),
  expires_at  = IF(expires_at <= UTC_TIMESTAMP(6) OR token = VALUES(token), VALUES(expires_at), expires_at);

-- name: RenewLock :execrows
-- Extends a lease that this token still holds and that has not expired. 1 row = renewed.
UPDATE helix_locks
SET expires_at = UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND
WHERE lock_key = sqlc.arg(lock_key)
  AND token = sqlc.arg(token)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6);

-- name: ReleaseLock :execrows
-- Ends a lease held by this token; the key is free at once. The epoch is kept. 1 row = released.
UPDATE helix_locks
SET status = 0,
    expires_at = UTC_TIMESTAMP(6)
WHERE lock_key = sqlc.arg(lock_key)
  AND token = sqlc.arg(token)
  AND status = 1;

-- name: GetLock :one
-- The lease on a key as the database sees it now.
SELECT lock_key, owner, epoch, status, acquired_at, expires_at,
       CAST(status = 1 AND expires_at > UTC_TIMESTAMP(6) AS SIGNED) AS held,
       TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) AS remaining_us
FROM helix_locks
WHERE lock_key = sqlc.arg(lock_key);

-- name: CheckLockEpochForShare :one
-- Inside the caller's transaction: returns the row only while `epoch` is still the key's current,
-- unexpired lease, and holds a shared row lock until that transaction ends, so no new owner can
-- take the key before the caller's fenced write commits.
SELECT epoch
FROM helix_locks
WHERE lock_key = sqlc.arg(lock_key)
  AND epoch = sqlc.arg(epoch)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6)
LOCK IN SHARE MODE;
