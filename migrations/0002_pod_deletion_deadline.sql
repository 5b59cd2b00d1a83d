-- 0002: when a terminating pod is due to be gone (metadata.deletionTimestamp), so the planner can
-- tell a pod still shutting down (its slot keeps its index for the replacement) from one stuck
-- on a lost node (the replacement goes elsewhere).
ALTER TABLE pods ADD COLUMN deletion_ms INTEGER;
