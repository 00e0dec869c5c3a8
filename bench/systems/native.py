"""System b: PostgreSQL's own logical replication, a publication on V1 and a subscription on V2.

The subscription copies V1's tables unchanged into the mirror database ``bench_native`` on the V2
cluster (see ``mirror_database``): the baseline of what PostgreSQL alone does, with no remodelling.
Every subscription option and server setting is PostgreSQL 15's default (see ``settings``).
"""

from __future__ import annotations

import time
from typing import Any

from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench import workload
from bench.context import Bench, Conn, count_rows
from bench.systems.base import mirror_database
from replicator.drain import slot_at
from replicator.poll import until

ARRIVAL_COLUMN = "bench_applied_at"
"""When a row reached the target. The apply worker stamps a replicated transaction with the ORIGIN's
commit timestamp, so ``pg_xact_commit_timestamp`` would show zero lag: a subscriber-only column with a
``clock_timestamp()`` default records the local insert time instead (the lag scenario inserts rows)."""

NAME = "bench_native"
"""The publication, the subscription, its slot on V1 and the mirror database on V2."""

OPTIONS: dict[str, str] = {
    "copy_data": "true",
    "streaming": "off",
    "binary": "false",
    "synchronous_commit": "off",
    "two_phase": "false",
    "disable_on_error": "false",
}
"""``CREATE SUBSCRIPTION … WITH (…)``: PostgreSQL 15's defaults, written out so the report shows them.
``synchronous_commit = off`` is the subscription default: the apply worker commits without waiting for
the local WAL flush and reports a change as flushed to V1 only once it is."""

V2_KNOBS = (
    "server_version",
    "max_logical_replication_workers",
    "max_sync_workers_per_subscription",
    "max_worker_processes",
    "wal_receiver_status_interval",
    "wal_writer_delay",
    "synchronous_commit",
)
V1_KNOBS = ("wal_level", "max_wal_senders", "max_replication_slots", "logical_decoding_work_mem")

STOP_TIMEOUT_S = 30.0


LAUNCHER_INTERVAL_S = 5.5  # PostgreSQL's wal_retrieve_retry_interval (5 s) and a margin
_last_drop = [float("-inf")]  # monotonic time the last subscription was dropped


