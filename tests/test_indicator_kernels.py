"""Issue #19: the compiled yearly passes of the stock index and the period rate against
their NumPy forms, to the bit; the stock index's victim labels and codes.

The NumPy forms are the reference (they are the code the definitions ran before the
kernels, and ``tests/test_indicator_definitions.py`` checks their values against the
worlds' truths). Bit-equality is checked on the bytes (``tobytes``), so a NaN, a signed
zero or a last-place rounding difference fails the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import idjourney.indicator._kernels as indicator_kernels
from idjourney.indicator import PeriodIdentificationRate, StockIndex
from idjourney.indicator.definitions import _GroupSums, _sorted_factorize
from idjourney.linkage import analysis_table
from idjourney.synthetic import generate, load_scenario

pytestmark = pytest.mark.skipif(indicator_kernels.kernels() is None, reason="numba missing")


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return analysis_table(generate(load_scenario("baseline"), seed=3, n_victims=6_000).records)


def _holey(table: pd.DataFrame, seed: int) -> pd.DataFrame:
    """``table`` with missing dates sprinkled over the columns the passes read, some
    identifications on the day the victim became at risk, and weights that are not whole."""
    rng = np.random.default_rng(seed)
    out = table.copy()
    n = len(out)
    for column in ("identified_on", "at_risk_from", "extract_date", "closed_on"):
        out.loc[rng.random(n) < 0.03, column] = pd.NaT
    same_day = rng.random(n) < 0.02
    out.loc[same_day, "identified_on"] = out.loc[same_day, "at_risk_from"]
    out["weight"] = rng.choice([1.0, 1.5, 0.5, -0.25, 3.0], n)
    out["delay_correction"] = rng.random(n) < 0.05
    return out


def _bits(*arrays: np.ndarray) -> list[bytes]:
    return [np.ascontiguousarray(a).tobytes() for a in arrays]


@pytest.mark.parametrize("closures", ["competing", "censoring"])
@pytest.mark.parametrize("seed", range(4))
def test_period_parts_equal_numpy_to_the_bit(table, closures: str, seed: int) -> None:
    holey = _holey(table, seed)
    definition = PeriodIdentificationRate(closures=closures)
    for year in (2010, 2016, 2023):
        compiled = definition._parts(holey, year)
        reference = definition._parts_numpy(holey, year)
        assert _bits(*compiled) == _bits(*reference)
    assert np.isnan(reference[1]).any()  # the missing dates reached the years at risk


@pytest.mark.parametrize("seed", range(20))
def test_ratio_sums_equal_the_group_sums_to_the_bit(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 4_000))
    codes = rng.integers(0, int(rng.integers(1, 500)), n)
    weight = rng.choice([1.0, 2.5, -1.5], n) * 10.0 ** rng.integers(-3, 3, n)
    events = (rng.random(n) < 0.2).astype(float)
    years = rng.random(n) * 10.0 ** rng.integers(-6, 1, n)
    rate, py = float(rng.random()) + 0.01, float(rng.random()) * 100 + 1.0
    groups = _GroupSums(codes)
    expected = groups(weight * (events - rate * years) / py)
    assert groups.ratio_sums(weight, events, years, rate, py).tobytes() == expected.tobytes()
    # and pandas' own groupby (what _GroupSums stands in for)
    frame = pd.Series(weight * (events - rate * years) / py).groupby(codes, sort=True).sum()
    assert expected.tobytes() == frame.to_numpy().tobytes()


def test_ratio_sums_leave_a_nan_contribution_to_pandas() -> None:
    codes = np.array([0, 1, 1, 2])
    groups = _GroupSums(codes)
    years = np.array([0.5, np.nan, 1.0, 2.0])
    ones = np.ones(4)
    assert groups.ratio_sums(ones, ones, years, 0.5, 3.0) is None
    assert groups.ratio_sums(ones, ones, np.abs(np.nan_to_num(years)), 0.5, 3.0) is not None


@pytest.mark.parametrize("delay_adjust", [True, False])
def test_stock_year_parts_equal_numpy_to_the_bit(table, delay_adjust: bool, monkeypatch) -> None:
    definition = StockIndex(delay_adjust=delay_adjust)
    prepared = definition.prepare(table)
    codes, labels, obs_codes, _, _ = definition._influence_labels(prepared)
    w = prepared["weight"].to_numpy(float)
    want = obs_codes is not None
    assert want == delay_adjust
    years = (2012, 2018, 2022)
    compiled = [
        definition._year_parts(prepared, y, w, codes, len(labels), want_targets=want) for y in years
    ]
    monkeypatch.setattr(indicator_kernels, "kernels", lambda: None)
    for y, fast in zip(years, compiled, strict=True):
        slow = definition._year_parts(prepared, y, w, codes, len(labels), want_targets=want)
        assert _bits(fast[0], fast[1]) == _bits(slow[0], slow[1])
        assert fast[2:4] == slow[2:4]
        if want:
            assert _bits(fast[4]) == _bits(slow[4]) and fast[4].size > 0
        else:
            assert fast[4] is None and slow[4] is None


@pytest.mark.parametrize("cls", [StockIndex, PeriodIdentificationRate])
@pytest.mark.parametrize("delay_adjust", [True, False])
def test_definitions_give_the_same_bits_without_numba(table, cls, delay_adjust, monkeypatch):
    definition = cls(delay_adjust=delay_adjust)
    fast = [definition.compute_with_influence(table, y) for y in (2013, 2019, 2022)]
    monkeypatch.setattr(indicator_kernels, "kernels", lambda: None)
    for (est, influence), y in zip(fast, (2013, 2019, 2022), strict=True):
        slow_est, slow_influence = definition.compute_with_influence(table, y)
        assert est == slow_est
        assert influence.index.equals(slow_influence.index)
        assert influence.to_numpy().tobytes() == slow_influence.to_numpy().tobytes()


def test_stock_influence_labels_are_part_and_victim(table) -> None:
    definition = StockIndex()
    prepared = definition.prepare(table)
    _, influence = definition.compute_with_influence(prepared, 2018)
    index = influence.index
    assert isinstance(index, pd.MultiIndex) and list(index.names) == ["part", "victim"]
    assert index.is_unique and index.is_monotonic_increasing
    spelled = [f"{part}:{victim}" for part, victim in index]
    assert spelled == sorted(spelled)  # the order the "part:victim" strings sorted in
    parts = index.get_level_values("part")
    assert set(parts) == {"delay", "recorded"}
    # every victim once among the recorded labels; delay labels only for recorded delays
    recorded = index[parts == "recorded"].get_level_values("victim")
    assert sorted(recorded) == sorted(set(prepared["victim_id"].astype(str)))
    delayed = set(prepared.loc[prepared["delay_days"].notna(), "victim_id"].astype(str))
    assert set(index[parts == "delay"].get_level_values("victim")) == delayed


def _factorized(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    codes, uniques = pd.factorize(ids, sort=True)
    return codes, np.asarray(uniques, dtype=object)


def test_sorted_factorize_uses_copies_only_where_they_hold() -> None:
    main = np.array([f"V{i:04d}" for i in range(50)], dtype=object)
    copies = np.array([3, 3, 17, 49])
    ids = np.concatenate([main, main[copies]])
    correction = np.r_[np.zeros(50, bool), np.ones(4, bool)]
    expected = _factorized(ids)
    for hint in (copies, None, np.array([3, 4, 17, 49]), np.array([3, 50, 17, 49]), copies[:3]):
        # right, none, a wrong row (labels differ), a correction row, the wrong length:
        # the same codes every time (a bad hint falls back to the binary search)
        codes, uniques = _sorted_factorize(ids, correction, hint)
        np.testing.assert_array_equal(codes, expected[0])
        np.testing.assert_array_equal(uniques, expected[1])
    shuffled = ids.copy()
    shuffled[[0, 1]] = shuffled[[1, 0]]  # real rows out of order: pandas' factorize
    codes, uniques = _sorted_factorize(shuffled, correction, copies)
    np.testing.assert_array_equal(codes, _factorized(shuffled)[0])


def test_correction_copies_name_each_correction_rows_victim_row(table) -> None:
    from idjourney.survival.delay import correction_copies, delay_adjusted

    adjusted = delay_adjusted(table)
    copies = correction_copies(adjusted)
    ghost = adjusted["delay_correction"].to_numpy()
    assert copies is not None and copies.size == ghost.sum() > 0
    assert not ghost[copies].any()
    # the copied row is the same victim, with the same first-seen date
    for column in ("victim_id", "first_seen", "series_id"):
        np.testing.assert_array_equal(
            adjusted[column].to_numpy()[copies], adjusted[column].to_numpy()[ghost]
        )
    assert correction_copies(adjusted.copy()) is None  # only for the table it returned
    assert correction_copies(table) is None


@pytest.mark.parametrize("strata", ["region", None])
def test_stratified_influence_equals_numpy_mix_to_the_bit(table, strata, monkeypatch) -> None:
    from idjourney.summary import journey_curve, prepare_journey

    curve = journey_curve(prepare_journey(table), strata)
    times = (30.0, 365.0, 1500.0)
    fast = [curve.influence_unidentified_at(t) for t in times] + [curve.influence_rmst(730.0)]
    monkeypatch.setattr(indicator_kernels, "kernels", lambda: None)
    slow = [curve.influence_unidentified_at(t) for t in times] + [curve.influence_rmst(730.0)]
    assert _bits(*fast) == _bits(*slow)
    if strata is not None:
        assert curve.stratified and curve.size_influence  # the shares' term was exercised
