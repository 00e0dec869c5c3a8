"""Differences between two JSON documents as JSON-pointer paths, minus declared ignore-paths. Pure.

Paths follow RFC 6901 (``/items/0/price``; ``~1`` escapes ``/`` and ``~0`` escapes ``~`` in a key). An
ignore-path is a pointer whose segments may be ``*`` (any one object key or array index) and whose last
segment may be ``**`` (anything below, at any depth); a path is ignored when it, or one of its ancestors,
matches an ignore-path — ``/meta`` ignores the whole ``meta`` object.

Comparison: objects key by key (a key present on one side only is a difference at that key), arrays
index by index (a length difference is reported at the array's own path, plus the extra indices), numbers
numerically (``1`` equals ``1.0``; parse with ``parse_float=Decimal`` to keep them exact), booleans are not
numbers, everything else by equality.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from decimal import Decimal

MAX_DIFFS = 50
ROOT = ""


def escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def split_pointer(pointer: str) -> tuple[str, ...]:
    """``"/a/b~1c"`` → ``("a", "b/c")``; ``""`` (the whole document) → ``()``."""
    if pointer == ROOT:
        return ()
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/"))


def validate_ignore_path(pointer: str) -> str:
    """Raise ``ValueError`` when ``pointer`` is not a valid ignore-path; return it unchanged."""
    parts = split_pointer(pointer)
    if "**" in parts[:-1]:
        raise ValueError(f"ignore-path {pointer!r}: '**' may only be the last segment")
    return pointer


def _matches(path: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    """Whether ``path`` equals ``pattern`` or lies below it (``*``: one segment, trailing ``**``: any)."""
    if pattern and pattern[-1] == "**":
        pattern = pattern[:-1]
    if len(path) < len(pattern):
        return False
    return all(p in ("*", s) for s, p in zip(path, pattern, strict=False))


def is_ignored(path: str, ignore: Sequence[str]) -> bool:
    parts = split_pointer(path)
    return any(_matches(parts, split_pointer(pattern)) for pattern in ignore)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _walk(a: object, b: object, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key not in a or key not in b:
                yield (*path, str(key))
            else:
                yield from _walk(a[key], b[key], (*path, str(key)))
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield path
        for index in range(max(len(a), len(b))):
            if index >= len(a) or index >= len(b):
                yield (*path, str(index))
            else:
                yield from _walk(a[index], b[index], (*path, str(index)))
        return
    if _is_number(a) and _is_number(b):
        if Decimal(str(a)) != Decimal(str(b)):
            yield path
        return
    if type(a) is not type(b) or a != b:
        yield path


def json_diff(a: object, b: object, ignore: Sequence[str] = (), limit: int = MAX_DIFFS) -> list[str]:
    """The JSON pointers at which ``a`` and ``b`` differ, outside ``ignore``; at most ``limit``."""
    patterns = [split_pointer(p) for p in ignore]
    out: list[str] = []
    for parts in _walk(a, b, ()):
        if any(_matches(parts, pattern) for pattern in patterns):
            continue
        pointer = "".join("/" + escape(p) for p in parts)
        if pointer not in out:
            out.append(pointer)
        if len(out) >= limit:
            break
    return out
