"""The overall migration score. Pure.

Each measured component is a ratio in [0, 1]:

* ``calculations`` — calculation pairs passing / all pairs (the seed's "Frontend Validation");
* ``fk_integrity`` — relationships without orphans in V1 / all relationships;
* ``records`` — Σ min(present, expected) / Σ expected over the V2 tables (extra rows earn nothing);
* ``endpoints`` — endpoints passing / endpoints in the last parity run;
* ``verification`` — V2 tables whose last verification matched / tables verified.

score = 100 × the unweighted mean of the measured components, rounded to one decimal. A component that
was not measured (no endpoint parity run yet, no verification yet) is left out of the mean and listed as
such — it counts neither as 0 nor as 100. 100 means every measured check passes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

COMPONENTS = ("calculations", "fk_integrity", "records", "endpoints", "verification")


@dataclass(frozen=True, slots=True)
class Ratio:
    done: int
    total: int

    @property
    def value(self) -> float | None:
        """``done / total``, or None when there is nothing to measure (``total == 0``)."""
        return None if self.total <= 0 else min(1.0, max(0.0, self.done / self.total))

    @property
    def percent(self) -> float | None:
        value = self.value
        return None if value is None else round(100 * value, 2)


@dataclass(frozen=True, slots=True)
class Score:
    percent: float
    components: dict[str, float | None]  # component → ratio, None when not measured

    @property
    def measured(self) -> list[str]:
        return [k for k, v in self.components.items() if v is not None]

    @property
    def not_measured(self) -> list[str]:
        return [k for k, v in self.components.items() if v is None]


def migration_score(ratios: Mapping[str, Ratio | None]) -> Score:
    """Score from the components' ratios (None or total 0: not measured)."""
    unknown = set(ratios) - set(COMPONENTS)
    if unknown:
        raise ValueError(f"unknown score components: {sorted(unknown)}; valid: {', '.join(COMPONENTS)}")
    components = {
        name: (None if ratios.get(name) is None else ratios[name].value)  # type: ignore[union-attr]
        for name in COMPONENTS
    }
    measured = [v for v in components.values() if v is not None]
    percent = round(100 * sum(measured) / len(measured), 1) if measured else 0.0
    return Score(percent=percent, components=components)
