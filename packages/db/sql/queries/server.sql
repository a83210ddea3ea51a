-- name: ServerTime :one
-- The database clock, in microseconds since 1970-01-01 UTC: the clock every expiry is judged by.
SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS now_us;

-- name: ServerVersion :one
-- The version the server reports, which names the engine: "8.0.36", "10.11.6-MariaDB",
-- "8.0.11-TiDB-v8.5.0".
SELECT VERSION() AS version;

-- name: TidbSessionCommand :one
-- What a session of a TiDB cluster is doing, whichever tidb-server it is on: "Sleep" between
-- statements, "Query" while it runs one; no row once it has ended.
SELECT COMMAND AS command FROM information_schema.CLUSTER_PROCESSLIST WHERE ID = sqlc.arg(id);
