-- schema/schema.sql: the schema every migration in migrations/ produces together, in one file.
-- A test (tests/test_store.c) loads this file into an empty database, applies all migrations to
-- another one, and compares sqlite_master: keep both in step.


-- One row = one applied migration file (the runner also sets PRAGMA user_version).
CREATE TABLE schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,   -- NNNN of migrations/NNNN_name.sql
    name       TEXT    NOT NULL,               -- file name without the number
    applied_ms INTEGER NOT NULL                -- unix ms
) STRICT;

-- One row = one RunnerPool, identified by (namespace, name): the same name in two namespaces is
-- two pools. Rows outlive the Kubernetes object (gone_ms) so history stays attached.
CREATE TABLE pools (
    pool_id               INTEGER NOT NULL PRIMARY KEY,
    namespace             TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    uid                   TEXT,                          -- metadata.uid, NULL until seen
    generation            INTEGER NOT NULL DEFAULT 0,    -- latest metadata.generation seen
    first_seen_ms         INTEGER NOT NULL,
    last_seen_ms          INTEGER NOT NULL,
    deletion_requested_ms INTEGER,                       -- deletionTimestamp seen, else NULL
    finalizer_present     INTEGER NOT NULL DEFAULT 0 CHECK (finalizer_present IN (0, 1)),
    gone_ms               INTEGER,                       -- object no longer in Kubernetes
    azdo_connection       TEXT CHECK (azdo_connection IN
                              ('ok', 'auth-failed', 'pool-not-found', 'unreachable', 'throttled')),
    azdo_detail           TEXT,                          -- last failure text (never a token)
    azdo_pool_id          INTEGER,                       -- Azure DevOps pool id once resolved
    azdo_observed_ms      INTEGER,                       -- last poll outcome, any result
    azdo_ok_ms            INTEGER,                       -- last poll that succeeded
    state                 TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN
                              ('pending', 'connected', 'auth-failed', 'pool-not-found',
                               'unreachable', 'throttled', 'degraded', 'deleting')),
    state_since_ms        INTEGER NOT NULL,
    azdo_reason           TEXT,                          -- reason word of the last failed answer
    UNIQUE (namespace, name)
) STRICT;

-- One row = the spec of a pool at one metadata.generation, as Kubernetes gave it (JSON text).
CREATE TABLE pool_specs (
    pool_id     INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    generation  INTEGER NOT NULL,
    spec_json   TEXT    NOT NULL CHECK (json_valid(spec_json)),
    observed_ms INTEGER NOT NULL,                        -- first time this generation was seen
    PRIMARY KEY (pool_id, generation)
) STRICT;

-- One row = a change of a pool's Azure DevOps connection (not every poll: only changes).
CREATE TABLE azdo_connection_changes (
    change_id  INTEGER NOT NULL PRIMARY KEY,
    pool_id    INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    at_ms      INTEGER NOT NULL,
    connection TEXT    NOT NULL CHECK (connection IN
                   ('ok', 'auth-failed', 'pool-not-found', 'unreachable', 'throttled')),
    detail     TEXT
) STRICT;
CREATE INDEX azdo_connection_changes_pool ON azdo_connection_changes (pool_id, at_ms);

-- One row = one Azure DevOps agent registration seen in the pool's agent list.
CREATE TABLE agents (
    pool_id             INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    agent_id            INTEGER NOT NULL,          -- Azure DevOps agent id
    name                TEXT    NOT NULL,
    status              TEXT    NOT NULL CHECK (status IN ('online', 'offline')),
    enabled             INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    capabilities_json   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(capabilities_json)),
    assigned_request_id INTEGER,                   -- assignedRequest.requestId, NULL when idle
    last_finish_ms      INTEGER,                   -- lastCompletedRequest.finishTime
    status_changed_ms   INTEGER,                   -- statusChangedOn
    created_ms          INTEGER,                   -- createdOn
    first_seen_ms       INTEGER NOT NULL,
    observed_ms         INTEGER NOT NULL,          -- last list that contained it
    gone_ms             INTEGER,                   -- first list that no longer contained it
    PRIMARY KEY (pool_id, agent_id)
) STRICT;
CREATE INDEX agents_name ON agents (pool_id, name);
CREATE INDEX agents_live ON agents (pool_id, agent_id) WHERE gone_ms IS NULL; -- current rows (0004)

