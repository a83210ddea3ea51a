-- name: EnsureClusterState :execrows
-- Creates the cluster's change counters if missing, so that watching them is one indexed row.
INSERT IGNORE INTO helix_cluster_state (cluster, membership_version, catalog_version, ownership_version)
VALUES (sqlc.arg(cluster), 0, 0, 0);

-- name: WatchCluster :one
-- What the coordinator polls: the change counters, and how many members are still marked active
-- although their TTL has passed by the database clock (dead, not yet swept).
SELECT s.membership_version, s.catalog_version, s.ownership_version,
       (SELECT COUNT(*) FROM helix_nodes AS n
        WHERE n.cluster = sqlc.arg(cluster) AND n.status = 1 AND n.expires_at <= UTC_TIMESTAMP(6)) AS expired_members
FROM helix_cluster_state AS s
WHERE s.cluster = sqlc.arg(cluster);

-- name: ListPlanningMembers :many
-- Every member with its weight, its live incarnation and TTL, whether it is live, and for one that is
-- not, how long ago (by the database clock) its registration ended, and how long after that its
-- partitions stay reserved for it (it left saying it would be back).
SELECT node_id, incarnation, weight, ttl_us, return_within_us,
       CAST(status = 1 AND expires_at > UTC_TIMESTAMP(6) AS SIGNED) AS live,
       TIMESTAMPDIFF(MICROSECOND, expires_at, UTC_TIMESTAMP(6)) AS since_expiry_us
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster)
ORDER BY node_id;

-- name: ListPlanningOwnership :many
-- The ownership table, with the age (by the database clock) of every pending release request, and
-- whether each partition was ever given to anyone (why a partition without an owner has none: new,
-- or left by its owner).
SELECT domain, task_list, partition_id, node_id, incarnation, state, generation, target_node_id,
       CAST(COALESCE(TIMESTAMPDIFF(MICROSECOND, release_asked_at, UTC_TIMESTAMP(6)), -1) AS SIGNED) AS release_age_us,
       CAST(assigned_at IS NULL AS SIGNED) AS never_owned
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
ORDER BY domain, task_list, partition_id;

-- name: ListFreePartitions :many
-- The partitions a round may give away without waiting that have no owner: unassigned, or released
-- by their owner (with the member the release was asked for). A leader reads them, between rounds,
-- to complete the hand-offs it asked for as their owners confirm (see the coordinator's `follow.ts`).
SELECT domain, task_list, partition_id, node_id, state, generation, target_node_id
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND (state IN (0, 3) OR node_id IS NULL)
ORDER BY domain, task_list, partition_id;

-- name: LockMembers :many
-- Inside a round's transaction: locks members' rows until commit (in node id order, the primary
-- key's) and says whether each is live and with which incarnation, so that a member cannot
-- re-register between this check and the hand-off, and with which assignment version, so that the
-- rows written for it are stamped with the next one (see 0008_owner_versions.sql).
SELECT node_id, incarnation, CAST(status = 1 AND expires_at > UTC_TIMESTAMP(6) AS SIGNED) AS live,
       assignment_version
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster)
  AND node_id IN (sqlc.slice(node_ids))
ORDER BY node_id
FOR UPDATE;

-- name: InsertTransitions :copyfrom
-- Audit rows, many in one statement. `created_at` is UTC text ('YYYY-MM-DD hh:mm:ss.ffffff'), so
-- that it is stored as given whatever the time zone of the client's session. A row records
-- `partition_count` transitions (see 0014_transition_groups.sql).
INSERT INTO helix_transitions (cluster, created_at, epoch, kind, domain, task_list, partition_id,
                               from_node_id, to_node_id, generation, cause, actor, partition_count,
                               partitions)
VALUES (
  sqlc.arg(cluster), sqlc.arg(created_at), sqlc.arg(epoch), sqlc.arg(kind), sqlc.arg(domain),
  sqlc.arg(task_list), sqlc.arg(partition_id), sqlc.arg(from_node_id), sqlc.arg(to_node_id),
  sqlc.arg(generation), sqlc.arg(cause), sqlc.arg(actor), sqlc.arg(partition_count),
  sqlc.arg(partitions)
);

-- name: ListTransitions :many
-- The most recent audit rows before row `before_id`, newest first.
SELECT id, created_at, epoch, kind, domain, task_list, partition_id, from_node_id, to_node_id, generation,
       cause, actor, partition_count, partitions
FROM helix_transitions
WHERE cluster = sqlc.arg(cluster)
  AND id < sqlc.arg(before_id)
ORDER BY id DESC
LIMIT ?;

-- name: DeleteTransitionsBefore :execrows
-- Retention: deletes up to LIMIT transitions older than `retention_us`, oldest first.
DELETE FROM helix_transitions
WHERE cluster = sqlc.arg(cluster)
  AND created_at < UTC_TIMESTAMP(6) - INTERVAL sqlc.arg(retention_us) MICROSECOND
ORDER BY created_at
LIMIT ?;

-- name: DeleteEndedMaintenance :execrows
-- Forgets a scope's maintenance whose expiry the database clock has passed, so that starting it
-- again starts it anew (its start time included).
DELETE FROM helix_maintenance
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND expires_at IS NOT NULL
  AND expires_at <= UTC_TIMESTAMP(6);

-- name: PutMaintenance :exec
-- Starts maintenance for a scope, or changes the reason, actor and expiry of the one in force (it
-- keeps its start). `expires_in_us` 0: until it is ended (an INTERVAL of NULL makes the sum NULL).
INSERT INTO helix_maintenance (cluster, domain, task_list, reason, actor, started_at, expires_at)
VALUES (
  sqlc.arg(cluster), sqlc.arg(domain), sqlc.arg(task_list), sqlc.arg(reason), sqlc.arg(actor),
  UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL NULLIF(sqlc.arg(expires_in_us), 0) MICROSECOND
)
ON DUPLICATE KEY UPDATE reason = VALUES(reason), actor = VALUES(actor), expires_at = VALUES(expires_at);

-- name: DeleteMaintenance :execrows
-- Ends a scope's maintenance (one in force, or one whose expiry passed).
DELETE FROM helix_maintenance
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list);

