"""System f: V2's write floor. The rows the product's load wrote into V2, written again into the emptied
V2 tables by binary COPY, in the load's order, by two processes as the V2 writer, foreign keys on.
Initial sync only.

Not a product (the rows are already mapped and resolved; nothing reads V1): the reference that says what
V2 itself spends to take the demo's rows while it keeps its 32 foreign keys and its indexes, which
native replication's apply (b) never checks. f / b is the part of a / b no Python code can remove; a / f
is the product's share. See ``bench.v2floor``.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.context import Bench, Conn, count_rows
from bench.systems.base import CopyOnce
from bench.systems.product import ProductSystem, empty_targets, product_systems
from bench.v2floor import PLAN, PROCESSES, dump_name
from replicator.load.order import linked, load_groups
from replicator.load.source import Share, share_filter
from replicator.mapping.catalog import CatalogTable, read_catalog
from replicator.mapping.model import Mapping
from replicator.pipeline.fk import strongly_connected

SCHEMA = "public"

FK_SQL = """
SELECT c.conrelid::regclass::text, c.confrelid::regclass::text
  FROM pg_constraint c
 WHERE c.contype = 'f' AND NOT c.condeferrable AND c.conrelid <> c.confrelid
   AND c.connamespace = %s::regnamespace
"""
"""V2's foreign keys checked at each statement's end: they order the tables of a step."""


@dataclass(frozen=True)
class Step:
    tables: tuple[str, ...]
    """V2 tables, each after the tables it references by a non-deferrable foreign key."""
    whole: bool
    """Written by the first process alone, in one transaction: its rows may reference each other."""
    group: tuple[str, ...] = ()
    """The load's group of V1 tables this step stands for."""


def plan_steps(mapping: Mapping, edges: dict[str, set[str]]) -> list[Step]:
    """The load's groups (``load.order``) as V2 tables. A table fed by several V1 tables goes in the last
    of their groups, when every table it references is in. A step is whole when its group is linked or
    its tables reference each other (a split's child references its own V1 row: hash shares of the V2
    keys would part them). ``edges``: V2 table → the tables it references by non-deferrable keys."""
    groups = load_groups(mapping)
    last: dict[str, int] = {}
    for number, group in enumerate(groups):
        for table in mapping.tables:
            if table.source in group:
                last[table.target] = number
    parents = mapping.parents()
    steps = []
    for number, group in enumerate(groups):
        targets = {t for t, n in last.items() if n == number}
        if not targets:
            continue
        inner = {t: {p for p in edges.get(t, ()) if p in targets} for t in targets}
        ordered = tuple(c[0] for c in strongly_connected(inner))
        related = any(p in targets for t in targets for p in parents.get(t, ()))
        steps.append(Step(ordered, whole=linked(mapping, group) or related, group=group))
    return steps


class V2FloorSystem(CopyOnce):
    key = "f"
    label = "V2 write floor (FKs on)"

    def __init__(self, product: ProductSystem | None = None) -> None:
        """``product``: the system a whose load fills V2 (by default ``product_systems()``'s first)."""
        super().__init__()
        self._product: ProductSystem = product or product_systems()[0]
        self._wanted: dict[str, int] = {}

    def settings(self) -> dict[str, Any]:
        return {
            "processes": PROCESSES,
            "rows": "what replicator load wrote into V2 (demo mapping), dumped by binary COPY",
            "write": "binary COPY into the emptied V2 tables as the V2 writer, the load's order, FKs on",
        }

    def directory(self, bench: Bench) -> Path:
        return bench.settings.state_dir / "bench" / "v2floor"

    def setup(self, bench: Bench) -> None:
        """The product's load into V2 (not measured), its rows dumped per step and share, V2 emptied."""
        product = self._product
        product.setup(bench)
        product.load(bench)
        product.teardown(bench)
        directory = self.directory(bench)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        with bench.v2(product.dbname) as v2:
            edges: dict[str, set[str]] = {}
            for child, parent in v2.execute(FK_SQL, [SCHEMA]).fetchall():
                edges.setdefault(_bare(child), set()).add(_bare(parent))
            steps = plan_steps(bench.mapping, edges)
            tables = [t for step in steps for t in step.tables]
            catalog = read_catalog(v2, SCHEMA)
            columns = {t: _written(catalog.tables[t]) for t in tables}
            for step in steps:
                for table in step.tables:
                    _dump(v2, catalog.tables[table], directory, None if step.whole else PROCESSES)
            self._wanted = {t: count_rows(v2, SCHEMA, t) for t in tables}
            empty_targets(v2, tables)
        plan = {
            "schema": SCHEMA,
            "steps": [{"tables": list(s.tables), "whole": s.whole, "group": list(s.group)} for s in steps],
            "columns": columns,
            "rows": self._wanted,
        }
        (directory / PLAN).write_text(json.dumps(plan))

    def start(self, bench: Bench) -> None:
        self.run_copy([sys.executable, "-m", "bench.v2floor", str(self.directory(bench))])

    def synced(self, bench: Bench) -> bool:
        if not self._wanted:
            return False  # not set up
        with bench.v2(self._product.dbname) as v2:
            return all(count_rows(v2, SCHEMA, t) == n for t, n in self._wanted.items())

    def target(self, bench: Bench, v1_table: str) -> tuple[str, str]:
        return self._product.target(bench, v1_table)

    def teardown(self, bench: Bench) -> None:
        """The dumped rows removed; V2 keeps the copied rows until the next system's setup empties it."""
        shutil.rmtree(self.directory(bench), ignore_errors=True)


def _bare(name: str) -> str:
    """``regclass`` text without its schema (it has one when the schema is not on the search path)."""
    return name.rsplit(".", 1)[-1].strip('"')


def _written(table: CatalogTable) -> list[str]:
    """The columns a COPY writes: every one but the generated."""
    return [c.name for c in table.columns if not c.is_generated]


def _dump(v2: Conn, table: CatalogTable, directory: Path, shares: int | None) -> None:
    """``table``'s rows into one file (``shares`` None) or one file per hash share of its primary key."""
    names = sql.SQL(", ").join(sql.Identifier(c) for c in _written(table))
    parts: list[tuple[int | None, sql.Composable]] = [(None, sql.SQL(""))]
    if shares is not None:
        parts = [(k, share_filter(table.primary_key, Share(k, shares))) for k in range(shares)]
    for index, where in parts:
        query = sql.SQL("COPY (SELECT {} FROM {}{}) TO STDOUT (FORMAT binary)").format(
            names, sql.Identifier(SCHEMA, table.name), where
        )
        with v2.cursor().copy(query) as copy, (directory / dump_name(table.name, index)).open("wb") as out:
            for chunk in copy:
                out.write(chunk)