-- One row = one incarnation (uid) of a pod the operator manages for a pool.
CREATE TABLE pods (
    pool_id            INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    uid                TEXT    NOT NULL,
    name               TEXT    NOT NULL,
    role               TEXT    NOT NULL CHECK (role IN ('agent', 'placeholder')),
    idx                INTEGER CHECK (idx IS NULL OR idx >= 0),  -- slot index; NULL: placeholder
    cap_key            TEXT    NOT NULL DEFAULT '',   -- capabilityImages key, '' = default image
    phase              TEXT    NOT NULL CHECK (phase IN
                           ('Pending', 'Running', 'Succeeded', 'Failed', 'Unknown')),
    ready              INTEGER NOT NULL DEFAULT 0 CHECK (ready IN (0, 1)),
    restarts           INTEGER NOT NULL DEFAULT 0 CHECK (restarts >= 0),
    waiting_reason     TEXT,                          -- e.g. ImagePullBackOff, CrashLoopBackOff
    deletion_requested INTEGER NOT NULL DEFAULT 0 CHECK (deletion_requested IN (0, 1)),
    created_ms         INTEGER NOT NULL,              -- metadata.creationTimestamp
    bad_since_ms       INTEGER,                       -- first observation of a failing reason
    bad_observations   INTEGER NOT NULL DEFAULT 0,    -- consecutive observations failing
    first_seen_ms      INTEGER NOT NULL,
    observed_ms        INTEGER NOT NULL,
    gone_ms            INTEGER,
    deletion_ms        INTEGER,                       -- metadata.deletionTimestamp: due to be gone
    PRIMARY KEY (pool_id, uid)
) STRICT;
CREATE INDEX pods_name ON pods (pool_id, name);
CREATE INDEX pods_live ON pods (pool_id, uid) WHERE gone_ms IS NULL;       -- current rows (0004)

-- One row = one incarnation (uid) of a PersistentVolumeClaim used by a pool's agents.
CREATE TABLE pvcs (
    pool_id       INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    uid           TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    idx           INTEGER CHECK (idx IS NULL OR idx >= 0),  -- owner slot; NULL: shared claim
    template      TEXT    NOT NULL,               -- spec.pvcs[].name it was made from
    phase         TEXT    NOT NULL CHECK (phase IN ('Pending', 'Bound', 'Lost')),
    deleting      INTEGER NOT NULL DEFAULT 0 CHECK (deleting IN (0, 1)),
    first_seen_ms INTEGER NOT NULL,
    observed_ms   INTEGER NOT NULL,
    gone_ms       INTEGER,
    PRIMARY KEY (pool_id, uid)
) STRICT;
CREATE INDEX pvcs_live ON pvcs (pool_id, uid) WHERE gone_ms IS NULL;       -- current rows (0004)

-- One row = one Azure DevOps job request seen in the pool's unfinished-job list.
CREATE TABLE jobs (
    pool_id             INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    request_id          INTEGER NOT NULL,
    demands_json        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(demands_json)),
    demand_keys_json    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(demand_keys_json)),
                                                 -- capability names demanded, Agent.Version
                                                 -- dropped, sorted, deduplicated
    queue_ms            INTEGER,
    assign_ms           INTEGER,
    receive_ms          INTEGER,
    finish_ms           INTEGER,
    result              TEXT,                    -- succeeded, failed, canceled, ...
    reserved_agent_id   INTEGER,
    reserved_agent_name TEXT,
    first_seen_ms       INTEGER NOT NULL,
    observed_ms         INTEGER NOT NULL,
    gone_ms             INTEGER,                 -- left the unfinished list (finished)
    PRIMARY KEY (pool_id, request_id)
) STRICT;
CREATE INDEX jobs_open ON jobs (pool_id, request_id) WHERE gone_ms IS NULL;  -- unfinished (0004)

