-- The latest parity result per calculation and per endpoint, written by `replicator parity` (admin role)
-- and read by `replicator report`. One run replaces all rows of its kind. Idempotent.
CREATE SCHEMA IF NOT EXISTS replicator;

CREATE TABLE IF NOT EXISTS replicator.parity_result (
    kind text NOT NULL CHECK (kind IN ('calculation', 'endpoint')),
    name text NOT NULL,
    status text NOT NULL,            -- pass | fail | missing_on_v2 | error
    detail jsonb NOT NULL,           -- paths, columns, status codes, counts: never row values or bodies
    run_id text NOT NULL,
    checked_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (kind, name)
);
