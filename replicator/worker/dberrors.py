"""The database driver's exceptions, translated in one place into what the batch does next.

* **V2 rejected rows** (``ROW_REJECTIONS``): an integrity or data error, or a V2 trigger raising
  (PL/pgSQL, SQLSTATE class P0). The set-based write is isolated row by row and the rows V2 rejects
  are dead-lettered (``SinkConstraintError``); the stream goes on.
* **A database is away** (``OperationalError``: connection lost, admin shutdown, disk full, a
  serialization failure or deadlock): ``TransientError``, retried with backoff.
* **A database refuses the batch** (any other driver error: an undefined column or table, a permission
  revoked, a read-only V2 after a failover, an internal error): ``DatabaseRefusedError``. Every row
  would fail alike: dead-lettering them would empty the stream into the dead-letter topic, and
  crashing would only restart into the same refusal. It is retried with backoff and reported (log,
  ``/ready``, ``replicator_apply_retries_total``) until an operator fixes V2, the rights or the mapping;
  nothing is committed meanwhile, so nothing is lost or skipped.

Messages name classes, SQLSTATEs and schema identifiers, never the driver's whole text: a driver
message can quote row values (guarantee 7). Only for SQLSTATE classes 42 (syntax or access rule) and
25 (transaction state), and only when PostgreSQL itself wrote it (not a function or trigger raising
with such a code), is the primary message kept: it names a column, a relation or a privilege, which is
what the operator needs to fix it.

A one-shot command (the initial load) does not wait for a refusal to be fixed: it stops with it
(``Processor(wait_when_refused=False)``).
"""

from __future__ import annotations

import psycopg
from psycopg import errors as pg

from replicator.errors import ReplicatorError, TerminalError, TransientError
from replicator.pipeline.deadletter import DeadLetterReason

__all__ = [
    "ROW_REJECTIONS",
    "DatabaseRefusedError",
    "SinkConstraintError",
    "describe",
    "translate",
]

ROW_REJECTIONS: tuple[type[psycopg.Error], ...] = (
    psycopg.IntegrityError,
    psycopg.DataError,
    pg.PlpgsqlError,
    pg.RaiseException,
    pg.NoDataFound,
    pg.TooManyRows,
    pg.AssertFailure,
)
"""Errors that reject particular rows: the write is isolated row by row and the culprits dead-lettered."""

_NAMING_CLASSES = ("42", "25")
"""SQLSTATE classes whose primary message names identifiers (a column, a relation, a privilege)."""


class SinkConstraintError(TerminalError):
    """V2 refused a row (constraint, data error or trigger) even though its FKs were resolved."""

    dead_letter_reason = DeadLetterReason.SINK_CONSTRAINT

    def __init__(self, table: str, sqlstate: str | None, constraint: str | None) -> None:
        self.table, self.sqlstate, self.constraint = table, sqlstate, constraint
        super().__init__(f"V2 rejected a row of {table}: sqlstate {sqlstate}, constraint {constraint}")


class DatabaseRefusedError(TransientError):
    """V1 or V2 refused the batch's statements for a reason no row can fix (see the module docstring)."""

    def __init__(self, database: str, error_class: str, sqlstate: str | None, detail: str | None) -> None:
        self.database, self.error_class, self.sqlstate, self.detail = database, error_class, sqlstate, detail
        said = f": {detail}" if detail else ""
        super().__init__(
            f"{database} refused the batch: {error_class} (sqlstate {sqlstate}){said}. Nothing was "
            "committed; retrying until it is fixed (`replicator mapping check` compares the mapping "
            "with V1 and V2)"
        )


def translate(exc: psycopg.Error, database: str) -> ReplicatorError:
    """The product's error for a driver error raised by ``database`` ("V1" or "V2")."""
    if isinstance(exc, psycopg.OperationalError):
        return TransientError(f"{database} transaction failed: {describe(exc)}")
    sqlstate, diag = exc.sqlstate, exc.diag
    # PostgreSQL's own message of these classes names identifiers; one raised inside a function or
    # trigger (it has a CONTEXT) is whatever its author wrote, values included: left out.
    own = diag.context is None and diag.source_file != "pl_exec.c"
    detail = diag.message_primary if sqlstate and sqlstate[:2] in _NAMING_CLASSES and own else None
    return DatabaseRefusedError(database, type(exc).__name__, sqlstate, detail)


def describe(exc: BaseException) -> str:
    """For a log line: the product's own message (built from structured fields), or a driver error's
    class and SQLSTATE only (driver messages can echo row values)."""
    if isinstance(exc, ReplicatorError):
        return str(exc)
    sqlstate = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__}{f' sqlstate {sqlstate}' if sqlstate else ''}"
