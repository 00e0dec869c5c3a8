"""Row ids and positions as one text per column (``sink.lists``): what is joined, and what is refused."""

from __future__ import annotations

import pytest

from replicator.sink.lists import bools, ints, texts


def test_texts_are_one_per_line_and_keep_every_other_character() -> None:
    values = ["listings", '[["t","a,b {c} \\"d\\" \\\\ é"]]', " spaced ", "NULL"]
    assert texts(values) == "\n".join(values)
    assert texts([]) == ""


@pytest.mark.parametrize("bad", [["a", "two\nlines"], ["x\n"], [""]])
def test_a_value_that_would_split_or_vanish_is_refused(bad: list[str]) -> None:
    with pytest.raises(ValueError, match="line of a text list"):
        texts(bad)


def test_an_empty_value_among_others_is_kept() -> None:
    assert texts(["a", "", "b"]) == "a\n\nb"  # string_to_array gives {a,"",b}


def test_ints_and_bools() -> None:
    assert ints([0, -1, 2**63 - 1]) == "0,-1,9223372036854775807"
    assert ints([]) == ""
    assert bools([True, False]) == "True,False"


def test_statement_puts_each_form_in_and_the_store_keeps_no_marker() -> None:
    from replicator.sink import lists, store

    assert lists.statement("unnest(<texts>, <ints>, <bools>)") == (
        f"unnest({lists.TEXTS}, {lists.INTS}, {lists.BOOLS})"
    )
    statements = [v for k, v in vars(store).items() if k.endswith("_SQL")]
    assert sum(lists.TEXTS in s for s in statements) == 9
    assert not [s for s in statements if "<texts>" in s or "<ints>" in s or "<bools>" in s]
