-- Why each transition of the audit trail happened, and who made it. `cause`: 0 not recorded (rows
-- written before this migration, or by an earlier version), 1 join, 2 leave, 3 expiry (a member's
-- TTL passed, or it did not confirm a release in time), 4 restart (a node id's new process took its
-- partition back), 5 drain, 6 rebalance, 7 task list (a partition never owned before: a new or grown
-- task list). `actor`: the coordinator that made the change (its lock owner id).
--
-- Processes of an earlier version write neither column (cause 0, actor NULL): their rows read as
-- "not recorded".
ALTER TABLE helix_transitions ADD COLUMN cause TINYINT NOT NULL DEFAULT 0;
ALTER TABLE helix_transitions ADD COLUMN actor VARCHAR(255) NULL;
