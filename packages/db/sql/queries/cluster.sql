-- name: RegisterMember :execlastid
-- Registers a member, or re-registers one whose earlier registration is no longer live. The answer
-- is insertId (never affectedRows, whose meaning depends on the client's FOUND_ROWS flag): the
-- member's assignment version (> 0) when registered, 0 when a live member with this id exists. A
-- registration sent again by the same incarnation (its first reply was lost) finds its own row: it
-- is registered, its TTL extended from now, its assignment version unchanged. The conditions read
-- `incarnation` after its own assignment, which keeps a live other incarnation's row as it is.
INSERT INTO helix_nodes (cluster, node_id, incarnation, metadata, weight, ttl_us, status, assignment_version,
                         registered_at, heartbeat_at, expires_at)
VALUES (
  sqlc.arg(cluster), sqlc.arg(node_id), sqlc.arg(incarnation), sqlc.arg(metadata), sqlc.arg(weight), sqlc.arg(ttl_us),
  1, LAST_INSERT_ID(1), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND
)
ON DUPLICATE KEY UPDATE
  return_within_us = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), 0, return_within_us),
  assignment_version = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), LAST_INSERT_ID(assignment_version + 1),
                          IF(incarnation = VALUES(incarnation), LAST_INSERT_ID(assignment_version),
                             assignment_version + LAST_INSERT_ID(0 * assignment_version))),
  incarnation   = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(incarnation), incarnation),
  metadata      = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(metadata), metadata),
  weight        = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(weight), weight),
  ttl_us        = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(ttl_us), ttl_us),
  registered_at = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(registered_at), registered_at),
  heartbeat_at  = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6) OR incarnation = VALUES(incarnation),
                     VALUES(heartbeat_at), heartbeat_at),
  expires_at    = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6) OR incarnation = VALUES(incarnation),
                     VALUES(expires_at), expires_at),
  status        = 1;

-- name: HeartbeatMember :execresult
-- Extends a live registration. affectedRows 1 = alive, and insertId is the member's assignment
-- version; 0 = this incarnation is no longer live and must re-register.
UPDATE helix_nodes
SET heartbeat_at = UTC_TIMESTAMP(6),
    expires_at = UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND,
    ttl_us = sqlc.arg(ttl_us),
    assignment_version = LAST_INSERT_ID(assignment_version)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6);

-- name: WatchMembers :many
-- What members poll between heartbeats: their assignment versions, by node id, in one read for the
-- members of a process that share a pool (a point read for one). A member whose incarnation's
-- registration has been replaced finds another incarnation (its next heartbeat finds out).
SELECT node_id, incarnation, assignment_version
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster)
  AND node_id IN (sqlc.slice(node_ids));

-- name: DeregisterMember :execrows
-- A graceful leave: the member is inactive at once, without waiting for its TTL. With
-- `return_within_us` > 0 its partitions stay reserved for its node id that long (see
-- ReserveMemberPartitions); a registration of the node id clears it.
UPDATE helix_nodes
SET status = 0,
    expires_at = UTC_TIMESTAMP(6),
    return_within_us = sqlc.arg(return_within_us)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND status = 1;

-- name: SetMemberWeight :execrows
-- Sets a live member's weight. 0 drains it: it takes no partitions, and the coordinator moves what
-- it owns to the others through the acknowledged hand-off, as for any member over its share. It
-- lasts for this registration only: a later registration of the node id brings its own weight.
UPDATE helix_nodes
SET weight = sqlc.arg(weight)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6);

-- name: MarkExpiredMembersInactive :execrows
-- The sweep: members whose last heartbeat + TTL has passed by the database clock become inactive.
UPDATE helix_nodes
SET status = 0
WHERE cluster = sqlc.arg(cluster)
  AND status = 1
  AND expires_at <= UTC_TIMESTAMP(6);

