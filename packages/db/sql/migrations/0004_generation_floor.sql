-- A partition's generation never goes back. A partition removed by a shrink or a removal and
-- created again later starts above every generation it had: the task list's row keeps the floor,
-- and the row of a removed task list stays (status 0) so that its floor survives re-creation.
ALTER TABLE helix_cluster ADD COLUMN generation_floor BIGINT UNSIGNED NOT NULL DEFAULT 0;
