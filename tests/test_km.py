"""Kaplan–Meier: textbook values, cross-checks with statsmodels/lifelines, bad input."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from statsmodels.duration.survfunc import SurvfuncRight

from idjourney.survival import (
    KaplanMeier,
    SurvivalDataError,
    SurvivalDataWarning,
    km_table,
)

# Freireich et al. (1963) 6-MP arm, weeks of remission; 0 = censored.
# Data as printed in Klein & Moeschberger, Survival Analysis (2nd ed.), Table 1.1.
SIX_MP_TIME = [6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35]
SIX_MP_EVENT = [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]

# Klein & Moeschberger Table 4.1A: event time, S(t), Greenwood SE (printed to 3 decimals).
KM_TABLE_41A = [
    (6, 0.857, 0.076),
    (7, 0.807, 0.087),
    (10, 0.753, 0.096),
    (13, 0.690, 0.107),
    (16, 0.627, 0.114),
    (22, 0.538, 0.128),
    (23, 0.448, 0.135),
]


def _exact_six_mp() -> tuple[list[float], list[float]]:
    """Product-limit and Greenwood sums in exact rational arithmetic."""
    at_risk = {6: 21, 7: 17, 10: 15, 13: 12, 16: 11, 22: 7, 23: 6}
    deaths = {6: 3, 7: 1, 10: 1, 13: 1, 16: 1, 22: 1, 23: 1}
    surv, se = [], []
    s, green = Fraction(1), Fraction(0)
    for t in sorted(at_risk):
        n, d = at_risk[t], deaths[t]
        s *= Fraction(n - d, n)
        green += Fraction(d, n * (n - d))
        surv.append(float(s))
        se.append(float(s) * float(green) ** 0.5)
    return surv, se


def test_six_mp_matches_exact_product_limit_and_greenwood() -> None:
    km = KaplanMeier().fit(SIX_MP_TIME, SIX_MP_EVENT)
    events = km.survival_[km.survival_["events"] > 0]
    surv, se = _exact_six_mp()
    np.testing.assert_allclose(events["survival"], surv, rtol=0, atol=1e-12)
    np.testing.assert_allclose(events["std_err"], se, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(events["at_risk"], [21, 17, 15, 12, 11, 7, 6])


def test_six_mp_matches_klein_moeschberger_table_4_1a() -> None:
    # Printed to 3 decimals: tolerance half a unit of the last digit.
    km = KaplanMeier().fit(SIX_MP_TIME, SIX_MP_EVENT)
    for time, surv, se in KM_TABLE_41A:
        row = km.survival_.loc[float(time)]
        assert abs(row["survival"] - surv) <= 5e-4 + 1e-12
        assert abs(row["std_err"] - se) <= 5e-4 + 1e-12


def test_six_mp_median_and_ci() -> None:
    # S drops to 0.448 at 23 weeks, so the median is 23 (R: median 23, 0.95LCL 16, UCL NA).
    km = KaplanMeier().fit(SIX_MP_TIME, SIX_MP_EVENT)
    assert km.median_ == 23.0
    assert km.median_ci_[0] == 16.0
    assert km.median_ci_[1] == float("inf")  # upper limit not reached within follow-up
    est = km.median_estimate()
    assert est.estimate == 23.0 and est.events == 9


def test_median_midpoint_when_curve_is_exactly_half() -> None:
    # S = 0.75, 0.5, 0.25, 0: R's quantile.survfit gives the midpoint (2 + 3) / 2.
    km = KaplanMeier().fit([1, 2, 3, 4], [1, 1, 1, 1])
    assert km.median_ == 2.5


def test_left_truncation_uses_r_risk_set_convention() -> None:
    # Subject entering at t=2 is not at risk at the event at t=2 (R: entry < t <= stop).
    durations = [2.0, 5.0, 5.0, 7.0]
    events = [1, 1, 0, 1]
    entry = [0.0, 2.0, 0.0, 1.0]
    km = KaplanMeier().fit(durations, events, entry=entry)
    s = km.survival_
    assert s.loc[2.0, "at_risk"] == 3  # rows 0, 2, 3 (row 1 enters at 2)
    assert s.loc[5.0, "at_risk"] == 3
    np.testing.assert_allclose(s["survival"], [2 / 3, 2 / 3 * 2 / 3, 2 / 3 * 2 / 3 * 0])


def _random_data(seed: int, n: int = 400) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    durations = np.ceil(rng.exponential(10, n))  # many ties (integer days)
    events = (rng.random(n) < 0.7).astype(int)
    entry = np.where(rng.random(n) < 0.5, np.floor(durations * rng.random(n)), 0.0)
    return durations, events, entry


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_statsmodels_survfunc_with_ties_and_truncation(seed: int) -> None:
    durations, events, entry = _random_data(seed)
    for truncation in (None, entry):
        ours = KaplanMeier().fit(durations, events, entry=truncation).survival_
        ours = ours[ours["events"] > 0]
        ref = SurvfuncRight(durations, events, entry=truncation)
        np.testing.assert_allclose(ours["survival"], ref.surv_prob, rtol=0, atol=1e-10)
        np.testing.assert_allclose(ours["at_risk"], ref.n_risk, rtol=0, atol=1e-10)
        positive = ref.surv_prob > 0
        np.testing.assert_allclose(
            ours["std_err"][positive], ref.surv_prob_se[positive], rtol=0, atol=1e-10
        )


@pytest.mark.parametrize("seed", [3, 4])
def test_matches_lifelines_curve_and_log_log_interval(seed: int) -> None:
    durations, events, entry = _random_data(seed)
    ours = KaplanMeier(ci="log-log").fit(durations, events).survival_
    ref = KaplanMeierFitter().fit(durations, events)
    np.testing.assert_allclose(
        ours["survival"], ref.survival_function_.loc[ours.index].iloc[:, 0], atol=1e-10
    )
    # lifelines' interval is the exponential-Greenwood (log-log) one.
    band = ref.confidence_interval_survival_function_.loc[ours.index]
    np.testing.assert_allclose(ours["lower"], band.iloc[:, 0], atol=1e-10)
    np.testing.assert_allclose(ours["upper"], band.iloc[:, 1], atol=1e-10)
    truncated = KaplanMeier().fit(durations, events, entry=entry).survival_
    ref_t = KaplanMeierFitter().fit(durations, events, entry=entry)
    np.testing.assert_allclose(
        truncated["survival"], ref_t.survival_function_.loc[truncated.index].iloc[:, 0], atol=1e-10
    )


def test_interval_formulas_log_and_plain() -> None:
    # R survfit: log CI S*exp(+-z*se_log); plain S +- z*S*se_log; se_log^2 = Greenwood sum.
    km_log = KaplanMeier(ci="log").fit(SIX_MP_TIME, SIX_MP_EVENT)
    km_plain = KaplanMeier(ci="plain", alpha=0.1).fit(SIX_MP_TIME, SIX_MP_EVENT)
    row = km_log.survival_.loc[6.0]
    se_log = np.sqrt(3 / (21 * 18))
    z = 1.959963984540054
    assert row["lower"] == pytest.approx(6 / 7 * np.exp(-z * se_log), abs=1e-12)
    assert row["upper"] == pytest.approx(min(1.0, 6 / 7 * np.exp(z * se_log)), abs=1e-12)
    row = km_plain.survival_.loc[6.0]
    z90 = 1.6448536269514722
    assert row["lower"] == pytest.approx(6 / 7 - z90 * 6 / 7 * se_log, abs=1e-12)


def test_weights_equal_replicated_rows() -> None:
    durations, events, entry = _random_data(5, n=200)
    weights = np.random.default_rng(5).integers(1, 4, durations.size)
    weighted = KaplanMeier().fit(durations, events, entry=entry, weights=weights)
    repeated = KaplanMeier().fit(
        np.repeat(durations, weights), np.repeat(events, weights), entry=np.repeat(entry, weights)
    )
    pd.testing.assert_frame_equal(weighted.survival_, repeated.survival_, atol=1e-12)


def test_km_table_function_and_survival_at() -> None:
    table = km_table(SIX_MP_TIME, SIX_MP_EVENT)
    assert table.time[0] == 6 and table.n_event[0] == 3 and table.n_censor[0] == 1
    km = KaplanMeier().fit(SIX_MP_TIME, SIX_MP_EVENT)
    got = km.survival_at([0, 5.9, 6, 6.5, 40])
    np.testing.assert_allclose(got, [1, 1, 6 / 7, 6 / 7, table.survival[-1]])
    est = km.survival_estimate(6.5)
    assert est.estimate == pytest.approx(6 / 7) and est.covers(6 / 7)


def test_fit_table_uses_analysis_table_columns() -> None:
    table = pd.DataFrame(
        {
            "duration": [3.0, 5.0, 5.0, 8.0, 0.0],
            "event": [1, 0, 1, 1, 1],
            "entry": [0.0, 0.0, 0.0, 0.0, 0.0],  # all zero: no truncation, duration 0 allowed
            "series_id": ["a", "a", "b", "c", "c"],
        }
    )
    km = KaplanMeier().fit_table(table)
    direct = KaplanMeier().fit(table["duration"], table["event"])
    pd.testing.assert_frame_equal(km.survival_, direct.survival_)
    table.loc[1, "entry"] = 4.0  # row 1 enters after t=3
    truncated = KaplanMeier().fit_table(table.iloc[:4])
    assert truncated.survival_.loc[3.0, "at_risk"] == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"durations": [1.0, np.nan], "events": [1, 0]}, "missing"),
        ({"durations": [1.0, -2.0], "events": [1, 0]}, "negative"),
        ({"durations": [1.0, np.inf], "events": [1, 0]}, "infinite"),
        ({"durations": [1.0, 2.0], "events": [1, 2]}, "0 \\(censored\\) or 1"),
        ({"durations": [1.0, 2.0], "events": [1, np.nan]}, "0 \\(censored\\) or 1"),
        ({"durations": [1.0, 2.0], "events": [1]}, "has 1 values"),
        ({"durations": [1.0, 2.0], "events": [1, 1], "entry": [0.0, 2.0]}, "not before"),
        ({"durations": [1.0, 2.0], "events": [1, 1], "weights": [1.0, 0.0]}, "weights"),
        ({"durations": [], "events": []}, "empty"),
    ],
)
def test_bad_input_raises_clear_error(kwargs: dict, message: str) -> None:
    with pytest.raises(SurvivalDataError, match=message):
        KaplanMeier().fit(**kwargs)


def test_bad_column_is_named() -> None:
    table = pd.DataFrame({"duration": [1.0, -1.0], "event": [1, 0]}, index=["v1", "v2"])
    with pytest.raises(SurvivalDataError, match=r"'duration' is negative at row 'v2'"):
        KaplanMeier().fit_table(table, entry_col=None)
    with pytest.raises(SurvivalDataError, match="column 'start'"):
        KaplanMeier().fit_table(table.abs(), entry_col="start")


def test_one_left_truncation_rule_for_tables() -> None:
    """``entry`` is used when present, absent means none, and ignoring it warns."""
    plain = pd.DataFrame({"duration": [2.0, 3, 5, 7], "event": [1, 0, 1, 1]})
    by_table = KaplanMeier().fit_table(plain)
    by_arrays = KaplanMeier().fit(plain["duration"], plain["event"])
    pd.testing.assert_frame_equal(by_table.survival_, by_arrays.survival_)
    truncated = plain.assign(entry=[0.0, 1, 1, 4])
    used = KaplanMeier().fit_table(truncated)
    assert used.survival_["at_risk"].tolist() == [3.0, 2.0, 2.0, 1.0]  # entry < t <= duration
    with pytest.warns(SurvivalDataWarning, match="delayed entries"):
        ignored = KaplanMeier().fit_table(truncated, entry_col=None)
    assert ignored.survival_["at_risk"].tolist() == [4.0, 3.0, 2.0, 1.0]


def test_all_censored_warns_and_stays_at_one() -> None:
    with pytest.warns(SurvivalDataWarning, match="no events"):
        km = KaplanMeier().fit([1.0, 2.0, 3.0], [0, 0, 0])
    assert (km.survival_["survival"] == 1).all()
    assert km.median_ == float("inf")


def test_estimator_arguments_are_checked() -> None:
    with pytest.raises(SurvivalDataError, match="ci must be"):
        KaplanMeier(ci="logit")  # type: ignore[arg-type]
    with pytest.raises(SurvivalDataError, match="not fitted"):
        KaplanMeier().survival_at(1.0)
