-- V1 bootstrap, run by a superuser in the V1 database. Idempotent.
-- The replication role itself is created by code (its password is a parameter).

-- Control tables of the replicator: heartbeats keep the slot advancing and lag measurable while V1
-- is idle; fences prove that every change before them was applied; the signal table triggers
-- Debezium incremental snapshots (ad hoc backfills).
CREATE SCHEMA IF NOT EXISTS replicator;

CREATE TABLE IF NOT EXISTS replicator.heartbeat (
    id integer PRIMARY KEY,
    ts timestamptz NOT NULL
);

CREATE TABLE IF NOT EXISTS replicator.fence (
    id bigserial PRIMARY KEY,
    label text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE IF NOT EXISTS replicator.debezium_signal (
    id varchar(42) PRIMARY KEY,
    type varchar(32) NOT NULL,
    data varchar(2048)
);

-- The V1 rows `replicator orphans fix` changed or deleted, as they were before (not captured by
-- Debezium): a fix can be checked and undone by hand.
CREATE TABLE IF NOT EXISTS replicator.orphan_backup (
    id bigserial PRIMARY KEY,
    relationship text NOT NULL,
    tbl text NOT NULL,
    action text NOT NULL,              -- set_null | delete
    row_before jsonb NOT NULL,
    fixed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
