-- name: AcquireLock :execresult
-- Takes the lease in one round trip when the key is new, released or expired by the database clock.
-- The answer is insertId: the epoch granted, or 0 when another owner holds it. A new key (or one
-- whose idle row was pruned) starts above the epoch floor, at floor + 1 (1 until a prune raised
-- it); on InnoDB the floor is read with a shared lock (as every subquery of a write is), so a read
-- that could miss a prune's raise holds the prune off until this statement ends (see
-- RaiseLockEpochFloor); on TiDB it is read from the statement's snapshot, and a row pruned after
-- that snapshot conflicts with this statement's write of the key: Helix sends it in an optimistic
-- transaction there, whose commit then fails and is sent again, from a fresh snapshot that has the
-- raised floor.
-- (affectedRows is not an answer: for an upsert that changes nothing it is 0 or 1 depending on the
-- client's FOUND_ROWS flag. The VALUES row is evaluated even when the key exists, so the held
-- branch sets LAST_INSERT_ID back to 0.) An attempt sent again with the same token (its first reply
-- was lost) finds its own grant: it gets the same epoch back and the lease is extended from now, so
-- that the holder's deadline, counted from this send, is never later than the database's.
-- Assignments run left to right, so expires_at, which the conditions read, is last.
INSERT INTO helix_locks (lock_key, owner, token, epoch, status, acquired_at, expires_at)
VALUES (
  sqlc.arg(lock_key), sqlc.arg(owner), sqlc.arg(token),
  LAST_INSERT_ID(COALESCE((SELECT f.epoch_floor FROM helix_lock_epoch_floor AS f WHERE f.id = 1), 0) + 1), 1,
  UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND
)
ON DUPLICATE KEY UPDATE
  epoch       = IF(expires_at <= UTC_TIMESTAMP(6), LAST_INSERT_ID(epoch + 1),
                   IF(token = VALUES(token), LAST_INSERT_ID(epoch), epoch + LAST_INSERT_ID(0 * epoch))),
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

-- name: CheckLockEpochForUpdate :one
-- CheckLockEpochForShare for TiDB, which takes no shared row locks (it refuses LOCK IN SHARE MODE,
-- or with tidb_enable_noop_functions runs it without any lock): the same check under an exclusive
-- row lock, held until the caller's transaction ends. Fenced transactions of one lease then run one
-- at a time; the guarantee is the same.
SELECT epoch
FROM helix_locks
WHERE lock_key = sqlc.arg(lock_key)
  AND epoch = sqlc.arg(epoch)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6)
FOR UPDATE;

-- name: FindIdleLocks :one
-- Pruning is three statements, each committed on its own, in this order: FindIdleLocks,
-- RaiseLockEpochFloor, DeleteIdleLocks (see pruneLocks). Idle means released or expired at least
-- `idle_us` ago by the database clock: no lease on the row is in force, nor believed by its holder.
-- 1. The oldest `limit` idle rows: how many, their largest epoch and their latest expiry (in
-- microseconds since 1970, so that step 3 bounds its range exactly). A plain read: step 3 checks
-- every row again.
SELECT COUNT(*) AS idle,
       CAST(COALESCE(MAX(b.epoch), 0) AS UNSIGNED) AS max_epoch,
       CAST(COALESCE(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', MAX(b.expires_at)), 0) AS SIGNED) AS last_expiry_us
FROM (
  SELECT l.epoch, l.expires_at
  FROM helix_locks AS l
  WHERE l.expires_at < UTC_TIMESTAMP(6) - INTERVAL sqlc.arg(idle_us) MICROSECOND
  ORDER BY l.expires_at
  LIMIT ?
) AS b;

-- name: RaiseLockEpochFloor :exec
-- 2. The floor rises to the batch's largest epoch (never falls), and commits before any row goes:
-- an acquire that read the floor before this statement holds it off until that acquire ended, so
-- an acquire that finds a key deleted by step 3 read the raised floor. (Row counts are no answer:
-- they depend on the client's FOUND_ROWS flag when the floor was already as high.)
UPDATE helix_lock_epoch_floor
SET epoch_floor = GREATEST(epoch_floor, sqlc.arg(max_epoch))
WHERE id = 1;

-- name: DeleteIdleLocks :execrows
-- 3. Deletes the batch: rows still idle, within step 1's range of expiries, and with an epoch the
-- floor covers. A row acquired since step 1 is no longer idle (every write sets expires_at to now
-- or later, out of the range), so it stays; ties at the range's end are kept unless covered.
DELETE FROM helix_locks
WHERE expires_at <= '1970-01-01 00:00:00' + INTERVAL sqlc.arg(last_expiry_us) MICROSECOND
  AND expires_at < UTC_TIMESTAMP(6) - INTERVAL sqlc.arg(idle_us) MICROSECOND
  AND epoch <= sqlc.arg(max_epoch)
ORDER BY expires_at
LIMIT ?;
