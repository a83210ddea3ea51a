-- Read by sqlc only, never executed: what the server has but sqlc's MySQL catalog lacks.
--
-- sqlc's MySQL catalog knows UTC_TIMESTAMP() but not UTC_TIMESTAMP(fsp), which every expiry
-- decision here uses (the database's UTC clock with microseconds, independent of the session time
-- zone). This declaration teaches sqlc the signature.
-- A declared routine has no return type for sqlc, so queries never select UTC_TIMESTAMP(6) as a
-- column by itself; they select expressions over it (TIMESTAMPDIFF, comparisons) instead.
CREATE PROCEDURE `utc_timestamp`(fsp INT) BEGIN END;

-- sqlc's MySQL catalog has no information_schema; this declares the part of it Helix reads.
CREATE SCHEMA information_schema;
CREATE TABLE information_schema.PROCESSLIST (
  ID BIGINT UNSIGNED NOT NULL,
  USER VARCHAR(128) NOT NULL,
  HOST VARCHAR(261) NOT NULL
);
CREATE TABLE information_schema.CLUSTER_PROCESSLIST (
  ID BIGINT UNSIGNED NOT NULL,
  COMMAND VARCHAR(16) NOT NULL,
  USER VARCHAR(128) NOT NULL,
  HOST VARCHAR(261) NOT NULL
);
