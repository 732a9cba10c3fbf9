"""Kaplan-Meier's counts by whole day (O(n), issue #19) against the sorting path.

``_unweighted_counts_by_day`` must give the sorting path's times, numbers at risk, events
and rows exactly (the same float64 bits), with and without left truncation, and decline
(``None``) whenever a value is not a whole day in range, so that the sorting path serves it.
The R references (tests/test_r_references*.py) check the table both paths build.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.survival.km import (
    _km_from_arrays,
    _unweighted_counts_by_day,
    _unweighted_counts_sorted,
)


def _same(a, b) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.dtype == y.dtype and x.tobytes() == y.tobytes()


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 300),
    span=st.integers(0, 400),
    truncated=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_counting_whole_days_is_sorting(n, span, truncated, seed) -> None:
    rng = np.random.default_rng(seed)
    duration = rng.integers(0, span + 1, n).astype(np.float64)
    event = rng.random(n) < 0.6
    entry = None
    if truncated:  # entries on or before the durations, whole days, ties included
        entry = np.floor(duration * rng.random(n))
    counted = _unweighted_counts_by_day(duration, event, entry)
    if span + 1 > 4 * n and duration.max() >= 4 * n:
        assert counted is None  # a day grid longer than 4 n is not built
        return
    assert counted is not None
    _same(counted, _unweighted_counts_sorted(duration, event, entry))


@pytest.mark.parametrize(
    "duration, entry",
    [
        ([1.0, 2.5, 3.0], None),  # a fractional day
        ([1.0, np.nan, 3.0], None),
        ([-1.0, 2.0, 3.0], None),
        ([-0.0, 2.0, 3.0], None),  # would become +0.0
        ([1.0, 2.0, 3.0], [0.0, 0.5, 1.0]),  # a fractional entry
        ([1.0, 2.0, 1e9], None),  # a day grid far longer than the rows
    ],
)
def test_anything_but_whole_days_in_range_takes_the_sorting_path(duration, entry) -> None:
    duration = np.asarray(duration)
    event = np.ones(duration.size, dtype=bool)
    entry = None if entry is None else np.asarray(entry)
    assert _unweighted_counts_by_day(duration, event, entry) is None


def test_the_table_is_the_same_either_way() -> None:
    from idjourney.survival._data import SurvivalArrays

    rng = np.random.default_rng(11)
    duration = rng.integers(0, 3000, 50_000).astype(float)
    event = rng.random(duration.size) < 0.3
    entry = np.floor(duration * rng.random(duration.size) ** 3)
    by_day = _km_from_arrays(SurvivalArrays(duration, event, entry, None))
    shifted = duration + 0.5  # not whole days: sorted; times moved by exactly 0.5
    sorted_ = _km_from_arrays(SurvivalArrays(shifted, event, entry + 0.5, None))
    np.testing.assert_array_equal(by_day.time + 0.5, sorted_.time)
    for name in ("n_risk", "n_event", "survival", "greenwood"):
        assert getattr(by_day, name).tobytes() == getattr(sorted_, name).tobytes(), name
