"""Driver errors translated into what the batch does next (``replicator.worker.dberrors``)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg

from replicator.errors import TransientError
from replicator.worker.dberrors import ROW_REJECTIONS, DatabaseRefusedError, describe, translate


@pytest.mark.parametrize(
    "error", [pg.UniqueViolation, pg.CheckViolation, pg.NumericValueOutOfRange, pg.RaiseException]
)
def test_errors_of_particular_rows_are_isolated_and_dead_lettered(error: type[psycopg.Error]) -> None:
    """Constraints, bad values and a V2 trigger raising reject rows, not the batch."""
    assert issubclass(error, ROW_REJECTIONS)


@pytest.mark.parametrize(
    "error", [pg.AdminShutdown, pg.SerializationFailure, pg.DeadlockDetected, pg.DiskFull]
)
def test_a_database_away_is_transient(error: type[psycopg.Error]) -> None:
    translated = translate(error("row value alice@example.com"), "V2")
    assert type(translated) is TransientError
    assert str(translated) == f"V2 transaction failed: {error.__name__} sqlstate {error.sqlstate}"


@pytest.mark.parametrize(
    "error", [pg.UndefinedColumn, pg.UndefinedTable, pg.InsufficientPrivilege, pg.ReadOnlySqlTransaction]
)
def test_a_refused_batch_is_retried_and_named_without_the_drivers_text(error: type[psycopg.Error]) -> None:
    """Schema drift, a revoked right, a read-only V2: retried (transient) with class, SQLSTATE and
    database; the driver's text (which can quote values) is left out."""
    assert not issubclass(error, ROW_REJECTIONS)
    translated = translate(error("value 'alice@example.com' in the message"), "V1")
    assert isinstance(translated, DatabaseRefusedError) and isinstance(translated, TransientError)
    assert (translated.database, translated.error_class, translated.sqlstate) == (
        "V1",
        error.__name__,
        error.sqlstate,
    )
    assert "alice" not in str(translated)
    assert str(translated).startswith(f"V1 refused the batch: {error.__name__} (sqlstate {error.sqlstate})")


def test_describe_keeps_the_products_message_and_a_drivers_class_and_sqlstate() -> None:
    assert (
        describe(pg.UniqueViolation("Key (email)=(alice@example.com) exists"))
        == "UniqueViolation sqlstate 23505"
    )
    assert describe(TransientError("V2 unreachable: OperationalError")) == "V2 unreachable: OperationalError"


@pytest.mark.parametrize("wait", [True, False])
def test_a_worker_waits_for_a_refusal_to_be_fixed_and_the_load_stops_on_it(
    wait: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``wait_when_refused``: a worker retries (telling ``on_retry`` each time) until V2 is fixed; the
    initial load, a one-shot command, stops with the refusal at once."""
    from types import SimpleNamespace

    from replicator.worker.processor import Processor

    monkeypatch.setattr("replicator.worker.processor.time.sleep", lambda _s: None)
    refusal = DatabaseRefusedError("V2", "UndefinedColumn", "42703", None)
    attempts: list[int] = []

    def attempt() -> list[object]:
        attempts.append(1)
        if len(attempts) < 3:
            raise refusal
        return []

    told: list[object] = []
    processor = SimpleNamespace(_v2=None, wait_when_refused=wait, on_retry=told.append)
    processor._report_retry = lambda exc, delay: Processor._report_retry(processor, exc, delay)  # type: ignore[arg-type]
    if wait:
        assert Processor._with_retry(processor, attempt) == []  # type: ignore[arg-type]
        assert told == [refusal, refusal]
    else:
        with pytest.raises(DatabaseRefusedError):
            Processor._with_retry(processor, attempt)  # type: ignore[arg-type]
        assert (len(attempts), told) == (1, [])
