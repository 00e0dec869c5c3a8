"""One error hierarchy for the whole product.

Classes say whether retrying can help: ``TransientError`` (a database or broker outage — retry with
backoff and report) or ``TerminalError`` (bad input or configuration — retrying cannot help; an event
goes to the dead-letter topic, a configuration error stops start-up). Callers decide by class, never
by matching message strings. Exceptions carry structured fields and build their message from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class ReplicatorError(Exception):
    """Root of every error this product raises on purpose."""


class TransientError(ReplicatorError):
    """Retrying later can succeed (connection refused, broker unavailable, lock timeout)."""


class TerminalError(ReplicatorError):
    """Retrying the same input cannot succeed."""


class ConfigError(TerminalError):
    """A setting or mapping is invalid. Names the field, where its value came from and what is valid."""

    def __init__(self, field: str, *, source: str, problem: str, valid: str | None = None) -> None:
        self.field = field
        self.source = source
        self.problem = problem
        self.valid = valid
        message = f"{field} (from {source}): {problem}"
        if valid:
            message += f"; valid: {valid}"
        super().__init__(message)


def check_choices(option: str, given: Iterable[str], known: Iterable[str]) -> None:
    """Raise a ``ConfigError`` naming the command-line values of ``option`` that are not ``known``."""
    valid = sorted(set(known))
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ConfigError(
            option, source="the command line", problem=f"unknown {', '.join(unknown)}", valid=", ".join(valid)
        )


class StackError(ReplicatorError):
    """A local-stack component could not be started, stopped or checked.

    ``log_tail`` holds the last lines of the component's own log, so the operator sees the cause
    without hunting for the file.
    """

    def __init__(
        self,
        component: str,
        problem: str,
        *,
        hint: str | None = None,
        log_path: str | None = None,
        log_tail: Sequence[str] = (),
    ) -> None:
        self.component = component
        self.problem = problem
        self.hint = hint
        self.log_path = log_path
        self.log_tail = tuple(log_tail)
        lines = [f"{component}: {problem}"]
        if hint:
            lines.append(f"  how to fix: {hint}")
        if log_path:
            lines.append(f"  log: {log_path}")
        if self.log_tail:
            lines.append("  last lines of the log:")
            lines.extend(f"    {line}" for line in self.log_tail)
        super().__init__("\n".join(lines))
