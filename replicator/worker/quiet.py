"""The Kafka clients' repeated errors, once per interval.

During a broker outage aiokafka logs about ten ERROR lines a second per worker ("Unable connect to
node …", "Unable to update metadata …"), all alike: an hour's outage buries everything else in the
log under megabytes of the same few lines. ``RepeatFilter`` passes the first of each kind (logger and
message template) of the clients' loggers and then one per ``interval_s``, saying how many it held
back; INFO and below, and every other logger, pass.

It sits on the root logger's handlers (``quiet_handlers``), not on the clients' loggers: a handler's
filter sees every record that reaches it, so a client logger created after start-up (a module
imported late) is covered too. A logger's filter would not even reach that logger's children.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

__all__ = ["RepeatFilter", "quiet_handlers"]

CLIENT_LOGGERS = ("aiokafka", "kafka")
INTERVAL_S = 30.0
_DECIDED = "_replicator_repeat_passed"


class RepeatFilter(logging.Filter):
    def __init__(
        self,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        prefixes: Iterable[str] = CLIENT_LOGGERS,
    ) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.clock = clock
        self.roots = frozenset(prefixes)
        self._passed: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        decided = record.__dict__.get(_DECIDED)
        if decided is None:  # judged once, whichever handler asks first: the others get the same answer
            decided = record.__dict__[_DECIDED] = self._judge(record)
        return bool(decided)

    def _judge(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or record.name.split(".", 1)[0] not in self.roots:
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


def quiet_handlers(handlers: Iterable[logging.Handler], interval_s: float = INTERVAL_S) -> RepeatFilter:
    """Put one ``RepeatFilter`` on each handler (shared: a repeat is counted once, whichever handler
    sees it first). Call it once logging is configured, with the root logger's handlers."""
    repeat = RepeatFilter(interval_s)
    for handler in handlers:
        handler.addFilter(repeat)
    return repeat