class NativeSystem:
    """Publication ``bench_native`` on V1, subscription ``bench_native`` in the V2 database of that name."""

    key = "b"
    label = "native logical replication"
    arrival_column = ARRIVAL_COLUMN

    def setup(self, bench: Bench) -> None:
        """Drop an earlier run's subscription, slots and publication; recreate the mirror database and
        publish the benchmark's tables (nothing is decoded until a subscription connects)."""
        _drop_all(bench)
        mirror_database(bench, NAME)
        with bench.v2(NAME) as target:
            for table in workload.TABLES:  # the tables whose inserted rows the lag scenario reads
                target.execute(
                    sql.SQL("ALTER TABLE {} ADD COLUMN {} timestamptz DEFAULT clock_timestamp()").format(
                        sql.Identifier("public", table), sql.Identifier(ARRIVAL_COLUMN)
                    )
                )
        with bench.v1() as v1:
            v1.execute(
                sql.SQL("CREATE PUBLICATION {} FOR TABLE {}").format(
                    sql.Identifier(NAME),
                    sql.SQL(", ").join(sql.Identifier("public", t) for t in bench.tables),
                )
            )
        # The launcher starts apply workers at most once per wal_retrieve_retry_interval (5 s): a
        # subscription created sooner after the last one waits for it, which is not replication time.
        time.sleep(max(0.0, LAUNCHER_INTERVAL_S - (time.monotonic() - _last_drop[0])))

    def start(self, bench: Bench) -> None:
        """Create the subscription: it creates its slot on V1, copies every table, then streams."""
        options = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Literal(v)) for k, v in OPTIONS.items()
        )
        with bench.v2(NAME) as target:
            target.execute(
                sql.SQL("CREATE SUBSCRIPTION {} CONNECTION {} PUBLICATION {} WITH ({})").format(
                    sql.Identifier(NAME),
                    sql.Literal(_publisher_conninfo(bench)),
                    sql.Identifier(NAME),
                    options,
                )
            )

    def synced(self, bench: Bench) -> bool:
        """Every published table is 'r' (ready) in ``pg_subscription_rel``, and, as a cross-check that
        costs two ``count(*)`` per table, holds as many rows as on V1 (V1 is quiet during the sync)."""
        with bench.v2(NAME) as target:
            states: dict[str, str] = dict(
                target.execute(
                    "SELECT c.relname, r.srsubstate FROM pg_subscription_rel r "
                    "JOIN pg_subscription s ON s.oid = r.srsubid JOIN pg_class c ON c.oid = r.srrelid "
                    "WHERE s.subname = %s",
                    [NAME],
                ).fetchall()
            )
            if set(states) != set(bench.tables) or set(states.values()) != {"r"}:
                return False
            counts = {t: count_rows(target, "public", t) for t in bench.tables}
        return counts == bench.v1_counts()

    def pause(self, bench: Bench) -> None:
        """Disable the subscription and wait until its workers have exited: nothing more is applied.
        The slot keeps V1's WAL, so changes wait there as a backlog."""
        with bench.v2(NAME) as target:
            target.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(sql.Identifier(NAME)))
            until(
                lambda: not _worker_pids(target),
                "the subscription's workers to exit",
                STOP_TIMEOUT_S,
                interval=0.1,
            )

    def resume(self, bench: Bench) -> None:
        """Enable the subscription. The launcher starts its apply worker at once, unless it started
        one less than ``wal_retrieve_retry_interval`` (5 s) ago: then it waits that long."""
        with bench.v2(NAME) as target:
            target.execute(sql.SQL("ALTER SUBSCRIPTION {} ENABLE").format(sql.Identifier(NAME)))

    def caught_up(self, bench: Bench, lsn: str) -> bool:
        """True once the target has committed every V1 transaction that ended at or before ``lsn``.

        Either of two facts proves it. (1) The subscription's replication origin on V2 has a
        ``remote_lsn`` (end of the last applied V1 commit, written atomically with the local commit)
        at or past ``lsn``; exact, but it moves only when a published transaction commits. (2) The slot's
        ``confirmed_flush_lsn`` on V1 is at or past ``lsn``: the subscriber has applied and durably
        flushed everything the walsender sent up to there, including WAL with nothing to publish, so it
        also gets past trailing unrelated WAL (the walsender pings an idle subscriber, which answers
        with its flush position within ``wal_writer_delay``)."""
        with bench.v2(NAME) as target:
            row = target.execute(
                "SELECT o.remote_lsn >= %s::pg_lsn FROM pg_replication_origin_status o "
                "JOIN pg_subscription s ON o.external_id = 'pg_' || s.oid WHERE s.subname = %s",
                [lsn, NAME],
            ).fetchone()
        if row is not None and row[0]:
            return True
        with bench.v1() as v1:
            confirmed = slot_at(v1, NAME, lsn)
        return bool(confirmed)

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        return NAME, v1_table

    def processes(self, bench: Bench) -> dict[str, list[int]]:
        """None of its own: the apply and table-sync workers are children of the V2 postmaster and the
        walsender a child of V1's, both measured with their cluster."""
        return {}

    def start_usage(self) -> dict[str, tuple[float, float]]:
        return {}

    def rows_committed_at(self) -> float | None:
        return None  # known only once ``synced`` holds

    def teardown(self, bench: Bench) -> None:
        """Drop the subscription, its slots on V1 and the publication; the mirror database stays for
        inspection until the next ``setup``."""
        _drop_all(bench)

    def settings(self, bench: Bench | None = None) -> dict[str, str]:
        """The subscription options used and, given a bench, the live server settings that shape
        native replication (``v1.``/``v2.`` prefixed)."""
        knobs = {f"subscription.{k}": v for k, v in OPTIONS.items()}
        if bench is not None:
            with bench.v1() as v1:
                knobs |= {f"v1.{k}": _show(v1, k) for k in V1_KNOBS}
            with bench.v2("postgres") as v2:
                knobs |= {f"v2.{k}": _show(v2, k) for k in V2_KNOBS}
        return knobs