-- name: DeleteDepartedMembers :execrows
-- Retention: deletes up to LIMIT members whose registration ended (left, or TTL passed by the
-- database clock) more than `retention_us` ago, longest gone first, but never one whose node id an
-- ownership row names, of whichever incarnation: AssignPartition and the coordinator's plan read
-- the owner's row (its incarnation, liveness and TTL) to judge a stale or gone owner, and such a
-- row stays until its partitions have moved on. A partition goes only to a live member (its row
-- locked), so no ownership row comes to name a deleted one; registering again makes a new row.
DELETE FROM helix_nodes
WHERE helix_nodes.cluster = sqlc.arg(cluster)
  AND helix_nodes.expires_at < UTC_TIMESTAMP(6) - INTERVAL sqlc.arg(retention_us) MICROSECOND
  AND NOT EXISTS (
    SELECT 1 FROM helix_allocation AS a
    WHERE a.cluster = sqlc.arg(cluster) AND a.node_id = helix_nodes.node_id
  )
ORDER BY helix_nodes.expires_at
LIMIT ?;

-- name: ListMembers :many
-- Every member row of a cluster, left and expired ones included, by node id; live is judged by the
-- database clock. `left_early` tells a graceful leave from a TTL that passed: registering and
-- heartbeating write expires_at = heartbeat_at + ttl_us in one statement and the sweep of expired
-- members changes only status, while a leave (DeregisterMember) sets expires_at to the leave time,
-- before that sum when the member was still live. `will_return`: it left saying it would be back, and
-- the time it gave has not passed (its partitions wait for its node id).
SELECT node_id, incarnation, metadata, weight, status, assignment_version, registered_at, heartbeat_at,
       expires_at, CAST(status = 1 AND expires_at > UTC_TIMESTAMP(6) AS SIGNED) AS live,
       CAST(status = 0 AND expires_at < heartbeat_at + INTERVAL ttl_us MICROSECOND AS SIGNED) AS left_early,
       CAST(status = 0 AND return_within_us > 0
            AND expires_at + INTERVAL return_within_us MICROSECOND > UTC_TIMESTAMP(6) AS SIGNED) AS will_return
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster)
ORDER BY node_id;

-- name: ShortestMemberTtl :one
-- The shortest TTL among a cluster's registered members, in microseconds (0 when none is): a write
-- that locks member rows is bounded by it, since those members' heartbeats wait for the locks.
SELECT CAST(COALESCE(MIN(ttl_us), 0) AS UNSIGNED) AS ttl_us
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster) AND status = 1;

-- name: BumpAssignmentVersions :execrows
-- Tells members that their partitions changed; the next heartbeat or watch of each returns its new
-- version.
UPDATE helix_nodes
SET assignment_version = assignment_version + 1
WHERE cluster = sqlc.arg(cluster)
  AND node_id IN (sqlc.slice(node_ids));

-- name: BumpMembershipVersion :exec
-- Moves the cluster's membership counter (creating its counters row at 1 if missing).
INSERT INTO helix_cluster_state (cluster, membership_version, catalog_version, ownership_version)
VALUES (sqlc.arg(cluster), 1, 0, 0)
ON DUPLICATE KEY UPDATE membership_version = membership_version + 1;

-- name: BumpCatalogVersion :exec
-- Moves the cluster's catalog counter (creating its counters row at 1 if missing).
INSERT INTO helix_cluster_state (cluster, membership_version, catalog_version, ownership_version)
VALUES (sqlc.arg(cluster), 0, 1, 0)
ON DUPLICATE KEY UPDATE catalog_version = catalog_version + 1;

-- name: BumpOwnershipVersion :exec
-- Moves the cluster's ownership counter (creating its counters row at 1 if missing).
INSERT INTO helix_cluster_state (cluster, membership_version, catalog_version, ownership_version)
VALUES (sqlc.arg(cluster), 0, 0, 1)
ON DUPLICATE KEY UPDATE ownership_version = ownership_version + 1;

