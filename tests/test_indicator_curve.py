"""Known-answer and cross-checks of idjourney.indicator.curve (AJ curve + grouped IJ SE).

References: tests/data/r/indicator_curve_aj.csv from tests/r/indicator_curve_aj.R (R 4.2.2,
survival 3.5.3): R's Aalen–Johansen ``pstate`` and its infinitesimal-jackknife influence
(``influence = TRUE``) summed within cluster; and R's own ``std.err`` where every row is its
own cluster. Data: tests/data/r/indicator_curve_input.csv (120 rows, 30 clusters, tied
integer times, left truncation, weights in [0.5, 2]).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.indicator.curve import fit_curve
from idjourney.survival import KaplanMeier, rmst

DATA = Path(__file__).parent / "data" / "r"


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(DATA / "indicator_curve_input.csv")


@pytest.mark.parametrize(
    "case", ["aj_cluster", "aj_w_cluster", "aj_w_id", "km_cluster", "km_w_cluster"]
)
def test_matches_r_cif_and_robust_se(data: pd.DataFrame, case: str) -> None:
    ref = pd.read_csv(DATA / "indicator_curve_aj.csv").query("case == @case")
    weight = data["weight"].to_numpy() if "_w_" in case else None
    status = data["status"].to_numpy()
    if case.startswith("km"):
        status = (status == 1).astype(int)  # closures as censoring: Kaplan–Meier
    cluster = None if case.endswith("_id") else data["cluster"].to_numpy()
    curve = fit_curve(data["entry"], data["exit"], status, weight, cluster)
    cif = np.array([1 - curve.unidentified_at(t) for t in ref["time"]])
    se = np.array([curve.se_unidentified_at(t) for t in ref["time"]])
    # tolerance: 1e-8 relative (plus 1e-12 absolute where R's SE is exactly 0 at the end)
    np.testing.assert_allclose(cif, ref["cif"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(se, ref["se"], rtol=1e-8, atol=1e-12)


def test_no_closures_equals_kaplan_meier(data: pd.DataFrame) -> None:
    """With closures treated as censoring, 1 - CIF is the KM curve and RMST the KM area."""
    event = (data["status"] == 1).astype(int).to_numpy()
    curve = fit_curve(data["entry"], data["exit"], event)
    km = KaplanMeier().fit(data["exit"].to_numpy(), event, entry=data["entry"].to_numpy())
    grid = np.arange(0, 46, 0.5)
    np.testing.assert_allclose(
        [curve.unidentified_at(t) for t in grid], km.survival_at(grid), rtol=1e-12, atol=1e-14
    )
    frame = pd.DataFrame({"duration": data["exit"], "event": event, "entry": data["entry"]})
    assert curve.rmst(30.0) == pytest.approx(rmst(frame, 30.0).estimate, rel=1e-12)
    assert curve.median() == pytest.approx(km.median_, rel=1e-12)


def _derivative_by_difference(data: pd.DataFrame, row: int, target) -> float:
    eps = 1e-6
    w = np.ones(len(data))
    base = target(fit_curve(data["entry"], data["exit"], data["status"], w))
    w[row] += eps
    return (target(fit_curve(data["entry"], data["exit"], data["status"], w)) - base) / eps


@pytest.mark.parametrize("row", [0, 7, 33, 80, 119])
def test_rmst_derivative_matches_finite_difference(data: pd.DataFrame, row: int) -> None:
    curve = fit_curve(data["entry"], data["exit"], data["status"])
    analytic = curve.row_derivatives(curve._rmst_weights(25.0))[row]
    numeric = _derivative_by_difference(data, row, lambda c: c.rmst(25.0))
    assert analytic == pytest.approx(numeric, rel=1e-4, abs=1e-7)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), negative=st.booleans())
def test_cif_derivative_matches_finite_difference(seed: int, negative: bool) -> None:
    """Property: the analytic row derivative of F1(h) is the numerical one (any weights)."""
    rng = np.random.default_rng(seed)
    n = 40
    entry = np.where(rng.random(n) < 0.3, rng.integers(0, 5, n), 0).astype(float)
    exit_ = entry + rng.integers(1, 20, n)
    status = rng.choice([0, 1, 2], n)
    w = rng.uniform(0.5, 2, n)
    if negative:  # delay-correction rows of small negative weight
        w[:3] = -0.2
    h = float(rng.integers(3, 15))
    curve = fit_curve(entry, exit_, status, w)
    analytic = curve.row_derivatives(curve._unit_weights(h))
    row = int(rng.integers(0, n))
    w2 = w.copy()
    w2[row] += 1e-7
    numeric = (
        (1 - fit_curve(entry, exit_, status, w2).unidentified_at(h))
        - (1 - curve.unidentified_at(h))
    ) / 1e-7
    assert analytic[row] == pytest.approx(numeric, rel=1e-4, abs=1e-6)


def test_cluster_labels_with_missing_values_are_refused(data: pd.DataFrame) -> None:
    cluster = data["cluster"].astype(object).to_numpy()
    cluster[3] = None
    with pytest.raises(ValueError, match="missing"):
        fit_curve(data["entry"], data["exit"], data["status"], cluster=cluster)


def test_agrees_with_survival_engine_robust_aj_and_rmst(data: pd.DataFrame) -> None:
    """Second implementation: idjourney.survival's AalenJohansen / rmst with cluster= (H1,
    issue #11) give the same per-cluster influence values and robust SE (to rounding)."""
    from idjourney.survival import AalenJohansen, cluster_sums

    cl = data["cluster"].to_numpy()
    aj = AalenJohansen().fit(
        data["exit"].to_numpy(),
        data["status"].to_numpy(),
        entry=data["entry"].to_numpy(),
        weights=data["weight"].to_numpy(),
        cluster=cl,
    )
    curve = fit_curve(data["entry"], data["exit"], data["status"], data["weight"], cl)
    labels = pd.factorize(cl)[1]
    for t in (5.0, 12.5, 30.0):
        engine = cluster_sums(aj.influence_at(t, 1), cl).sort_index()
        ours = pd.Series(-curve.influence_unidentified_at(t), index=labels).sort_index()
        np.testing.assert_allclose(ours.to_numpy(), engine.to_numpy(), rtol=1e-10, atol=1e-14)
    event = (data["status"] == 1).astype(int)
    frame = pd.DataFrame(
        {"duration": data["exit"], "event": event, "entry": data["entry"], "cl": cl}
    )
    ref = rmst(frame, 25.0, cluster="cl")
    km_curve = fit_curve(data["entry"], data["exit"], event, None, cl)
    assert km_curve.rmst(25.0) == pytest.approx(ref.estimate, rel=1e-12)
    se = float(np.sqrt(np.sum(km_curve.influence_rmst(25.0) ** 2)))
    assert se == pytest.approx(ref.se, rel=1e-10)


