"""The Kafka clients' repeated errors, once per interval.

During a broker outage aiokafka logs about ten ERROR lines a second per worker ("Unable connect to
node …", "Unable to update metadata …"), all alike: an hour's outage buries everything else in the
log under megabytes of the same few lines. ``RepeatFilter`` passes the first of each kind (logger and
message template) and then one per ``interval_s``, saying how many it held back; INFO and below pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

__all__ = ["RepeatFilter", "quiet_clients"]

CLIENT_LOGGERS = ("aiokafka", "kafka")
INTERVAL_S = 30.0


class RepeatFilter(logging.Filter):
    def __init__(self, interval_s: float = INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self._passed: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._passed.get(key)
        if last is not None and now - last < self.interval_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        self._passed[key] = now
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} [{held} more like this in {self.interval_s:.0f}s held back]"
        return True


def quiet_clients(prefixes: Iterable[str] = CLIENT_LOGGERS, interval_s: float = INTERVAL_S) -> RepeatFilter:
    """Put one ``RepeatFilter`` on every logger of the Kafka clients created so far (a logger's filter
    does not reach its children, so each gets it). Call it once the clients are imported."""
    repeat = RepeatFilter(interval_s)
    roots = tuple(prefixes)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and name.split(".")[0] in roots:
            logger.addFilter(repeat)
    return repeat