-- name: GetClusterState :one
-- One indexed row: how a reader learns cheaply whether anything changed.
SELECT membership_version, catalog_version, ownership_version
FROM helix_cluster_state
WHERE cluster = sqlc.arg(cluster);

-- name: PutTaskList :execlastid
-- Creates a task list or changes its partition count or metadata. version grows only when
-- something changed. The answer is insertId (never affectedRows, whose meaning depends on the
-- client's FOUND_ROWS flag): 1 = created, the new version (> 1) = changed, 0 = already as given.
INSERT INTO helix_cluster (cluster, domain, task_list, partitions, metadata, status, version,
                           created_at, updated_at)
VALUES (
  sqlc.arg(cluster), sqlc.arg(domain), sqlc.arg(task_list), sqlc.arg(partitions), sqlc.arg(metadata),
  1, LAST_INSERT_ID(1), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
)
ON DUPLICATE KEY UPDATE
  version    = IF(partitions <> VALUES(partitions) OR metadata <> VALUES(metadata) OR status <> 1,
                  LAST_INSERT_ID(version + 1), version + LAST_INSERT_ID(0 * version)),
  updated_at = IF(partitions <> VALUES(partitions) OR metadata <> VALUES(metadata) OR status <> 1,
                  VALUES(updated_at), updated_at),
  partitions = VALUES(partitions),
  metadata   = VALUES(metadata),
  status     = 1;

-- name: GetTaskList :one
-- One task list of the catalog, whatever its status.
SELECT domain, task_list, partitions, metadata, status, version, created_at, updated_at
FROM helix_cluster
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list);

-- name: ListTaskLists :many
-- Task lists in the catalog, removed ones still releasing included (status 2); finished removals
-- (status 0) are not listed.
SELECT domain, task_list, partitions, metadata, status, version, created_at, updated_at
FROM helix_cluster
WHERE cluster = sqlc.arg(cluster)
  AND status <> 0
ORDER BY domain, task_list;

-- name: MarkTaskListDeletable :execrows
-- Removes a task list from the catalog; its partitions are released, then the row is deleted.
UPDATE helix_cluster
SET status = 2,
    version = version + 1,
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND status = 1;

-- name: FinishTaskListRemoval :execrows
-- Marks a removed task list finished (status 0) once none of its partitions is left. The row stays,
-- so that the task list's generation floor outlives it.
UPDATE helix_cluster
SET status = 0,
    version = version + 1,
    updated_at = UTC_TIMESTAMP(6)
WHERE helix_cluster.cluster = sqlc.arg(cluster)
  AND helix_cluster.domain = sqlc.arg(domain)
  AND helix_cluster.task_list = sqlc.arg(task_list)
  AND helix_cluster.status = 2
  AND NOT EXISTS (
    SELECT 1 FROM helix_allocation AS a
    WHERE a.cluster = sqlc.arg(cluster) AND a.domain = sqlc.arg(domain) AND a.task_list = sqlc.arg(task_list)
  );

-- name: LockTaskList :one
-- Inside a transaction: locks a task list's row until commit and returns it as it is now, so that a
-- clean-up goes by its current partition count and status, whatever its caller read before (a put
-- in between waits for the commit, or has committed and is seen).
SELECT partitions, status
FROM helix_cluster
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
FOR UPDATE;

-- name: InsertPartitions :execrows
-- Adds the missing unassigned rows of partitions 0 .. partitions-1, at the task list's generation
-- floor; existing rows are left as they are.
INSERT IGNORE INTO helix_allocation (cluster, domain, task_list, partition_id, node_id, state,
                                     generation, updated_at)
SELECT c.cluster, c.domain, c.task_list, n.n, NULL, 0, c.generation_floor, UTC_TIMESTAMP(6)
FROM helix_numbers AS n
JOIN helix_cluster AS c
  ON c.cluster = sqlc.arg(cluster) AND c.domain = sqlc.arg(domain) AND c.task_list = sqlc.arg(task_list)
WHERE n.n < sqlc.arg(partitions);

