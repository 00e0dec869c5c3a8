-- The replicator's own state in V2, in the same database as the data so that one transaction covers
-- a batch's writes, its row versions, its parked items and its accounting. Created by an admin;
-- the writer role has DML on it and nothing more. Idempotent.
CREATE SCHEMA IF NOT EXISTS replicator;

-- Last applied source position per V2 row; `deleted` is the delete marker that stops a stale
-- insert from resurrecting a deleted row.
CREATE TABLE IF NOT EXISTS replicator.row_version (
    tbl text NOT NULL,
    pk text NOT NULL,
    commit_lsn bigint NOT NULL,
    lsn bigint NOT NULL,
    deleted boolean NOT NULL,
    PRIMARY KEY (tbl, pk)
);

-- Changes waiting for a parent row (or a parent delete waiting for its children).
CREATE TABLE IF NOT EXISTS replicator.parked (
    tbl text NOT NULL,
    pk text NOT NULL,
    commit_lsn bigint NOT NULL,
    lsn bigint NOT NULL,
    fixup boolean NOT NULL,
    since_us bigint NOT NULL,
    deadline_us bigint NOT NULL,
    waiting_for text[] NOT NULL,     -- row ids "<table> <canonical key>"
    item jsonb NOT NULL,             -- the V2 change and its source coordinates (exact, tagged)
    orig_key bytea,                  -- the original Kafka record, for the dead-letter topic
    orig_value bytea,
    PRIMARY KEY (tbl, pk, commit_lsn, lsn, fixup)
);
CREATE INDEX IF NOT EXISTS parked_deadline ON replicator.parked (deadline_us);
CREATE INDEX IF NOT EXISTS parked_waiting_for ON replicator.parked USING gin (waiting_for);

-- Accounting: every consumed event lands in exactly one outcome (released items twice: see
-- replicator/pipeline/accounting.py). Updated in the batch's transaction, so it is exact across
-- restarts and workers.
CREATE TABLE IF NOT EXISTS replicator.ledger (
    tbl text NOT NULL,
    op text NOT NULL,
    outcome text NOT NULL,
    reason text NOT NULL DEFAULT '',
    events bigint NOT NULL,
    PRIMARY KEY (tbl, op, outcome, reason)
);

-- Latest source commit time applied per V2 table (end-to-end lag) and the latest fence applied.
CREATE TABLE IF NOT EXISTS replicator.progress (
    name text PRIMARY KEY,
    commit_ts_us bigint NOT NULL,
    commit_lsn bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Latest verification result per V2 table (written by `replicator verify`, read by `report` and
-- exported as metrics). `status`: match | mismatch | error.
CREATE TABLE IF NOT EXISTS replicator.verification (
    tbl text PRIMARY KEY,
    status text NOT NULL,
    rows_expected bigint NOT NULL,
    rows_actual bigint NOT NULL,
    missing bigint NOT NULL DEFAULT 0,
    extra bigint NOT NULL DEFAULT 0,
    different bigint NOT NULL DEFAULT 0,
    sample jsonb NOT NULL DEFAULT '[]',  -- up to 20 {"key": …, "kind": missing|extra|different, "columns": […]}
    checked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    v1_lsn text                          -- V1 WAL position the check was made against
);
