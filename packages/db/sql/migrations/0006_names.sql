-- One word for each concept, in the schema as in the code: members (helix_nodes), task lists
-- (helix_cluster) and the ownership table (helix_allocation) get the names the API and the docs
-- use. Renames change only the data dictionary, so they are instant whatever the tables hold.
RENAME TABLE helix_nodes TO helix_members;

RENAME TABLE helix_cluster TO helix_task_lists;

RENAME TABLE helix_allocation TO helix_ownership;

ALTER TABLE helix_cluster_state RENAME COLUMN allocation_version TO ownership_version;