-- name: RaiseGenerationFloor :execrows
-- Before partitions numbered from `first_partition` up are deleted: the task list's generation floor
-- rises to their highest generation, so that partitions created again later start above it.
UPDATE helix_cluster
SET generation_floor = GREATEST(generation_floor, (
  SELECT COALESCE(MAX(a.generation), 0) FROM helix_allocation AS a
  WHERE a.cluster = sqlc.arg(cluster) AND a.domain = sqlc.arg(domain) AND a.task_list = sqlc.arg(task_list)
    AND a.partition_id >= sqlc.arg(first_partition)
))
WHERE helix_cluster.cluster = sqlc.arg(cluster)
  AND helix_cluster.domain = sqlc.arg(domain)
  AND helix_cluster.task_list = sqlc.arg(task_list);

-- name: LockPartitionsFrom :many
-- Inside a transaction, before partitions numbered from `first_partition` up retire: locks their
-- rows until commit and returns them, so that their owners are known (and their rows locked next,
-- see LockMembers) before the release requests are written and dated.
SELECT partition_id, node_id, incarnation, state, target_node_id
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id >= sqlc.arg(first_partition)
FOR UPDATE;

-- name: RetireOwnedPartitionsFrom :execrows
-- Asks one owner of partitions numbered from `first_partition` up (removed by a shrink or a
-- removal) to release them; there is no target, so they are deleted once released. A request
-- already pending keeps its time. The caller locked the rows (LockPartitionsFrom) and the owner's
-- member row (LockMembers) first, so the request is dated once its owner can see it, and stamped
-- with the owner's next assignment version (see 0008_owner_versions.sql). release_asked_at is
-- assigned before state, whose old value it reads (see "Changing the SQL" in docs/development.md:
-- assignments run left to right).
UPDATE helix_allocation
SET release_asked_at = IF(state = 2, release_asked_at, UTC_TIMESTAMP(6)),
    state = 2,
    target_node_id = NULL,
    owner_version = sqlc.arg(owner_version),
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id >= sqlc.arg(first_partition)
  AND node_id = sqlc.arg(node_id)
  AND state IN (1, 2)
  AND (state = 1 OR target_node_id IS NOT NULL);

-- name: DeleteFreePartitionsFrom :execrows
-- Deletes removed partitions that no live member holds: unassigned, released, or owned by a process
-- (node id and incarnation) that is no longer live by the database clock.
DELETE FROM helix_allocation
WHERE helix_allocation.cluster = sqlc.arg(cluster)
  AND helix_allocation.domain = sqlc.arg(domain)
  AND helix_allocation.task_list = sqlc.arg(task_list)
  AND helix_allocation.partition_id >= sqlc.arg(first_partition)
  AND (
    helix_allocation.state IN (0, 3)
    OR helix_allocation.node_id IS NULL
    OR NOT EXISTS (
      SELECT 1 FROM helix_nodes AS n
      WHERE n.cluster = sqlc.arg(cluster) AND n.node_id = helix_allocation.node_id
        AND n.incarnation = helix_allocation.incarnation AND n.status = 1 AND n.expires_at > UTC_TIMESTAMP(6)
    )
  );

-- name: LockPartitions :many
-- Inside a transaction, before a bulk write: locks partitions of one task list until commit and
-- returns them, so that the write goes only to the rows still at the generation (and owner and
-- state) its caller saw: no other transaction can change them in between.
SELECT partition_id, node_id, incarnation, state, generation
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id IN (sqlc.slice(partition_ids))
FOR UPDATE;

