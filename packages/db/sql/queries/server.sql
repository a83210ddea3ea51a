-- name: ServerTime :one
-- The database clock, in microseconds since 1970-01-01 UTC: the clock every expiry is judged by.
SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) AS now_us;
