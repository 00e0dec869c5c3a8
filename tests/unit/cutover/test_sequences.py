"""Where V2's id sequences go at the cutover (pure)."""

from __future__ import annotations

from replicator.cutover.sequences import Identity, Move, describe, plan_moves, target


def identity(next_value: int, v2_max: int | None, v1_next: int | None, increment: int = 1) -> Identity:
    return Identity("customers", "id", "public.customers_id_seq", next_value, increment, v2_max, v1_next)


def test_a_sequence_behind_v2s_ids_moves_past_the_highest() -> None:
    assert target(identity(1, 5_330, None)) == 5_331


def test_v1s_sequence_ahead_of_every_id_wins_so_no_id_v1_handed_out_is_reused() -> None:
    assert target(identity(1, 5_330, 5_400)) == 5_400


def test_v2s_ids_ahead_of_v1s_sequence_win() -> None:
    assert target(identity(1, 5_330, 100)) == 5_331


def test_a_sequence_already_past_both_never_moves_back() -> None:
    assert target(identity(9_000, 5_330, 5_400)) is None
    assert target(identity(5_400, 5_330, 5_400)) is None


def test_an_empty_table_without_a_v1_sequence_keeps_its_sequence() -> None:
    assert target(identity(1, None, None)) is None


def test_an_empty_table_follows_v1s_sequence() -> None:
    assert target(identity(1, None, 77)) == 77


def test_a_sequence_counting_down_is_left_alone_and_named() -> None:
    down = identity(-1, -50, None, increment=-1)
    assert target(down) is None
    assert "counting down: customers.id" in describe([down], [])


def test_the_detail_names_the_largest_moves_first() -> None:
    small, large = identity(10, 11, None), Identity("audit_logs", "id", "s", 1, 1, 48_600, None)
    moves = [Move(small, 12), Move(large, 48_601)]
    text = describe([small, large], moves)
    assert text.startswith("2 of 2 V2 id sequences moved")
    assert text.index("audit_logs.id 1 → 48,601") < text.index("customers.id 10 → 12")


def test_nothing_sequence_backed_is_said_plainly() -> None:
    assert describe([], []) == "no V2 table the mapping writes has a sequence-backed column"


def test_a_sequence_several_tables_share_moves_once_past_all_of_their_ids() -> None:
    shared = [
        Identity("c", "id", "app.global_id", 1, 1, 30, None),
        Identity("d", "id", "app.global_id", 1, 1, 50, None),
        Identity("e", "id", "app.global_id", 1, 1, 40, 45),
    ]
    (move,) = plan_moves(shared)
    assert (move.identity.sequence, move.to) == ("app.global_id", 51)
    assert describe(shared, [move]).startswith("1 of 1 V2 id sequences moved")
