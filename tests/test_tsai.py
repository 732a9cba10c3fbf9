"""Tsai's (1990) quasi-independence test: hand-computed and R reference values, null size."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from idjourney.survival.tsai import tsai_test

R_DATA = Path(__file__).parent / "data" / "r"


def test_hand_computed_example():
    # entry e = (0, 1, 2, 0), x = (3, 4, 5, 6), events (1, 1, 0, 1):
    # x=3: R = all four, S = sgn(0)+sgn(1)+sgn(2)+sgn(0) = 2; Var (ties) = (2*2^2 + 1 + 9)/4 = 4.5
    # x=4: R = {e=1, 2, 0}, S = 0 + 1 - 1 = 0; distinct entries: Var = (3^2 - 1)/3 = 8/3
    # x=6: R = {e=0}, S = 0, Var = 0.  K = 2, V = 43/6, z = 2/sqrt(43/6), tau = 2/(3+2+0)
    res = tsai_test(np.array([3, 4, 5, 6]), np.array([1, 1, 0, 1]), np.array([0, 1, 2, 0]))
    assert res.statistic == 2
    assert res.variance == pytest.approx(43 / 6, rel=1e-12)
    assert res.z == pytest.approx(2 / np.sqrt(43 / 6), rel=1e-12)
    assert res.tau == pytest.approx(0.4, rel=1e-12)
    assert res.n_events == 3 and res.n_pairs == 5


def test_variance_without_ties_is_tsais_formula():
    rng = np.random.default_rng(1)
    x = rng.exponential(10, 60) + 5
    e = rng.uniform(0, 5, 60)  # distinct entries, all below every x
    res = tsai_test(x, np.ones(60, int), e)
    r = np.arange(60, 0, -1)  # risk set sizes at the ordered event times
    assert res.variance == pytest.approx(np.sum((r**2 - 1) / 3), rel=1e-12)


@pytest.mark.parametrize("case", ["hand", "independent", "dependent"])
def test_matches_base_r_implementation(case):
    # reference: tests/r/tsai.R (explicit double loops in base R), written to tests/data/r/
    ref = pd.read_csv(R_DATA / "tsai.csv").set_index("case").loc[case]
    if case == "hand":
        x, d, e = np.array([3, 4, 5, 6]), np.array([1, 1, 0, 1]), np.array([0, 1, 2, 0])
    else:
        data = pd.read_csv(R_DATA / f"tsai_{case}_data.csv")
        x, d, e = (data[c].to_numpy() for c in ("duration", "event", "entry"))
    res = tsai_test(x, d, e)
    for name in ("statistic", "variance", "z", "p_value", "tau"):
        assert getattr(res, name) == pytest.approx(ref[name], rel=1e-9), name
    if case == "dependent":
        assert res.p_value < 0.001 and res.tau > 0
    if case == "independent":
        assert res.p_value > 0.05


def test_null_rejection_rate_is_nominal():
    # independent truncation: the 5% test rejects in about 5% of 300 data sets
    # (MCSE sqrt(.05 * .95 / 300) = 1.26 points; bound = 4 MCSE)
    rng = np.random.default_rng(20260101)
    rejections = 0
    for _ in range(300):
        t = np.ceil(rng.exponential(300, 300))
        e = np.floor(rng.uniform(0, 400, 300))
        keep = t > e
        rejections += tsai_test(t[keep], np.ones(keep.sum(), int), e[keep]).p_value < 0.05
    assert abs(rejections / 300 - 0.05) < 4 * np.sqrt(0.05 * 0.95 / 300)


@pytest.mark.parametrize(
    ("x", "d", "e", "message"),
    [
        ([1.0, 2.0], [1, 1], [0.0], "same length"),
        ([1.0, 2.0], [1, 2], [0.0, 0.0], "0 or 1"),
        ([1.0, 2.0], [1, 1], [0.0, 2.0], "row 2"),
        ([1.0, 2.0], [0, 0], [0.0, 0.0], "no events"),
        ([1.0, np.nan], [1, 1], [0.0, 0.0], "missing"),
    ],
)
def test_bad_input_is_named(x, d, e, message):
    with pytest.raises(ValueError, match=message):
        tsai_test(np.array(x), np.array(d), np.array(e))