-- One row = the queue of one pool for one demand set at one poll (raw; pruned by retention).
CREATE TABLE queue_samples (
    pool_id    INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    sampled_ms INTEGER NOT NULL,
    demand_set TEXT    NOT NULL,                 -- demand_keys_json of the jobs counted
    queued     INTEGER NOT NULL CHECK (queued >= 0),   -- waiting for an agent
    running    INTEGER NOT NULL CHECK (running >= 0),  -- assigned or running
    PRIMARY KEY (pool_id, sampled_ms, demand_set)
) STRICT;

-- One row = the queue samples of one pool and demand set folded into one hour (kept).
CREATE TABLE queue_hourly (
    pool_id     INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    hour_ms     INTEGER NOT NULL,                -- start of the hour, unix ms
    demand_set  TEXT    NOT NULL,
    samples     INTEGER NOT NULL,
    queued_sum  INTEGER NOT NULL,
    queued_max  INTEGER NOT NULL,
    running_sum INTEGER NOT NULL,
    running_max INTEGER NOT NULL,
    PRIMARY KEY (pool_id, hour_ms, demand_set)
) STRICT;

-- One row = API traffic to one organisation (or Kubernetes API server) in one hour (kept).
CREATE TABLE api_hourly (
    hour_ms      INTEGER NOT NULL,               -- start of the hour, unix ms
    kind         TEXT    NOT NULL CHECK (kind IN ('azdo', 'kube')),
    organization TEXT    NOT NULL,               -- org URL, or the API server for kube
    requests     INTEGER NOT NULL DEFAULT 0,
    errors       INTEGER NOT NULL DEFAULT 0,     -- non-2xx and transport failures
    throttled    INTEGER NOT NULL DEFAULT 0,     -- 429 or a Retry-After/X-RateLimit-Delay
    PRIMARY KEY (hour_ms, kind, organization)
) STRICT;

-- One row = the current state of one agent slot (index) of a pool, as the planner last derived
-- it. Absent slots have no row.
CREATE TABLE slots (
    pool_id  INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL CHECK (idx >= 0),
    state    TEXT    NOT NULL CHECK (state IN ('creating', 'starting', 'idle', 'busy',
                 'draining', 'deleting', 'unregistering', 'failed')),
    cap_key  TEXT    NOT NULL DEFAULT '',
    since_ms INTEGER NOT NULL,
    PRIMARY KEY (pool_id, idx)
) STRICT;

-- One row = one change of state of an agent slot, with its cause.
CREATE TABLE slot_transitions (
    transition_id INTEGER NOT NULL PRIMARY KEY,
    pool_id       INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    from_state    TEXT    NOT NULL,              -- 'absent' when the slot had no row
    to_state      TEXT    NOT NULL,
    cause         TEXT    NOT NULL,
    at_ms         INTEGER NOT NULL,
    tick_id       INTEGER
) STRICT;
CREATE INDEX slot_transitions_pool ON slot_transitions (pool_id, at_ms);

-- One row = one change of a pool's state (pending, connected, auth-failed, ...), with its cause.
CREATE TABLE pool_transitions (
    transition_id INTEGER NOT NULL PRIMARY KEY,
    pool_id       INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    from_state    TEXT    NOT NULL,
    to_state      TEXT    NOT NULL,
    cause         TEXT    NOT NULL,
    at_ms         INTEGER NOT NULL,
    tick_id       INTEGER
) STRICT;
CREATE INDEX pool_transitions_pool ON pool_transitions (pool_id, at_ms);

-- One row = the planner's inputs for a tick, canonical JSON, stored once per distinct digest.
CREATE TABLE plan_inputs (
    digest      TEXT NOT NULL PRIMARY KEY,       -- lowercase hex SHA-256 of inputs_json
    inputs_json TEXT NOT NULL
) STRICT;

