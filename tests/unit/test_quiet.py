"""The Kafka clients' repeated errors pass once per interval, saying how many were held back."""

from __future__ import annotations

import logging

from replicator.worker.quiet import RepeatFilter, quiet_handlers


def record(
    msg: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka.client"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_the_same_error_passes_once_per_interval_then_says_how_many_were_held() -> None:
    now = [0.0]
    repeat = RepeatFilter(30, clock=lambda: now[0])
    passed = []
    for second in range(0, 65):
        now[0] = float(second)
        for _ in range(10):  # ten a second, as aiokafka does during an outage
            r = record("Unable connect to node with id %s: %s", 1, "refused")
            if repeat.filter(r):
                passed.append((second, r.getMessage()))
    assert [s for s, _ in passed] == [0, 30, 60]
    assert passed[0][1] == "Unable connect to node with id 1: refused"
    assert passed[1][1] == "Unable connect to node with id 1: refused [299 more like this in 30s held back]"


def test_other_messages_loggers_and_info_lines_are_not_held() -> None:
    repeat = RepeatFilter(30, clock=lambda: 0.0)
    assert repeat.filter(record("Unable connect to node with id %s: %s", 1, "x"))
    assert repeat.filter(record("Unable to update metadata from %s", 1))
    assert repeat.filter(record("Unable connect to node with id %s: %s", 1, "x", name="aiokafka.conn"))
    for _ in range(3):
        assert repeat.filter(record("Joined group", level=logging.INFO))


def test_other_loggers_errors_are_never_held() -> None:
    repeat = RepeatFilter(30, clock=lambda: 0.0)
    for _ in range(3):
        assert repeat.filter(record("V2 write failed: %s", "x", name="replicator.worker"))
        assert repeat.filter(record("Unable connect", name="kafkaesque"))  # a prefix, not a client


def test_a_client_logger_created_after_the_filter_is_quieted_through_the_handler() -> None:
    caught: list[str] = []

    class Collect(logging.Handler):
        def emit(self, r: logging.LogRecord) -> None:
            caught.append(f"{r.name}: {r.getMessage()}")

    handler = Collect()
    quiet_handlers([handler])
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        late = logging.getLogger("aiokafka.created_late_for_this_test")  # after the filter was placed
        for _ in range(5):
            late.error("Unable connect to node with id %s", 1)
        logging.getLogger("replicator.worker").error("not a client: %s", "passes")
    finally:
        root.removeHandler(handler)
    assert caught == [
        "aiokafka.created_late_for_this_test: Unable connect to node with id 1",
        "replicator.worker: not a client: passes",
    ]


def test_two_handlers_get_the_same_lines_and_the_held_count_is_counted_once() -> None:
    now = [0.0]
    repeat = RepeatFilter(30, clock=lambda: now[0])
    seen: dict[str, list[str]] = {"console": [], "file": []}
    for second in range(0, 31):
        now[0] = float(second)
        r = record("Unable connect to node with id %s", 1)
        for lines in seen.values():  # as logging does: each handler of the root asks the shared filter
            if repeat.filter(r):
                lines.append(r.getMessage())
    assert (
        seen["console"]
        == seen["file"]
        == [
            "Unable connect to node with id 1",
            "Unable connect to node with id 1 [29 more like this in 30s held back]",
        ]
    )