def test_lookup_index_equals_searchsorted() -> None:
    """The fast path of fit_curve (whole/half days) finds the same risk-set positions."""
    from idjourney.indicator.curve import _index_right

    rng = np.random.default_rng(3)
    times = np.unique(rng.integers(1, 5000, 3000)).astype(float)
    x = rng.integers(0, 6000, 50_000) / 2.0
    np.testing.assert_array_equal(_index_right(times, x), np.searchsorted(times, x, "right"))
    y = x + 0.25  # not half days: falls back to searchsorted
    np.testing.assert_array_equal(_index_right(times, y), np.searchsorted(times, y, "right"))


def test_event_times_on_the_grid_equal_unique_and_searchsorted() -> None:
    """The O(n) grid path for the event times gives np.unique's times and positions exactly."""
    from idjourney.indicator.curve import _event_times

    rng = np.random.default_rng(4)
    exit_ = rng.integers(1, 8000, 60_000) / 2.0
    is_event = rng.random(exit_.size) < 0.4
    times, hi = _event_times(exit_, is_event)
    expected = np.unique(exit_[is_event])
    np.testing.assert_array_equal(times, expected)
    np.testing.assert_array_equal(hi, np.searchsorted(expected, exit_, "right"))
    none, hi_none = _event_times(exit_, np.zeros(exit_.size, dtype=bool))
    assert none.size == 0 and not hi_none.any()