-- name: AssignPartitions :execrows
-- Gives partitions of one task list to a member's process (node id and its live incarnation, read
-- under a row lock in the same transaction), each only if it is free to move: unassigned, released
-- by its owner, owned by a process that is no longer live (a dead member, or an earlier
-- incarnation of a reused node id), or asked to be released longer ago than both `force_after_us`
-- and the owner's TTL (by then the owner has stopped on its own: it extends its ownership only from
-- heartbeats after which it read its partitions, and a heartbeat read after the request shows it).
-- Each only if it is still at `generation`, the generation the caller saw (so the count tells the
-- caller whether all were written); each generation grows by one. `owner_version`: the new owner's
-- next assignment version, read under its row lock (see 0008_owner_versions.sql).
UPDATE helix_allocation
SET node_id = sqlc.arg(node_id),
    incarnation = sqlc.arg(incarnation),
    state = 1,
    generation = generation + 1,
    owner_version = sqlc.arg(owner_version),
    target_node_id = NULL,
    assigned_at = UTC_TIMESTAMP(6),
    release_asked_at = NULL,
    updated_at = UTC_TIMESTAMP(6)
WHERE helix_allocation.cluster = sqlc.arg(cluster)
  AND helix_allocation.domain = sqlc.arg(domain)
  AND helix_allocation.task_list = sqlc.arg(task_list)
  AND helix_allocation.partition_id IN (sqlc.slice(partition_ids))
  AND helix_allocation.generation = sqlc.arg(generation)
  AND (
    helix_allocation.state IN (0, 3)
    OR helix_allocation.node_id IS NULL
    OR NOT EXISTS (
      SELECT 1 FROM helix_nodes AS n
      WHERE n.cluster = sqlc.arg(cluster) AND n.node_id = helix_allocation.node_id
        AND n.incarnation = helix_allocation.incarnation AND n.status = 1 AND n.expires_at > UTC_TIMESTAMP(6)
    )
    OR (helix_allocation.state = 2
        AND TIMESTAMPDIFF(MICROSECOND, helix_allocation.release_asked_at, UTC_TIMESTAMP(6)) >= GREATEST(
          sqlc.arg(force_after_us),
          (SELECT o.ttl_us FROM helix_nodes AS o
           WHERE o.cluster = sqlc.arg(cluster) AND o.node_id = helix_allocation.node_id)))
  );

-- name: RequestPartitionsRelease :execrows
-- Asks the owners of partitions of one task list to release them, so they can go to
-- `target_node_id`. The caller passes only partitions of one owner that it locked at the
-- generation it saw (LockPartitions), and the owner's next assignment version, read under its row
-- lock (see 0008_owner_versions.sql).
UPDATE helix_allocation
SET state = 2,
    target_node_id = sqlc.arg(target_node_id),
    owner_version = sqlc.arg(owner_version),
    release_asked_at = UTC_TIMESTAMP(6),
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id IN (sqlc.slice(partition_ids))
  AND state = 1;

-- name: ConfirmPartitionsRelease :execrows
-- The owning process confirms it stopped working on partitions of one task list it was asked to
-- release. Another process with the same node id (an earlier or later incarnation) cannot confirm
-- for it. The caller passes only partitions it locked at the generation it owns (LockPartitions).
UPDATE helix_allocation
SET state = 3,
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id IN (sqlc.slice(partition_ids))
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND state = 2;

-- name: ReleaseMemberPartitions :execrows
-- A graceful leave: every partition this process (node id and incarnation) owns becomes unassigned
-- at once. One it released already stays released: it goes to the member its release was asked for
-- (a drain's last hand-offs complete as planned). A stale process leaving cannot release what a
-- newer process with its node id owns.
UPDATE helix_allocation
SET node_id = NULL,
    incarnation = NULL,
    state = 0,
    target_node_id = NULL,
    release_asked_at = NULL,
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND state IN (1, 2);

-- name: ReserveMemberPartitions :execrows
-- A leave saying the member will be back: every partition of this process (node id and
-- incarnation) stays with its node id but no longer with the process (incarnation NULL), so that
-- no fence of the leaving process succeeds any more, and the node id's next process takes them
-- back. A release it was asked for counts as confirmed: it has stopped working on everything.
UPDATE helix_allocation
SET incarnation = NULL,
    state = IF(state = 2, 3, state),
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation);

