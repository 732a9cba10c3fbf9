"""Issue #19 at 1e7: synthetic keys sort as their numbers; the period rate's cluster sums."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from idjourney.indicator.definitions import _GroupSums
from idjourney.synthetic import load_scenario
from idjourney.synthetic.world import draw


def test_key_width_grows_with_the_world_only_from_ten_million() -> None:
    victims = draw(load_scenario("baseline"), 1, 500)
    assert victims.key_width == 7
    assert dataclasses.replace(victims, n=9_999_999).key_width == 7
    assert dataclasses.replace(victims, n=10_000_000).key_width == 8
    wide = dataclasses.replace(victims, n=10_000_000)
    keys = wide.export_frame(wide.exports[0], 0, 500)["victim_key"]
    assert keys.iloc[0].startswith("SYN-V0000000") and len(keys.iloc[0]) == len("SYN-V") + 8
    assert keys.is_monotonic_increasing


@pytest.mark.parametrize("seed", range(40))
def test_group_sums_equal_pandas_groupby_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 5_000))
    codes = rng.integers(-2 if seed % 4 == 0 else 0, int(rng.integers(1, 600)), n)
    values = rng.standard_normal(n) * 10.0 ** rng.integers(-9, 9, n)
    groups = _GroupSums(codes)
    expected = pd.Series(values).groupby(codes, sort=True).sum()
    np.testing.assert_array_equal(groups.uniques, expected.index.to_numpy())
    assert groups(values).tobytes() == expected.to_numpy().tobytes()


def test_group_sums_differ_from_plain_summation_and_leave_nan_to_pandas() -> None:
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 50, 100_000)
    values = rng.standard_normal(100_000) * 10.0 ** rng.integers(-8, 8, 100_000)
    plain = np.bincount(codes, weights=values)
    assert plain.tobytes() != _GroupSums(codes)(values).tobytes()  # the test can tell them apart
    assert _GroupSums(codes)(np.r_[values[:-1], np.nan]) is None
    assert _GroupSums(codes)(np.r_[values[:-1], np.inf]) is None
