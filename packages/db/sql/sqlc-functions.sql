-- Read by sqlc only, never executed: sqlc's MySQL catalog knows UTC_TIMESTAMP() but not
-- UTC_TIMESTAMP(fsp), which every expiry decision here uses (the database's UTC clock with
-- microseconds, independent of the session time zone). This declaration teaches sqlc the signature.
-- A declared routine has no return type for sqlc, so queries never select UTC_TIMESTAMP(6) as a
-- column by itself; they select expressions over it (TIMESTAMPDIFF, comparisons) instead.
CREATE PROCEDURE `utc_timestamp`(fsp INT) BEGIN END;