-- name: CheckPartitionForShare :one
-- The partition fence, inside the caller's transaction: returns the row only while this process
-- (node id and incarnation) owns the partition at `generation` (assigned, or asked to release but
-- not yet released), and holds a shared row lock until that transaction ends, so the partition
-- cannot be handed to anyone before the caller's fenced write commits.
SELECT generation
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id = sqlc.arg(partition_id)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND generation = sqlc.arg(generation)
  AND state IN (1, 2)
LOCK IN SHARE MODE;

-- name: CheckPartitionForUpdate :one
-- CheckPartitionForShare for TiDB, which takes no shared row locks: the same check under an
-- exclusive row lock, held until the caller's transaction ends (see CheckLockEpochForUpdate).
SELECT generation
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id = sqlc.arg(partition_id)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND generation = sqlc.arg(generation)
  AND state IN (1, 2)
FOR UPDATE;

-- name: GetPartition :one
-- One partition's row, without a lock: writes that act on it check its generation themselves.
SELECT node_id, state, generation, target_node_id
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id = sqlc.arg(partition_id);

-- name: ListTaskListOwnership :many
-- The ownership rows of one task list, by partition.
SELECT partition_id, node_id, state, generation, target_node_id, assigned_at,
       release_asked_at AS release_requested_at, updated_at
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
ORDER BY partition_id;

-- name: OldestReleaseRequest :one
-- How long the oldest pending hand-off of a cluster (a release asked for and not yet confirmed)
-- has waited, in microseconds by the database clock; 0 when none is pending.
SELECT CAST(COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(release_asked_at), UTC_TIMESTAMP(6)), 0) AS SIGNED) AS waited_us
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND state = 2;

-- name: ListClusterOwnership :many
-- The whole ownership table of a cluster, for routers and the coordinator.
SELECT domain, task_list, partition_id, node_id, state, generation, target_node_id
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
ORDER BY domain, task_list, partition_id;

-- name: ListProcessOwnership :many
-- Every partition one process of a member (node id and incarnation) owns, across task lists, in one
-- indexed read: what a member resumes is only ever its own incarnation's. Every read of one owner's
-- rows forces the owner index: when their statistics say owners are few (a table just filled,
-- every row unassigned, or a handful of members), optimizers pick the primary key instead (for
-- this ORDER BY, already in its order) and scan the whole cluster's rows, seconds at a million
-- partitions, on every member that joins.
SELECT domain, task_list, partition_id, state, generation, target_node_id
FROM helix_allocation FORCE INDEX (helix_allocation_by_owner_version)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
ORDER BY domain, task_list, partition_id;

-- name: ListProcessOwnershipChanges :many
-- The partitions of one process of a member (node id and incarnation) whose rows changed for it
-- after its assignment version `since`: given to it, or asked to be released (see
-- 0008_owner_versions.sql). A range of one index (forced: see ListProcessOwnership); nothing when
-- nothing changed.
SELECT domain, task_list, partition_id, state, generation, target_node_id
FROM helix_allocation FORCE INDEX (helix_allocation_by_owner_version)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND owner_version > sqlc.arg(since)
  AND incarnation = sqlc.arg(incarnation);

-- name: ListProcessReleaseRequests :many
-- The partitions one process of a member (node id and incarnation) is asked to release and still
-- holds: a member waiting for its releases to be confirmed learns which of them were taken
-- without its confirmation (forced), which leave no row of its own to read. The owner index is
-- forced (see ListProcessOwnership).
SELECT domain, task_list, partition_id, generation
FROM helix_allocation FORCE INDEX (helix_allocation_by_owner_version)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND state = 2;

-- name: ListMemberOwnership :many
-- Every partition a member owns, across task lists, in one indexed read (forced: see
-- ListProcessOwnership).
SELECT domain, task_list, partition_id, state, generation, target_node_id
FROM helix_allocation FORCE INDEX (helix_allocation_by_owner_version)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
ORDER BY domain, task_list, partition_id;
