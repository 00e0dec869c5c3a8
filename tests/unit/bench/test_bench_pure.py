"""The benchmark's pure parts: lag statistics, the change mix, process-tree CPU accounting, paired ratios."""

from __future__ import annotations

import random

import pytest

from bench import lag, workload
from bench.report import limit_text, paired_ratio, paired_ratios, targets
from bench.resources import tree


def test_lag_of_a_target_that_keeps_up_is_bounded() -> None:
    points = [(float(t), 0.2 + 0.01 * (t % 3)) for t in range(100)]
    stats = lag.stats(points)
    assert stats.samples == 100
    assert stats.p50_s == pytest.approx(0.21)
    assert abs(stats.growth_s_per_s) < 0.01
    assert stats.bounded


def test_lag_that_grows_with_the_load_is_not_bounded() -> None:
    """At twice the target's capacity, lag grows by half a second per second."""
    points = [(float(t), 0.5 * t) for t in range(2, 60)]
    stats = lag.stats(points)
    assert stats.growth_s_per_s == pytest.approx(0.5)
    assert not stats.bounded


def test_short_noisy_steps_under_a_second_count_as_bounded() -> None:
    points = [(float(t), 0.1 + 0.02 * t) for t in range(10)]
    assert lag.stats(points).bounded


def test_lag_pairs_match_rows_present_on_both_sides() -> None:
    from datetime import UTC, datetime, timedelta

    at = datetime(2026, 1, 1, tzinfo=UTC)
    source = {1: at, 2: at, 3: at}
    target = {1: at + timedelta(seconds=0.5), 3: at + timedelta(seconds=1)}
    assert lag.pairs(source, target) == [(at.timestamp(), 0.5), (at.timestamp(), 1.0)]


def test_the_change_mix_is_seventy_twenty_ten() -> None:
    generator = workload.ChangeGenerator(pools={}, parents={}, rng=random.Random(1))
    split = generator._split(1000)
    assert sum(split["update"].values()) == 700
    assert sum(split["insert"].values()) == 200
    assert sum(split["delete"].values()) == 100
    assert set(split["update"]) == set(workload.TABLES)


def test_deletes_take_distinct_existing_ids() -> None:
    generator = workload.ChangeGenerator(pools={"notes": list(range(10))}, parents={}, rng=random.Random(3))
    taken = generator._take("notes", 4)
    assert len(set(taken)) == 4 and not set(taken) & set(generator.pools["notes"])
    assert sorted(taken + generator.pools["notes"]) == list(range(10))


def test_cpu_of_a_process_tree_sums_live_descendants_only_under_the_root() -> None:
    table = {1: (0, 5.0), 10: (1, 2.0), 11: (10, 1.0), 20: (0, 7.0)}
    assert tree([1], table) == {1: 5.0, 10: 2.0, 11: 1.0}
    assert tree([99], table) == {}


def _runs(*seconds: float) -> dict[str, object]:
    """An initial sync's runs, one per round, taking ``seconds``."""
    return {"runs": [{"round": n, "seconds": s} for n, s in enumerate(seconds, 1)]}


def test_the_paired_ratio_divides_within_each_round_then_takes_the_median() -> None:
    # The host slowed down in round 2: both systems took twice as long, and the ratio held.
    results = {"initial_sync": {"a": _runs(10.0, 20.0, 11.0), "b": _runs(2.0, 4.0, 2.0)}}
    assert paired_ratio(results, "a", "b") == 5.0
    assert paired_ratio({"initial_sync": {"a": _runs(10.0)}}, "a", "b") is None
    # Runs from before rounds existed (one session per system) are not paired.
    unpaired = {"initial_sync": {k: {"runs": [{"seconds": 1.0}]} for k in ("a", "b")}}
    assert paired_ratio(unpaired, "a", "b") is None