-- One row = one run of the planner for one pool at one clock value.
CREATE TABLE ticks (
    tick_id       INTEGER NOT NULL PRIMARY KEY,
    pool_id       INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    at_ms         INTEGER NOT NULL,              -- the 'now' the planner was given
    generation    INTEGER NOT NULL,
    inputs_digest TEXT    NOT NULL,              -- plan_inputs.digest (row may be pruned)
    pool_state    TEXT    NOT NULL,
    waiting       INTEGER NOT NULL,              -- jobs waiting for an agent
    idle          INTEGER NOT NULL,
    busy          INTEGER NOT NULL,
    starting      INTEGER NOT NULL,              -- creating or starting slots
    created       INTEGER NOT NULL,              -- pods this tick decided to create
    deleted       INTEGER NOT NULL,              -- pods this tick decided to delete
    conditions    TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(conditions))
                                                 -- event-worthy conditions active at this tick
                                                 -- (MaxAgentsReached, ...): an event is emitted
                                                 -- when one appears
) STRICT;
CREATE INDEX ticks_pool ON ticks (pool_id, at_ms);

-- One row = one thing a tick decided: an action to execute, or an event to emit.
CREATE TABLE decisions (
    decision_id  INTEGER NOT NULL PRIMARY KEY,
    tick_id      INTEGER NOT NULL REFERENCES ticks (tick_id) ON DELETE CASCADE,
    pool_id      INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,               -- order within the tick (execution order)
    action       TEXT    NOT NULL CHECK (action IN ('add_finalizer', 'create_pvc',
                     'create_pod', 'delete_pod', 'delete_pvc', 'disable_agent', 'enable_agent',
                     'delete_registration', 'register_placeholder', 'delete_placeholder',
                     'release_finalizer', 'emit_event')),
    slot_idx     INTEGER,                        -- NULL when not about one slot
    cap_key      TEXT    NOT NULL DEFAULT '',
    target       TEXT    NOT NULL,               -- pod, PVC or agent name; event reason
    agent_id     INTEGER,                        -- Azure DevOps agent id when known
    pvc_template TEXT,                           -- create_pvc/delete_pvc: spec.pvcs[].name
    omit_pvcs    TEXT,                           -- create_pod: optional claims left out
    run_once     INTEGER NOT NULL DEFAULT 0 CHECK (run_once IN (0, 1)),
                                                 -- create_pod: the agent takes one job and exits
    after_prev   INTEGER NOT NULL DEFAULT 0 CHECK (after_prev IN (0, 1)),
                                                 -- run only if the previous decision succeeded
    reason       TEXT    NOT NULL,               -- '<rule>.<why>', greppable
    sentence     TEXT    NOT NULL,               -- for humans
    UNIQUE (tick_id, seq)
) STRICT;
CREATE INDEX decisions_pool ON decisions (pool_id, decision_id);

-- One row = the execution of one decision: written before it is sent, finished after.
CREATE TABLE intents (
    intent_id   INTEGER NOT NULL PRIMARY KEY,
    decision_id INTEGER NOT NULL UNIQUE REFERENCES decisions (decision_id) ON DELETE CASCADE,
    pool_id     INTEGER NOT NULL REFERENCES pools (pool_id) ON DELETE CASCADE,
    action      TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    state       TEXT    NOT NULL CHECK (state IN
                    ('pending', 'started', 'succeeded', 'failed', 'abandoned')),
    attempt     INTEGER NOT NULL CHECK (attempt >= 1),  -- 1 + earlier failures on this target
    created_ms  INTEGER NOT NULL,
    started_ms  INTEGER,
    ended_ms    INTEGER,
    error       TEXT                             -- failure text (never a token)
) STRICT;
CREATE INDEX intents_open ON intents (state) WHERE state IN ('pending', 'started');
CREATE INDEX intents_target ON intents (pool_id, target, intent_id);
CREATE INDEX intents_recent ON intents (pool_id, created_ms);  -- the planner's look-back (0004)

