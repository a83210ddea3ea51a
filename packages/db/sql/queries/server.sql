-- name: ServerTime :one
-- The database clock, in microseconds since 1970-01-01 UTC: the clock every expiry is judged by.
SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS now_us;

-- name: ServerVersion :one
-- The version the server reports, which names the engine: "8.0.36", "10.11.6-MariaDB",
-- "8.0.11-TiDB-v8.5.0".
SELECT VERSION() AS version;

-- name: OwnSession :one
-- This connection's session as the server it reached sees it: its id (behind a proxy, the one the
-- server gave, not the one the proxy's greeting named), its user, the address it came from (with
-- the client's port over TCP), and the server's host and port. Recorded when a connection is first
-- used, so that a hung connection's session can later be found again, and only then ended.
SELECT ID AS id, USER AS user_name, HOST AS client_address,
  CAST(@@hostname AS CHAR) AS server_host, CAST(@@port AS SIGNED) AS server_port
FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID();

-- name: SessionById :one
-- A session of the server this connection reached, as OwnSession describes one: asked on the
-- connection that would end it, just before, to make sure it is the session that was recorded.
SELECT ID AS id, USER AS user_name, HOST AS client_address,
  CAST(@@hostname AS CHAR) AS server_host, CAST(@@port AS SIGNED) AS server_port
FROM information_schema.PROCESSLIST WHERE ID = sqlc.arg(id);

-- name: TidbSession :one
-- A session of a TiDB cluster, whichever tidb-server it is on (a session id is the cluster's):
-- what it is doing ("Sleep" between statements, "Query" while it runs one), its user and the
-- address it came from; no row once it has ended.
SELECT COMMAND AS command, USER AS user_name, HOST AS client_address
FROM information_schema.CLUSTER_PROCESSLIST WHERE ID = sqlc.arg(id);