def test_the_ratios_by_round_cover_the_pairs_the_run_has() -> None:
    results = {"initial_sync": {"a": _runs(12.0, 15.0), "b": _runs(2.0, 3.0), "p": _runs(3.0, 3.0)}}
    assert paired_ratios(results) == {"a / b": 5.5, "p / b": 1.25, "a / p": 4.5}


def _step(offered: float, bounded: bool, achieved: float | None = None) -> dict[str, float | bool]:
    return {
        "offered_per_s": offered,
        "achieved_per_s": offered if achieved is None else achieved,
        "bounded": bounded,
    }


def test_the_lag_steps_go_past_the_given_rates_until_lag_stops_being_bounded() -> None:
    rates = [1000, 2000, 5000]
    assert lag.next_rate([], rates, extra=3) == 1000
    assert lag.next_rate([_step(1000, True)], rates, extra=3) == 2000
    done = [_step(1000, True), _step(2000, True), _step(5000, True)]
    assert lag.next_rate(done, rates, extra=3) == 7500
    assert lag.next_rate([*done, _step(7500, True)], rates, extra=3) == 11000
    assert (
        lag.next_rate([*done, _step(7500, True), _step(11000, True), _step(16500, True)], rates, extra=3)
        is None
    )
    assert lag.next_rate(done, rates, extra=0) is None
    # Not bounded: the search is over, also within the given rates.
    assert lag.next_rate([_step(1000, True), _step(2000, False)], rates, extra=3) is None
    # V1 and the generator could not offer the rate: offering more would not load the target more.
    assert lag.next_rate([*done[:2], _step(5000, True, achieved=4000)], rates, extra=3) is None


def test_the_limit_names_where_lag_stops_being_bounded() -> None:
    found = lag.limit([_step(2000, True), _step(1000, True), _step(5000, False, achieved=4990)])
    assert found == {
        "bounded_up_to_per_s": 2000,
        "unbounded_from_per_s": 5000,
        "bounded_achieved_per_s": 2000,
    }
    assert limit_text(found) == "lag bounded up to 2,000/s, not bounded from 5,000/s"
    every = lag.limit([_step(1000, True), _step(7500, True, achieved=6100)])
    assert every["unbounded_from_per_s"] is None
    assert limit_text(every) == "lag bounded at every rate offered, up to 7,500/s (V1 took 6,100/s)"
    assert limit_text(lag.limit([_step(1000, False)])) == "lag not bounded from the first step, 1,000/s"
    assert limit_text(None) == "no lag step measured"


def test_rows_inserted_during_a_lag_step_are_not_changed_in_it() -> None:
    generator = workload.ChangeGenerator(pools={"notes": [1, 2]}, parents={}, rng=random.Random(3))
    with generator.holding_inserts():
        generator._added("notes", [3, 4])
        assert generator.pools["notes"] == [1, 2]
        assert sorted(generator._take("notes", 5)) == [1, 2]
    assert generator.pools["notes"] == [3, 4]
    generator._added("notes", [5])
    assert generator.pools["notes"] == [3, 4, 5]


def test_worker_cpu_is_judged_with_and_without_the_workers_start_up() -> None:
    drain = {
        "events_per_s": 20_000.0,
        "cpu_s_per_1k_events": {"workers": 0.044},
        "cpu_s_per_1k_events_after_startup": {"workers": 0.029},
        "workers_startup_cpu_s": 1.5,
    }
    verdicts = {v["target"]: v for v in targets({"backlog_drain": {"a": {"median": drain}}})}
    assert verdicts["worker CPU ms per 1K events (backlog)"]["met"] is False
    steady = verdicts["worker CPU ms per 1K events (backlog, start-up of 1.5 CPU s excluded)"]
    assert steady["value"] == 29.0
    assert steady["met"] is True


def test_without_a_start_up_figure_only_the_whole_worker_cpu_is_judged() -> None:
    drain = {"events_per_s": 20_000.0, "cpu_s_per_1k_events": {"workers": 0.044}}
    names = [v["target"] for v in targets({"backlog_drain": {"a": {"median": drain}}})]
    assert not any("start-up" in name for name in names)
