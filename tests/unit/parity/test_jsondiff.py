"""JSON bodies differ at JSON-pointer paths; declared ignore-paths (with wildcards) hide exactly those."""

from __future__ import annotations

from decimal import Decimal

import pytest

from replicator.parity.jsondiff import is_ignored, json_diff, split_pointer, validate_ignore_path

V1 = {
    "meta": {"generated_at": "t1", "count": 2},
    "items": [{"id": 1, "price": 10, "etag": "a"}, {"id": 2, "price": 20, "etag": "b"}],
    "a/b": 1,
}


def _v2(**changes: object) -> dict[str, object]:
    doc = {"meta": dict(V1["meta"]), "items": [dict(i) for i in V1["items"]], "a/b": 1}  # type: ignore[call-overload]
    doc.update(changes)
    return doc


def test_identical_and_numerically_equal_documents_match() -> None:
    """1 and 1.0 are the same JSON number; key order does not matter."""
    assert json_diff(V1, _v2()) == []
    assert json_diff({"x": 1, "y": 2}, {"y": 2, "x": Decimal("1.0")}) == []
    assert json_diff({"x": True}, {"x": 1}) == ["/x"]


def test_differences_are_reported_as_pointers() -> None:
    """Changed values, missing keys and array length differences each have their path; '/' is escaped."""
    v2 = _v2()
    v2["items"][1]["price"] = 21  # type: ignore[index]
    del v2["meta"]["count"]  # type: ignore[attr-defined]
    v2["a/b"] = 2
    assert json_diff(V1, v2) == ["/meta/count", "/items/1/price", "/a~1b"]
    longer = _v2(items=[*V1["items"], {"id": 3}])  # type: ignore[list-item]
    assert json_diff(V1, longer) == ["/items", "/items/2"]


@pytest.mark.parametrize(
    ("path", "patterns", "ignored"),
    [
        ("/meta/generated_at", ["/meta/generated_at"], True),
        ("/meta/generated_at", ["/meta"], True),  # an ancestor ignores its subtree
        ("/items/1/etag", ["/items/*/etag"], True),
        ("/items/1/price", ["/items/*/etag"], False),
        ("/items/1/etag/x", ["/items/*/etag"], True),
        ("/items/1/photos/0/url", ["/items/*/photos/**"], True),
        ("/items", ["/items/*"], False),  # the array's own length is not an item
        ("/a~1b", ["/a~1b"], True),
        ("/x", [""], True),  # the empty pointer is the whole document
    ],
)
def test_ignore_path_matching(path: str, patterns: list[str], ignored: bool) -> None:
    """Segments match exactly or by '*'; a trailing '**' or an ancestor covers everything below."""
    assert is_ignored(path, patterns) is ignored


def test_ignore_paths_hide_only_their_differences() -> None:
    """Ignored timestamps and etags are not reported; a real price change still is."""
    v2 = _v2()
    v2["meta"]["generated_at"] = "t2"  # type: ignore[index]
    v2["items"][0]["etag"] = "z"  # type: ignore[index]
    v2["items"][0]["price"] = 11  # type: ignore[index]
    assert json_diff(V1, v2, ["/meta/generated_at", "/items/*/etag"]) == ["/items/0/price"]


def test_invalid_ignore_paths_are_rejected() -> None:
    """Pointers start with '/'; '**' only at the end; '~1' decodes to '/'."""
    with pytest.raises(ValueError, match="start with"):
        validate_ignore_path("meta/x")
    with pytest.raises(ValueError, match=r"\*\*"):
        validate_ignore_path("/**/x")
    assert split_pointer("/a~1b/c~0d") == ("a/b", "c~d")


def test_diff_list_is_bounded() -> None:
    """A document that differs everywhere reports at most `limit` paths."""
    assert len(json_diff(list(range(100)), list(range(1, 101)), limit=10)) == 10
