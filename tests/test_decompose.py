"""The decomposition of the stock's change (idjourney.indicator.decompose, issue #15)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from idjourney.indicator import IndicatorError, StockIndex
from idjourney.indicator.decompose import (
    FACTORS,
    PARTS,
    das_gupta,
    das_gupta_by_orders,
    decompose_change,
    decomposition_card,
)
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario

# ----------------------------------------------------------------------- Das Gupta


def test_two_factor_known_answer() -> None:
    # Das Gupta (1993), two factors R = a*b: effect of a = (a2 - a1)(b1 + b2)/2.
    # Worked by hand: a 2 -> 3, b 5 -> 4: a-effect = 1 * 9/2 = 4.5, b-effect = -1 * 5/2 = -2.5;
    # total 12 - 10 = 2.
    effects = das_gupta(np.array([2.0, 5.0]), np.array([3.0, 4.0]))
    np.testing.assert_allclose(effects, [4.5, -2.5], rtol=0, atol=1e-12)


def test_three_factor_known_answer() -> None:
    # Das Gupta (1993), three factors R = a*b*c: the a-effect is
    # [(b1 c1 + b2 c2)/3 + (b1 c2 + b2 c1)/6] (a2 - a1), and cyclically for b and c.
    a1, b1, c1 = 0.3, 1.7, 20.0
    a2, b2, c2 = 0.45, 1.2, 26.0

    def effect(x1, x2, y1, y2, z1, z2):  # type: ignore[no-untyped-def]
        return ((y1 * z1 + y2 * z2) / 3 + (y1 * z2 + y2 * z1) / 6) * (x2 - x1)

    expected = [
        effect(a1, a2, b1, b2, c1, c2),
        effect(b1, b2, a1, a2, c1, c2),
        effect(c1, c2, a1, a2, b1, b2),
    ]
    got = das_gupta(np.array([a1, b1, c1]), np.array([a2, b2, c2]))
    np.testing.assert_allclose(got, expected, rtol=1e-13)
    assert math.isclose(got.sum(), a2 * b2 * c2 - a1 * b1 * c1, rel_tol=1e-13)


@given(
    st.lists(st.floats(0.01, 100.0), min_size=10, max_size=10),
    st.integers(0, 2**32 - 1),
)
# parts of about 1e7 cancelling to -21.625 (found by hypothesis; the sum was 3.7e-9 off)
@example(values=[1.0, 72.0, 7.75, 0.125, 43.0, 82.0, 0.125, 1.0, 83.0, 3.5], seed=0)
def test_closed_form_equals_the_average_over_orders(values: list[float], seed: int) -> None:
    # second implementation: every order of replacing the 5 factors (120 orders)
    a = np.array(values[:5])
    b = np.array(values[5:])
    fast, slow = das_gupta(a, b), das_gupta_by_orders(a, b)
    # the parts are differences of products up to 100^5 = 1e10: rounding is relative to that
    # scale (a fixed abs_tol of 1e-9 failed on a case whose two products nearly cancel)
    scale = max(a.prod(), b.prod())
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-12 * scale)
    # the parts' sum is the difference of the products, but the parts themselves can be far
    # larger than either product (mixed terms a_i b_j ...) and cancel: its rounding error is
    # relative to the sum of the parts' magnitudes (a few ulps of it), not to the products
    spread = max(scale, float(np.abs(fast).sum()))
    assert math.isclose(fast.sum(), b.prod() - a.prod(), rel_tol=1e-10, abs_tol=1e-13 * spread)


def test_broadcasts_over_lags_and_replicates() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.5, 2, (7, 4, 5)), rng.uniform(0.5, 2, (7, 4, 5))
    np.testing.assert_allclose(das_gupta(a, b), das_gupta_by_orders(a, b), rtol=1e-12)


# ----------------------------------------------------------------------- on tables


@functools.lru_cache(maxsize=8)
def _world(n: int, seed: int, closures: float) -> pd.DataFrame:
    scenario = load_scenario("baseline").replace(closure_per_year=closures)
    return analysis_table(generate(scenario, seed=seed, n_victims=n).records)


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return _world(6000, 7, 0.1)


def test_parts_add_up_and_reproduce_the_stock(table: pd.DataFrame) -> None:
    d = decompose_change(table, 2015, 2021, n_boot=40, seed=3)
    stock = StockIndex()
    prepared = stock.prepare(table)
    # the product of the factors, summed over lags, is the published stock exactly
    assert d.value_a == pytest.approx(stock.compute(prepared, 2015).estimate, abs=1e-9)
    assert d.value_b == pytest.approx(stock.compute(prepared, 2021).estimate, abs=1e-9)
    parts = d.parts.set_index("part")
    assert abs(parts.loc[list(PARTS), "estimate"].sum() - d.change) < 1e-9
    # and in every bootstrap resample
    assert d.replicates.shape == (40 - d.n_boot_failed, len(PARTS) + 1)
    np.testing.assert_allclose(
        d.replicates[:, : len(PARTS)].sum(axis=1), d.replicates[:, -1], rtol=0, atol=1e-9
    )
    # the delay-adjusted stock has no delay part; closures happen, so a closure part
    assert parts.loc["delay", "estimate"] == 0.0
    assert parts.loc["closures", "estimate"] != 0.0
    # percentile intervals contain their estimate's resamples' middle
    assert (parts["lower"] <= parts["upper"]).all()
    assert d.interval.startswith("cluster bootstrap by series_id (40 resamples, percentile")
    factors = d.factors
    assert np.allclose(factors[list(FACTORS)].prod(axis=1), factors["value"])
    # victims migrated with the history (first seen before the 2009 start) are the backlog:
    # it shrinks as they are identified
    assert parts.loc["backlog", "estimate"] < 0
    stock_lags = factors.groupby("year")["value"].sum()
    backlog_a = d.value_a - stock_lags[2015]
    backlog_b = d.value_b - stock_lags[2021]
    assert parts.loc["backlog", "estimate"] == pytest.approx(backlog_b - backlog_a, abs=1e-9)


def test_symmetric_in_the_two_years(table: pd.DataFrame) -> None:
    forward = decompose_change(table, 2014, 2020, n_boot=0)
    backward = decompose_change(table, 2020, 2014, n_boot=0)
    np.testing.assert_allclose(
        forward.parts["estimate"].to_numpy(), -backward.parts["estimate"].to_numpy(), atol=1e-9
    )


def test_recorded_stock_has_a_delay_part() -> None:
    # a long recording delay and the last complete year: many identifications unrecorded
    slow = load_scenario("baseline").replace(reporting_delay_mean_days=400.0)
    late = analysis_table(generate(slow, seed=2, n_victims=6000).records)
    d = decompose_change(late, 2016, 2024, StockIndex(delay_adjust=False), n_boot=0)
    recorded = StockIndex(delay_adjust=False)
    assert d.value_b == pytest.approx(recorded.compute(late, 2024).estimate, abs=1e-9)
    # identifications made in 2024 but not recorded by mid-2025 inflate the recorded stock
    assert d.part("delay") > 0
    assert abs(d.parts.set_index("part").loc[list(PARTS), "estimate"].sum() - d.change) < 1e-9


def test_group_and_bad_input(table: pd.DataFrame) -> None:
    d = decompose_change(table, 2015, 2021, by="region", group="europe", n_boot=0)
    assert d.group == "region = europe"
    assert d.value_b < decompose_change(table, 2015, 2021, n_boot=0).value_b
    with pytest.raises(IndicatorError, match="2040"):
        decompose_change(table, 2015, 2040, n_boot=0)
    with pytest.raises(IndicatorError, match="1990"):
        decompose_change(table, 1990, 2015, n_boot=0)
    with pytest.raises(IndicatorError, match="two different years"):
        decompose_change(table, 2015, 2015, n_boot=0)
    with pytest.raises(IndicatorError, match="'atlantis' of 'region' has no victims"):
        decompose_change(table, 2015, 2021, by="region", group="atlantis", n_boot=0)
    with pytest.raises(IndicatorError, match="no such column"):
        decompose_change(table, 2015, 2021, by="planet", group="x", n_boot=0)
    with pytest.raises(IndicatorError, match="applies to the stock"):
        decompose_change(table, 2015, 2021, "cohort-unidentified-at", n_boot=0)
    with pytest.raises(IndicatorError, match="n_boot"):
        decompose_change(table, 2015, 2021, n_boot=-1)


def test_year_with_no_victims_is_named(table: pd.DataFrame) -> None:
    # a group whose victims are all first seen late has no victims at the end of 2012
    late = table.loc[table["at_risk_from"] >= "2014-01-01"].copy()
    late["jurisdiction_connected"] = late["jurisdiction_connected"].clip(upper="2010-01-01")
    late["region"] = "late"
    both = pd.concat([table, late.assign(victim_id=late["victim_id"] + "-L")], ignore_index=True)
    with pytest.raises(IndicatorError, match="end of 2012 in region = late"):
        decompose_change(both, 2012, 2018, by="region", group="late", n_boot=0)


def test_card_states_method_and_assumptions() -> None:
    card = decomposition_card()
    for needed in ("Das Gupta", "fixed panel", "bootstrap", "percentile", "Assumptions"):
        assert needed in card


# ----------------------------------------------------------------------- property test


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(
    n=st.integers(300, 2500),
    seed=st.integers(0, 10_000),
    closures=st.sampled_from([0.0, 0.3]),
    years=st.tuples(st.integers(2010, 2023), st.integers(2010, 2023)),
    adjusted=st.booleans(),
)
def test_parts_add_up_on_random_small_tables(
    n: int, seed: int, closures: float, years: tuple[int, int], adjusted: bool
) -> None:
    assume(years[0] != years[1])
    table = _world(n, seed, closures)
    definition = StockIndex(delay_adjust=adjusted)
    try:
        d = decompose_change(table, *years, definition, n_boot=5, seed=seed)
    except IndicatorError:
        assume(False)
        return
    total = d.parts.set_index("part").loc[list(PARTS), "estimate"].sum()
    assert abs(total - d.change) < 1e-9
    prepared = definition.prepare(table)
    for year, value in ((years[0], d.value_a), (years[1], d.value_b)):
        assert abs(value - definition.compute(prepared, year).estimate) < 1e-9
    np.testing.assert_allclose(
        d.replicates[:, : len(PARTS)].sum(axis=1), d.replicates[:, -1], rtol=0, atol=1e-9
    )


def test_a_lag_whose_adjusted_stock_is_a_hair_below_zero_stays_defined() -> None:
    # every victim of an old lag identified, one delay weight 1.000228 (G a hair below 1):
    # the delay-adjusted stock of that lag is -0.000228 in the later year only; the
    # decomposition must still be defined (that lag's change is all inflow) and exact
    from idjourney.indicator.decompose import _factors, _one_year

    q = {name: np.zeros((2, 2)) for name in ("N", "U", "X", "Upub_panel", "W", "B")}
    q["N"][:, 0] = [400.0, 380.0]
    q["U"][:, 0] = q["Upub_panel"][:, 0] = q["W"][:, 0] = [120.0, 130.0]
    q["N"][1, 1], q["U"][1, 1], q["Upub_panel"][1, 1], q["W"][1, 1] = (
        383.0,
        -2.28e-4,
        -2.28e-4,
        -2.28e-4,
    )
    assert _one_year(q).tolist() == [False, True]
    f = _factors(q, same=True)
    assert np.isfinite(f).all()
    old_lag = das_gupta(f[0, 1], f[1, 1])
    np.testing.assert_allclose(old_lag, [-2.28e-4, 0, 0, 0, 0], atol=1e-15)
    effects = das_gupta(f[0], f[1]).sum(axis=0)
    assert abs(effects.sum() - ((130.0 - 2.28e-4) - 120.0)) < 1e-9