STORED = Path(__file__).parent / "data" / "stored"


@pytest.mark.parametrize("case", ["large", "large_half_negative", "small"])
@pytest.mark.parametrize("clustered", [True, False], ids=["cluster", "rows"])
def test_values_unchanged_against_stored_outputs(case: str, clustered: bool) -> None:
    """Regression: every indicator quantity equals the stored output of the fit_curve of
    commit 9c04fab (tests/data/stored/make_indicator_curve_before.py wrote it before the
    engine changes of issue #11), to 1e-10 relative: tied whole and half days, left
    truncation, closures, clusters and negative (delay-correction) weights, on both the
    grid (>= 10,000 rows) and the searchsorted path."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_before", STORED / "make_indicator_curve_before.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    stored = json.loads((STORED / "indicator_curve_before.json").read_text())
    expected = stored[f"{case}|{'cluster' if clustered else 'rows'}"]
    got = module.outputs(fit_curve, module.cases()[case], clustered)
    assert got["n_times"] == expected["n_times"]
    for key in ("times_sum", "cif_at", "se_at", "rmst", "rmst_se", "median", "median_interval"):
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, err_msg=key)
    np.testing.assert_allclose(
        got["influence_head"], expected["influence_head"], rtol=1e-10, atol=1e-15
    )


def test_cluster_given_as_categorical_or_codes_is_bit_identical() -> None:
    """Labels, a categorical of them (the prepared table's _cluster) and ClusterCodes give
    the same codes (first appearance), labels and SE to the last bit."""
    from idjourney.indicator.base import _factorized_once
    from idjourney.survival import check_cluster

    rng = np.random.default_rng(5)
    n = 3000
    entry = np.where(rng.random(n) < 0.3, rng.integers(0, 50, n), 0).astype(float)
    exit_ = entry + rng.integers(1, 400, n)
    status = rng.choice([0, 1, 2], n)
    labels = pd.Series([f"SYN-S{c}" for c in rng.integers(0, 300, n)], name="series_id")
    # a cohort: a subset whose first appearances differ from the whole table's
    rows = rng.random(n) < 0.5
    rows[:40] = False
    subset = np.flatnonzero(rows)
    by_labels = fit_curve(entry[rows], exit_[rows], status[rows], None, labels[rows].to_numpy())
    by_category = fit_curve(
        entry[rows], exit_[rows], status[rows], None, _factorized_once(labels)[rows]
    )
    by_codes = fit_curve(
        entry[rows],
        exit_[rows],
        status[rows],
        None,
        check_cluster(labels, n, "series_id").take(subset),
    )
    for other in (by_category, by_codes):
        np.testing.assert_array_equal(other.cluster, by_labels.cluster)
        assert list(other.labels) == list(by_labels.labels)
        assert other.se_unidentified_at(100.0) == by_labels.se_unidentified_at(100.0)
        np.testing.assert_array_equal(other.influence_rmst(200.0), by_labels.influence_rmst(200.0))


def test_bad_cluster_arguments_name_the_column() -> None:
    from idjourney.survival import SurvivalDataError

    entry, exit_, status = np.zeros(4), np.array([1.0, 2.0, 3.0, 4.0]), np.array([1, 0, 2, 1])
    series = pd.Series(["a", None, "b", "b"], name="series_id")
    with pytest.raises(SurvivalDataError, match="'series_id' is missing at row 2"):
        fit_curve(entry, exit_, status, None, series)
    with pytest.raises(SurvivalDataError, match=r"'series_id' has 3 labels but .* 4 rows"):
        fit_curve(entry, exit_, status, None, series[:3])
    with pytest.raises(ValueError, match="status must be 0"):
        fit_curve(entry, exit_, np.array([1, 0, 3, 1]))