def _publisher_conninfo(bench: Bench) -> str:
    """V1 as its superuser, password included: goes into the subscription, never into a log. Its
    walsenders show up on V1 as ``bench_native``."""
    return make_conninfo(bench.settings.v1_admin.conninfo(), application_name=NAME)


def _drop_all(bench: Bench) -> None:
    """Idempotently remove the subscription (wherever it is), every slot it made on V1, the publication.

    The subscription is detached from its slot before it is dropped so the drop never depends on V1;
    once its walsenders have exited, its slots (``bench_native`` and the table-sync ones,
    ``pg_<subid>_sync_…``) are dropped on V1."""
    with bench.v2("postgres") as admin:
        found = admin.execute(
            "SELECT s.oid, d.datname FROM pg_subscription s JOIN pg_database d ON d.oid = s.subdbid "
            "WHERE s.subname = %s",
            [NAME],
        ).fetchone()
    slots = [NAME.replace("_", "\\_")]
    if found is not None:
        subid, dbname = found
        slots.append(f"pg\\_{subid}\\_sync\\_%")
        name = sql.Identifier(NAME)
        with bench.v2(dbname) as db:
            db.execute(sql.SQL("ALTER SUBSCRIPTION {} DISABLE").format(name))
            db.execute(sql.SQL("ALTER SUBSCRIPTION {} SET (slot_name = NONE)").format(name))
            db.execute(sql.SQL("DROP SUBSCRIPTION {}").format(name))
        _last_drop[0] = time.monotonic()
    with bench.v1() as v1:
        until(lambda: not _end_walsenders(v1), "its walsenders on V1 to exit", STOP_TIMEOUT_S, interval=0.1)
        for pattern in slots:
            _drop_slots(v1, pattern)
        v1.execute(sql.SQL("DROP PUBLICATION IF EXISTS {}").format(sql.Identifier(NAME)))


def _end_walsenders(v1: Conn) -> int:
    """Terminate V1's walsenders serving this subscription (all named ``bench_native``), so that none
    is still creating or holding a slot; returns how many were running."""
    rows = v1.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE backend_type = 'walsender' AND application_name = %s",
        [NAME],
    ).fetchall()
    return len(rows)


def _drop_slots(v1: Conn, pattern: str) -> None:
    """Drop V1's slots whose name is LIKE ``pattern``, ending the walsender of any still in use."""

    def remaining() -> list[tuple[Any, ...]]:
        return v1.execute(
            "SELECT slot_name, active_pid FROM pg_replication_slots WHERE slot_name LIKE %s", [pattern]
        ).fetchall()

    def drop_inactive() -> bool:
        for slot, pid in remaining():
            if pid is None:
                v1.execute("SELECT pg_drop_replication_slot(%s)", [slot])
            else:
                v1.execute("SELECT pg_terminate_backend(%s)", [pid])
        return not remaining()

    until(drop_inactive, f"slots {pattern!r} on V1 to drop", STOP_TIMEOUT_S, interval=0.1)


def _worker_pids(target: Conn) -> list[int]:
    rows = target.execute(
        "SELECT w.pid FROM pg_stat_subscription w JOIN pg_subscription s ON s.oid = w.subid "
        "WHERE s.subname = %s AND w.pid IS NOT NULL",
        [NAME],
    ).fetchall()
    return [int(r[0]) for r in rows]


def _show(conn: Conn, setting: str) -> str:
    row = conn.execute("SELECT current_setting(%s)", [setting]).fetchone()
    return str(row[0]) if row else ""