-- name: ListMaintenance :many
-- A cluster's maintenance rows, with how long each has been on and how long it has left, by the
-- database clock: in force while it has no expiry (`remaining_us` -1) or some time left (> 0). Rows
-- whose expiry passed are listed too (<= 0), so that a writer can read back what it wrote whatever
-- the expiry it gave; readers skip them.
SELECT domain, task_list, reason, actor, started_at, expires_at,
       TIMESTAMPDIFF(MICROSECOND, started_at, UTC_TIMESTAMP(6)) AS on_for_us,
       CAST(COALESCE(TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at), -1) AS SIGNED) AS remaining_us
FROM helix_maintenance
WHERE cluster = sqlc.arg(cluster)
ORDER BY domain, task_list;

-- name: GetLiveMember :one
-- A member that is live by the database clock, with its incarnation and weight (0: draining).
SELECT node_id, incarnation, weight
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6);

-- name: PutPlacement :exec
-- Pins (`incarnation` empty) or moves (the member's incarnation) one partition to a member,
-- replacing any placement it had.
INSERT INTO helix_placements (cluster, domain, task_list, partition_id, node_id, incarnation, reason, actor, created_at)
VALUES (
  sqlc.arg(cluster), sqlc.arg(domain), sqlc.arg(task_list), sqlc.arg(partition_id), sqlc.arg(node_id),
  sqlc.arg(incarnation), sqlc.arg(reason), sqlc.arg(actor), UTC_TIMESTAMP(6)
)
ON DUPLICATE KEY UPDATE node_id = VALUES(node_id), incarnation = VALUES(incarnation), reason = VALUES(reason),
  actor = VALUES(actor), created_at = VALUES(created_at);

-- name: PutOwnerPlacements :execrows
-- Pins or moves to `node_id` every partition `owner_node_id` owns (assigned, or asked to release)
-- in the catalog's active task lists, replacing any placement they had.
INSERT INTO helix_placements (cluster, domain, task_list, partition_id, node_id, incarnation, reason, actor, created_at)
SELECT a.cluster, a.domain, a.task_list, a.partition_id, sqlc.arg(node_id), sqlc.arg(incarnation), sqlc.arg(reason),
       sqlc.arg(actor), UTC_TIMESTAMP(6)
FROM helix_allocation a
JOIN helix_cluster c ON c.cluster = a.cluster AND c.domain = a.domain AND c.task_list = a.task_list
WHERE a.cluster = sqlc.arg(cluster)
  AND a.node_id = sqlc.arg(owner_node_id)
  AND a.state IN (1, 2)
  AND c.status = 1
  AND a.partition_id < c.partitions
ON DUPLICATE KEY UPDATE node_id = VALUES(node_id), incarnation = VALUES(incarnation), reason = VALUES(reason),
  actor = VALUES(actor), created_at = VALUES(created_at);

-- name: DeletePlacement :execrows
-- Lifts one partition's placement.
DELETE FROM helix_placements
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND partition_id = sqlc.arg(partition_id);

-- name: DeleteMemberPlacements :execrows
-- Lifts every placement on a member.
DELETE FROM helix_placements
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id);

-- name: DeleteLapsedPlacements :execrows
-- Forgets the moves that lapsed: their member registered again, or is gone.
DELETE FROM helix_placements
WHERE helix_placements.cluster = sqlc.arg(cluster)
  AND helix_placements.incarnation <> ''
  AND NOT EXISTS (
    SELECT 1 FROM helix_nodes n
    WHERE n.cluster = helix_placements.cluster
      AND n.node_id = helix_placements.node_id
      AND n.incarnation = helix_placements.incarnation
  );

-- name: ListPlacements :many
-- A cluster's placements, each with whether it holds: a pin always, a move while its member's
-- incarnation is the one it was made for.
SELECT p.domain, p.task_list, p.partition_id, p.node_id, p.incarnation, p.reason, p.actor, p.created_at,
       CAST(p.incarnation = '' OR p.incarnation = COALESCE(n.incarnation, '') AS SIGNED) AS holds
FROM helix_placements p
LEFT JOIN helix_nodes n ON n.cluster = p.cluster AND n.node_id = p.node_id
WHERE p.cluster = sqlc.arg(cluster)
ORDER BY p.domain, p.task_list, p.partition_id;
