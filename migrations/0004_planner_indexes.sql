-- 0004: indexes for the planner's reads on every tick. Without them each tick of a pool scanned
-- every row the pool ever had within retention (pods, agents, jobs and PVCs that are long gone,
-- all intents of 30 days) to find the few current ones: per-tick cost grew with history.
-- The partial indexes hold only the current rows; the queries name "gone_ms IS NULL" literally,
-- which is what lets SQLite use them.
CREATE INDEX pods_live ON pods (pool_id, uid) WHERE gone_ms IS NULL;
CREATE INDEX agents_live ON agents (pool_id, agent_id) WHERE gone_ms IS NULL;
CREATE INDEX jobs_open ON jobs (pool_id, request_id) WHERE gone_ms IS NULL;
CREATE INDEX pvcs_live ON pvcs (pool_id, uid) WHERE gone_ms IS NULL;
CREATE INDEX intents_recent ON intents (pool_id, created_ms);
