"""The resume state of ``replicator verify``: a JSON file, ``<state dir>/verify/state.json``.

It holds the run's options, each table's chunk plan (boundary keys, tagged so they decode to the same
types), the chunks done with the table's accumulated result, and which tables are finished. Written
atomically (temporary file + rename) after every chunk, so a run killed at any point resumes at the
first chunk not recorded. A finished run's file is kept as the record of the last run; a new run
replaces it without asking, an unfinished one is only thrown away with ``--restart``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from replicator.errors import ConfigError
from replicator.verify.chunks import Chunk, decode_key, encode_key
from replicator.verify.compare import TableResult

__all__ = ["RunState", "state_path"]

VERSION = 1


def state_path(state_dir: Path) -> Path:
    return state_dir / "verify" / "state.json"


@dataclass
class RunState:
    path: Path
    tables: list[str]
    chunk_rows: int
    mapping_digest: str
    plans: dict[str, list[Chunk]] = field(default_factory=dict)
    done_chunks: dict[str, set[int]] = field(default_factory=dict)
    partial: dict[str, TableResult] = field(default_factory=dict)
    finished_tables: dict[str, TableResult] = field(default_factory=dict)
    finished: bool = False

    # -- lifecycle

    @classmethod
    def begin(
        cls,
        path: Path,
        *,
        tables: list[str],
        chunk_rows: int,
        mapping_digest: str,
        resume: bool,
        restart: bool,
    ) -> tuple[RunState, bool]:
        """The state to run with, and whether it resumes an earlier run.

        An unfinished earlier run is resumed with ``resume``, discarded with ``restart``, and otherwise
        refused (``ConfigError``, exit code 2) — work is never thrown away implicitly.
        """
        old = cls.load(path)
        if old is not None and not old.finished and not restart:
            if not resume:
                raise ConfigError(
                    "--resume/--restart",
                    source=str(path),
                    problem=(
                        f"an unfinished verification exists ({len(old.finished_tables)} of "
                        f"{len(old.tables)} tables done)"
                    ),
                    valid="--resume to continue it, or --restart to discard it and start over",
                )
            if old.mapping_digest != mapping_digest:
                raise ConfigError(
                    "--resume",
                    source=str(path),
                    problem="the mapping changed since the unfinished verification started",
                    valid="--restart (its chunks were checked against another mapping)",
                )
            return old, True
        fresh = cls(path, tables=tables, chunk_rows=chunk_rows, mapping_digest=mapping_digest)
        fresh.save()
        return fresh, False

    @classmethod
    def load(cls, path: Path) -> RunState | None:
        if not path.exists():
            return None
        data = orjson.loads(path.read_bytes())
        if data.get("version") != VERSION:
            return None
        state = cls(
            path,
            tables=list(data["tables"]),
            chunk_rows=int(data["chunk_rows"]),
            mapping_digest=str(data["mapping_digest"]),
            finished=bool(data["finished"]),
        )
        for table, entry in data["progress"].items():
            state.plans[table] = [
                Chunk(i, decode_key(lo), decode_key(hi)) for i, (lo, hi) in enumerate(entry["plan"])
            ]
            state.done_chunks[table] = set(entry["done"])
            result = TableResult.from_dict(entry["result"])
            (state.finished_tables if entry["finished"] else state.partial)[table] = result
        return state

    def save(self) -> None:
        progress: dict[str, Any] = {}
        for table, plan in self.plans.items():
            finished = table in self.finished_tables
            result = self.finished_tables.get(table) or self.partial.get(table) or TableResult(table)
            progress[table] = {
                "plan": [[encode_key(c.lower), encode_key(c.upper)] for c in plan],
                "done": sorted(self.done_chunks.get(table, ())),
                "finished": finished,
                "result": result.as_dict(),
            }
        payload = {
            "version": VERSION,
            "tables": self.tables,
            "chunk_rows": self.chunk_rows,
            "mapping_digest": self.mapping_digest,
            "finished": self.finished,
            "progress": progress,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2))
        os.replace(tmp, self.path)

    # -- progress

    def plan(self, table: str, chunks: list[Chunk]) -> None:
        self.plans[table] = chunks
        self.done_chunks[table] = set()
        self.partial[table] = TableResult(table)
        self.save()

    def chunk_done(self, table: str, index: int, result: TableResult) -> None:
        self.done_chunks.setdefault(table, set()).add(index)
        self.partial[table] = result
        self.save()

    def table_done(self, table: str, result: TableResult) -> None:
        self.partial.pop(table, None)
        self.finished_tables[table] = result
        self.save()

    def finish(self) -> None:
        self.finished = True
        self.save()
