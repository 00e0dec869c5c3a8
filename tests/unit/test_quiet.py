"""The Kafka clients' repeated errors pass once per interval, saying how many were held back."""

from __future__ import annotations

import logging

from replicator.worker.quiet import RepeatFilter, quiet_clients


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


def test_every_client_logger_gets_the_filter_and_nothing_else_does() -> None:
    import aiokafka.consumer.fetcher  # noqa: F401 - creates its logger

    repeat = quiet_clients()
    try:
        assert repeat in logging.getLogger("aiokafka.consumer.fetcher").filters
        assert repeat not in logging.getLogger("replicator.worker").filters
    finally:
        for logger in logging.Logger.manager.loggerDict.values():
            if isinstance(logger, logging.Logger) and repeat in logger.filters:
                logger.removeFilter(repeat)
