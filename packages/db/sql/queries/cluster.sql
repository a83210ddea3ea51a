-- name: RegisterNode :execrows
-- Registers a member, or re-registers one whose earlier registration is no longer live.
-- 1 = inserted, 2 = re-registered, 0 = a live member with this id exists.
INSERT INTO helix_nodes (cluster, node_id, incarnation, metadata, status, assignment_version,
                         registered_at, heartbeat_at, expires_at)
VALUES (
  sqlc.arg(cluster), sqlc.arg(node_id), sqlc.arg(incarnation), sqlc.arg(metadata), 1, 0,
  UTC_TIMESTAMP(6), UTC_TIMESTAMP(6), UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND
)
ON DUPLICATE KEY UPDATE
  incarnation   = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(incarnation), incarnation),
  metadata      = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(metadata), metadata),
  registered_at = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(registered_at), registered_at),
  heartbeat_at  = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(heartbeat_at), heartbeat_at),
  expires_at    = IF(status <> 1 OR expires_at <= UTC_TIMESTAMP(6), VALUES(expires_at), expires_at),
  status        = 1;

-- name: HeartbeatNode :execresult
-- Extends a live registration. affectedRows 1 = alive, and insertId is the member's assignment
-- version; 0 = this incarnation is no longer live and must re-register.
UPDATE helix_nodes
SET heartbeat_at = UTC_TIMESTAMP(6),
    expires_at = UTC_TIMESTAMP(6) + INTERVAL sqlc.arg(ttl_us) MICROSECOND,
    assignment_version = LAST_INSERT_ID(assignment_version)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND status = 1
  AND expires_at > UTC_TIMESTAMP(6);

-- name: DeregisterNode :execrows
-- A graceful leave: the member is inactive at once, without waiting for its TTL.
UPDATE helix_nodes
SET status = 0,
    expires_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
  AND incarnation = sqlc.arg(incarnation)
  AND status = 1;

-- name: MarkExpiredNodesInactive :execrows
-- The sweep: members whose last heartbeat + TTL has passed by the database clock become inactive.
UPDATE helix_nodes
SET status = 0
WHERE cluster = sqlc.arg(cluster)
  AND status = 1
  AND expires_at <= UTC_TIMESTAMP(6);

-- name: ListNodes :many
SELECT node_id, incarnation, metadata, status, assignment_version, registered_at, heartbeat_at,
       expires_at, CAST(status = 1 AND expires_at > UTC_TIMESTAMP(6) AS SIGNED) AS live
FROM helix_nodes
WHERE cluster = sqlc.arg(cluster)
ORDER BY node_id;

-- name: BumpAssignmentVersion :execrows
-- Tells a member that its partitions changed; its next heartbeat returns the new version.
UPDATE helix_nodes
SET assignment_version = assignment_version + 1
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id);

-- name: PutTaskList :execrows
-- Creates a task list or changes its partition count or metadata. version grows only when
-- something changed. 1 = created, 2 = changed, 0 = already as given.
INSERT INTO helix_cluster (cluster, domain, task_list, partitions, metadata, status, version,
                           created_at, updated_at)
VALUES (
  sqlc.arg(cluster), sqlc.arg(domain), sqlc.arg(task_list), sqlc.arg(partitions), sqlc.arg(metadata),
  1, 1, UTC_TIMESTAMP(6), UTC_TIMESTAMP(6)
)
ON DUPLICATE KEY UPDATE
  version    = IF(partitions <> VALUES(partitions) OR metadata <> VALUES(metadata) OR status <> 1,
                  version + 1, version),
  updated_at = IF(partitions <> VALUES(partitions) OR metadata <> VALUES(metadata) OR status <> 1,
                  VALUES(updated_at), updated_at),
  partitions = VALUES(partitions),
  metadata   = VALUES(metadata),
  status     = 1;

-- name: GetTaskList :one
SELECT domain, task_list, partitions, metadata, status, version, created_at, updated_at
FROM helix_cluster
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list);

-- name: ListTaskLists :many
SELECT domain, task_list, partitions, metadata, status, version, created_at, updated_at
FROM helix_cluster
WHERE cluster = sqlc.arg(cluster)
ORDER BY domain, task_list;

-- name: MarkTaskListDeletable :execrows
-- Removes a task list from the catalog; its partitions are released before the row is deleted.
UPDATE helix_cluster
SET status = 2,
    version = version + 1,
    updated_at = UTC_TIMESTAMP(6)
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
  AND status <> 2;

-- name: InsertPartition :execrows
-- Adds an unassigned partition row; an existing row is left as it is.
INSERT IGNORE INTO helix_allocation (cluster, domain, task_list, partition_id, node_id, state,
                                     generation, updated_at)
VALUES (sqlc.arg(cluster), sqlc.arg(domain), sqlc.arg(task_list), sqlc.arg(partition_id), NULL, 0, 0,
        UTC_TIMESTAMP(6));

-- name: ListTaskListAllocation :many
SELECT partition_id, node_id, state, generation, target_node_id, assigned_at,
       release_requested_at, updated_at
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND domain = sqlc.arg(domain)
  AND task_list = sqlc.arg(task_list)
ORDER BY partition_id;

-- name: ListNodeAllocation :many
-- Every partition a member owns, across task lists, in one indexed read.
SELECT domain, task_list, partition_id, state, generation, target_node_id, assigned_at,
       release_requested_at
FROM helix_allocation
WHERE cluster = sqlc.arg(cluster)
  AND node_id = sqlc.arg(node_id)
ORDER BY domain, task_list, partition_id;
