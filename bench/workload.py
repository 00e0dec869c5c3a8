"""Changes to V1 for the backlog and lag scenarios: 70% updates, 20% inserts, 10% deletes.

The changes touch three V1 tables with one V2 target each — ``audit_logs``, ``notes`` and
``listing_photos`` — and only rows whose parents exist, so that every system has the same work to
do: no orphan policies, no filtered rows (the product's demo mapping would otherwise spend its
time on the seed's deliberate orphans, which is not what these scenarios measure). Every change is a
row-level event; the count returned is what V1 actually changed (statement row counts).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from psycopg import sql

from bench.context import Conn

UPDATE_SHARE, INSERT_SHARE = 0.7, 0.2  # the rest are deletes
TABLES = ("audit_logs", "notes", "listing_photos")

POOL_SQL = {
    "audit_logs": """SELECT id FROM audit_logs a WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id)
                     OR EXISTS (SELECT 1 FROM archived_users u WHERE u.id = a.user_id)""",
    "notes": """SELECT id FROM notes n WHERE is_deleted = 'N' AND (author_user_id IS NULL
                OR EXISTS (SELECT 1 FROM users u WHERE u.id = n.author_user_id)
                OR EXISTS (SELECT 1 FROM archived_users u WHERE u.id = n.author_user_id))""",
    "listing_photos": "SELECT id FROM listing_photos",
}

UPDATE_SQL = {
    "audit_logs": "UPDATE audit_logs SET ip_address = '10.9.' || (id %% 250) || '.' || %s WHERE id = ANY(%s)",
    "notes": "UPDATE notes SET body = left(body, 200) || ' [rev ' || %s || ']' WHERE id = ANY(%s)",
    "listing_photos": "UPDATE listing_photos SET width = width + 1, position = %s WHERE id = ANY(%s)",
}

INSERT_SQL = {
    "audit_logs": """INSERT INTO audit_logs
        (user_id, entity_type, entity_id, action, changes, ip_address, created_at)
        SELECT p, 'listing', g, 2, '{"bench": true}', '10.0.0.1', localtimestamp
        FROM unnest(%s::int[]) WITH ORDINALITY AS x(p, g) RETURNING id""",
    "notes": """INSERT INTO notes (author_user_id, subject_type, subject_id, body, is_deleted, created_at)
        SELECT p, 'customer', g, 'benchmark note', 'N', localtimestamp
        FROM unnest(%s::int[]) WITH ORDINALITY AS x(p, g) RETURNING id""",
    "listing_photos": """INSERT INTO listing_photos
        (listing_id, url, position, width, height, sha256, uploaded_at)
        SELECT p, 'https://img.example/bench/' || g || '.jpg', 1, 1024, 768,
               sha256(g::text::bytea), now()
        FROM unnest(%s::int[]) WITH ORDINALITY AS x(p, g) RETURNING id""",
}

PARENT_SQL = {
    "audit_logs": "SELECT id FROM users ORDER BY id LIMIT 500",
    "notes": "SELECT id FROM users ORDER BY id LIMIT 500",
    "listing_photos": "SELECT id FROM listings ORDER BY id LIMIT 500",
}


@dataclass
class ChangeGenerator:
    """Draws mixed changes over pools of existing ids; deterministic for a seed."""

    pools: dict[str, list[int]]
    parents: dict[str, list[int]]
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    revision: int = 0
    held: dict[str, list[int]] | None = None
    """While set (``holding_inserts``), inserted ids wait here instead of joining the pools."""

    @classmethod
    def load(cls, v1: Conn, *, seed: int = 7) -> ChangeGenerator:
        pools = {t: [int(r[0]) for r in v1.execute(POOL_SQL[t]).fetchall()] for t in TABLES}
        parents = {t: [int(r[0]) for r in v1.execute(PARENT_SQL[t]).fetchall()] for t in TABLES}
        return cls(pools=pools, parents=parents, rng=random.Random(seed))

    def apply(self, v1: Conn, changes: int) -> tuple[int, dict[str, list[int]]]:
        """Apply about ``changes`` row changes to V1 in one transaction.

        Returns (row events V1 recorded, ids inserted per table)."""
        self.revision += 1
        counts = self._split(changes)
        done = 0
        inserted: dict[str, list[int]] = {}
        with v1.transaction():
            for table, n in counts["update"].items():
                ids = self.rng.sample(self.pools[table], min(n, len(self.pools[table])))
                done += v1.execute(UPDATE_SQL[table], [self.revision % 30000, ids]).rowcount
            for table, n in counts["insert"].items():
                parents = [self.rng.choice(self.parents[table]) for _ in range(n)]
                new = [int(r[0]) for r in v1.execute(INSERT_SQL[table], [parents]).fetchall()]
                inserted[table] = new
                done += len(new)
            for table, n in counts["delete"].items():
                ids = self._take(table, n)
                done += v1.execute(
                    sql.SQL("DELETE FROM {} WHERE id = ANY(%s)").format(sql.Identifier(table)), [ids]
                ).rowcount
        for table, new in inserted.items():
            self._added(table, new)
        return done, inserted

    def _added(self, table: str, ids: list[int]) -> None:
        (self.pools if self.held is None else self.held).setdefault(table, []).extend(ids)

    @contextmanager
    def holding_inserts(self) -> Iterator[None]:
        """Rows inserted inside the block are neither updated nor deleted inside it; they join the pools
        at its end. A lag step measures the rows it inserted by their commit time on both sides, and a
        target that stamps arrival on insert only (b's ``bench_applied_at``) would pair a row updated
        later in the step with the update's V1 commit: a negative lag."""
        self.held = {}
        try:
            yield
        finally:
            held, self.held = self.held, None
            for table, ids in held.items():
                self._added(table, ids)

    def _split(self, changes: int) -> dict[str, dict[str, int]]:
        kinds = {
            "update": round(changes * UPDATE_SHARE),
            "insert": round(changes * INSERT_SHARE),
        }
        kinds["delete"] = max(0, changes - kinds["update"] - kinds["insert"])
        out: dict[str, dict[str, int]] = {}
        for kind, total in kinds.items():
            per = dict.fromkeys(TABLES, total // len(TABLES))
            for table in self.rng.sample(TABLES, total % len(TABLES)):
                per[table] += 1
            out[kind] = {t: n for t, n in per.items() if n}
        return out

    def _take(self, table: str, n: int) -> list[int]:
        pool = self.pools[table]
        taken = []
        for _ in range(min(n, len(pool))):
            index = self.rng.randrange(len(pool))
            pool[index], pool[-1] = pool[-1], pool[index]
            taken.append(pool.pop())
        return taken


def backlog(v1: Conn, generator: ChangeGenerator, total: int, *, per_txn: int = 100) -> tuple[int, float]:
    """Apply ``total`` changes as fast as V1 takes them, ``per_txn`` per transaction.

    Returns (row events, seconds)."""
    started = time.monotonic()
    done = 0
    while done < total:
        n, _ = generator.apply(v1, min(per_txn, total - done))
        done += max(n, 1)
    return done, time.monotonic() - started


@dataclass(frozen=True, slots=True)
class Paced:
    offered_per_s: float
    achieved_per_s: float
    events: int
    seconds: float
    inserted: dict[str, list[int]]


def paced(
    v1: Conn,
    generator: ChangeGenerator,
    *,
    rate: float,
    seconds: float,
    tick_s: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
) -> Paced:
    """Offer ``rate`` changes per second for ``seconds``: one transaction per tick, on schedule (a tick
    that falls behind is made up by the next ones, never skipped). The rows it inserts are not updated
    or deleted before it ends (``ChangeGenerator.holding_inserts``): they are the lag's samples."""
    started = clock()
    done = 0
    inserted: dict[str, list[int]] = {t: [] for t in TABLES}
    ticks = 0
    with generator.holding_inserts():
        while (now := clock()) - started < seconds:
            due = int(rate * min(seconds, now - started + tick_s)) - done
            if due > 0:
                n, new = generator.apply(v1, due)
                done += max(n, 1)
                for table, ids in new.items():
                    inserted[table].extend(ids)
            ticks += 1
            sleep = started + ticks * tick_s - clock()
            if sleep > 0:
                time.sleep(sleep)
    elapsed = clock() - started
    return Paced(rate, done / elapsed, done, elapsed, inserted)
