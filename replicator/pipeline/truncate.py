"""What a ``TRUNCATE`` of a V1 table becomes. Pure.

Replication does not empty V2's tables: a V2 table may be fed by several V1 tables (a merge), its rows
may be referenced by V2 rows of tables V1 did not truncate, and no row version would remember the
truncate against a replayed older insert. So a truncate of a mapped V1 table is dead-lettered
(``TRUNCATE``), never lost: its dead letter names the V2 tables that keep rows V1 no longer has and the
commands that find and remove them (``verify``, then ``repair extra``). A truncate of a table no
mapping reads changes nothing in V2 and is skipped as filtered.
"""

from __future__ import annotations

from replicator.errors import TerminalError
from replicator.mapping.model import Mapping
from replicator.pipeline.deadletter import DeadLetterReason
from replicator.pipeline.envelope import Truncate

__all__ = ["TruncateNotReplicatedError", "truncate_outcome"]


class TruncateNotReplicatedError(TerminalError):
    dead_letter_reason = DeadLetterReason.TRUNCATE

    def __init__(self, v1_table: str, targets: tuple[str, ...]) -> None:
        self.v1_table, self.targets = v1_table, targets
        tables = " ".join(f"--table {t}" for t in targets)
        super().__init__(
            f"V1 truncated {v1_table}; V2's {', '.join(targets)} keep the rows it had: "
            f"`replicator verify {tables}` finds them, `replicator repair extra {tables}` removes them"
        )


def truncate_outcome(truncate: Truncate, mapping: Mapping) -> TruncateNotReplicatedError | None:
    """The dead letter's error for a truncate of a mapped table; None for a table no mapping reads."""
    targets = tuple(sorted({t.target for t in mapping.mappings_for_source(truncate.table)}))
    return TruncateNotReplicatedError(f"{truncate.schema}.{truncate.table}", targets) if targets else None