-- Scaling history: ticks that created or deleted pods, with the counts that led there.
CREATE VIEW v_scaling_history AS
SELECT p.namespace, p.name AS pool, t.at_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', t.at_ms / 1000.0, 'unixepoch') AS at,
       t.waiting, t.idle, t.busy, t.starting, t.created, t.deleted, t.pool_state
FROM ticks t JOIN pools p USING (pool_id)
WHERE t.created > 0 OR t.deleted > 0;

-- Decision log: every decision with its reason and the outcome of its intent.
CREATE VIEW v_decision_log AS
SELECT p.namespace, p.name AS pool, t.at_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', t.at_ms / 1000.0, 'unixepoch') AS at,
       d.action, d.target, d.slot_idx, d.cap_key, d.reason, d.sentence,
       i.state AS outcome, i.attempt, i.error
FROM decisions d JOIN ticks t USING (tick_id) JOIN pools p ON p.pool_id = d.pool_id
LEFT JOIN intents i USING (decision_id);

-- Agent lifetimes: each registration with when it was seen, and how many jobs it took.
CREATE VIEW v_agent_lifetimes AS
SELECT p.namespace, p.name AS pool, a.name AS agent, a.agent_id,
       a.first_seen_ms, a.gone_ms,
       (COALESCE(a.gone_ms, a.observed_ms) - a.first_seen_ms) / 1000 AS lifetime_s,
       (SELECT count(*) FROM jobs j WHERE j.pool_id = a.pool_id
          AND j.reserved_agent_id = a.agent_id) AS jobs
FROM agents a JOIN pools p USING (pool_id);

-- Queue wait: per job, how long it waited from queue to agent assignment.
CREATE VIEW v_queue_wait AS
SELECT p.namespace, p.name AS pool, j.request_id, j.queue_ms, j.assign_ms,
       (j.assign_ms - j.queue_ms) / 1000.0 AS wait_s, j.reserved_agent_name, j.result
FROM jobs j JOIN pools p USING (pool_id)
WHERE j.queue_ms IS NOT NULL AND j.assign_ms IS NOT NULL;

-- Failed actions and their retries.
CREATE VIEW v_failed_actions AS
SELECT p.namespace, p.name AS pool, i.action, i.target, i.attempt, i.state,
       i.created_ms, i.ended_ms, i.error, d.reason
FROM intents i JOIN decisions d USING (decision_id) JOIN pools p ON p.pool_id = i.pool_id
WHERE i.state IN ('failed', 'abandoned') OR i.attempt > 1;

-- Pool connection history: each change of a pool's Azure DevOps connection.
CREATE VIEW v_pool_connection_history AS
SELECT p.namespace, p.name AS pool, c.at_ms,
       strftime('%Y-%m-%dT%H:%M:%fZ', c.at_ms / 1000.0, 'unixepoch') AS at,
       c.connection, c.detail
FROM azdo_connection_changes c JOIN pools p USING (pool_id);

-- API calls per organisation per hour, with error and throttle counts.
CREATE VIEW v_api_calls_hourly AS
SELECT strftime('%Y-%m-%dT%H:00Z', hour_ms / 1000, 'unixepoch') AS hour, kind, organization,
       requests, errors, throttled
FROM api_hourly;

-- Slot history: every agent slot transition with its cause.
CREATE VIEW v_slot_history AS
SELECT p.namespace, p.name AS pool, s.idx, s.from_state, s.to_state, s.cause, s.at_ms
FROM slot_transitions s JOIN pools p USING (pool_id);

-- PVCs kept or deleted per slot index.
CREATE VIEW v_pvc_history AS
SELECT p.namespace, p.name AS pool, c.idx, c.name AS pvc, c.template, c.first_seen_ms, c.gone_ms,
       CASE WHEN c.gone_ms IS NULL THEN 'kept' ELSE 'deleted' END AS fate
FROM pvcs c JOIN pools p USING (pool_id);
