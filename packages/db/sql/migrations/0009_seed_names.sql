-- The tables get back the names the design gives them: helix_nodes (the members), helix_cluster (the
-- task lists of each cluster) and helix_allocation (the ownership table), beside helix_locks. The
-- API keeps its words (member, task list, ownership); the README's glossary maps them. Renames
-- change only the data dictionary, so they are instant whatever the tables hold.
--
-- Processes of an earlier version name the old tables: once this has run, their statements fail,
-- their members fence themselves and their coordinators lose their lease, so no partition is
-- worked by two processes. Upgrade every process together: migrate, then restart them.
RENAME TABLE helix_members TO helix_nodes;

RENAME TABLE helix_task_lists TO helix_cluster;

RENAME TABLE helix_ownership TO helix_allocation;

ALTER TABLE helix_allocation RENAME INDEX helix_ownership_by_owner_version TO helix_allocation_by_owner_version;
