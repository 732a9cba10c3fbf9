"""A median not reached within follow-up: "the median exceeds L days", interval [L, inf).

Known answers on hand-made tables (each victim its own cluster, no truncation, no
closures, no delay correction): before the first censoring the Aalen–Johansen curve is
the empirical share still unidentified and its infinitesimal-jackknife SE the binomial
:math:`\\sqrt{U(1-U)/n}`, so the Brookmeyer–Crowley lower limit (first event time with
:math:`U - z\\,se \\le 1/2`) can be computed by hand. Then: the coverage of the reported
interval, reached or not, over simulated cohorts whose median is often beyond follow-up.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from idjourney.estimate import Estimate
from idjourney.indicator import MedianTimeToIdentification

Z95 = float(stats.norm.ppf(0.975))


def cohort_table(duration: np.ndarray, event: np.ndarray, entry: np.ndarray | None = None):
    """A minimal analysis table of one 2015 cohort (what the median without delay
    correction, strata or clusters needs)."""
    n = duration.size
    first_seen = pd.Timestamp("2015-03-01")
    return pd.DataFrame(
        {
            "victim_id": [f"v{i}" for i in range(n)],
            "entry_year": 2015,
            "duration": duration.astype(float),
            "event": event.astype(int),
            "entry": np.zeros(n) if entry is None else entry.astype(float),
            "first_seen": first_seen,
            "extract_date": first_seen + pd.Timedelta(days=float(duration.max()) + 1),
        }
    )


def median(level: float = 0.95) -> MedianTimeToIdentification:
    return MedianTimeToIdentification(
        level=level, delay_adjust=False, variance="independent", strata="none"
    )


def test_lower_limit_by_hand_when_the_median_is_not_reached() -> None:
    # 10 victims: identified on days 1, 2, 3; the other 7 censored on days 4..10
    duration = np.arange(1, 11)
    event = np.r_[1, 1, 1, np.zeros(7)]
    # by hand: U(2) = 0.8, se = sqrt(.8 * .2 / 10) = 0.1265, U - 1.96 se = 0.552 > 1/2;
    #          U(3) = 0.7, se = sqrt(.7 * .3 / 10) = 0.1449, U - 1.96 se = 0.416 <= 1/2
    assert 0.8 - Z95 * np.sqrt(0.8 * 0.2 / 10) > 0.5
    assert 0.7 - Z95 * np.sqrt(0.7 * 0.3 / 10) <= 0.5
    est = median().compute(cohort_table(duration, event), 2015)
    assert isinstance(est, Estimate)
    assert np.isnan(est.estimate) and np.isnan(est.se)  # no fake number
    assert est.lower == 3.0
    assert est.upper == np.inf
    assert est.extra["not_reached"] is True
    assert est.extra["not_reached_bound"] == "test inversion"
    assert est.extra["followup_end_days"] == 10.0
    assert "exceeds 3 days" in est.extra["note"]
    assert str(est).endswith("not reached, > 3 (95% CI 3 to inf)")
    assert not est.covers(2.0) and est.covers(3.0) and est.covers(1e9)
    # at 80% (z = 1.28) U(2) - z se = 0.638 and U(3) - z se = 0.514 are both above 1/2:
    # the test rejects at every event time, so L is the end of follow-up
    z80 = float(stats.norm.ppf(0.9))
    assert 0.7 - z80 * np.sqrt(0.21 / 10) > 0.5
    est80 = median(0.8).compute(cohort_table(duration, event), 2015)
    assert est80.lower == 10.0 and est80.upper == np.inf
    assert est80.extra["not_reached_bound"] == "end of follow-up"


def test_lower_limit_is_the_end_of_follow_up_when_the_test_rejects_throughout() -> None:
    # 40 victims, identified on days 1 and 2, the others censored on days 3..40:
    # U(2) = 0.95, se = sqrt(.95 * .05 / 40) = 0.034, U - 1.96 se = 0.88 > 1/2 (and U, se
    # stay so up to day 40): the median exceeds the whole follow-up
    duration = np.arange(1, 41)
    event = np.r_[1, 1, np.zeros(38)]
    est = median().compute(cohort_table(duration, event), 2015)
    assert np.isnan(est.estimate)
    assert (est.lower, est.upper) == (40.0, np.inf)
    assert est.extra["not_reached_bound"] == "end of follow-up"
    assert est.followup_days == np.inf


def test_a_reached_median_is_unchanged_and_flagged_reached() -> None:
    duration = np.arange(1, 11)
    event = np.r_[np.ones(6), np.zeros(4)]  # U(5) = 0.5: the median is day 5
    est = median().compute(cohort_table(duration, event), 2015)
    assert est.estimate == 5.0
    assert est.extra["not_reached"] is False
    assert est.lower <= 5.0 <= est.upper
    assert "not reached" not in str(est)


def test_not_reached_agrees_with_the_curve_interval() -> None:
    """L is the lower end of the curve's own test inversion when that is finite."""
    from idjourney.indicator.curve import fit_curve

    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(30):
        n = int(rng.integers(30, 300))
        t = np.ceil(rng.exponential(200, n))
        cured = rng.random(n) < 0.45
        cens = np.ceil(rng.uniform(50, 400, n))
        duration = np.where(cured, cens, np.minimum(t, cens))
        event = (~cured & (t <= cens)).astype(int)
        if event.sum() == 0:
            continue
        est = median().compute(cohort_table(duration, event), 2015)
        curve = fit_curve(np.zeros(n), duration, event)
        lower, upper = curve.median_interval(0.95)
        if np.isfinite(curve.median()):
            assert est.estimate == curve.median() and (est.lower, est.upper) == (lower, upper)
            continue
        checked += 1
        assert np.isnan(est.estimate) and est.upper == np.inf and upper == np.inf
        assert est.lower == (lower if np.isfinite(lower) else duration.max())
    assert checked >= 5  # the design makes the median often not reached


def test_reported_intervals_cover_at_the_stated_level_reached_or_not() -> None:
    """Cohorts of 150 with 40% never identified and Exp(mean 300) times otherwise, censored
    uniformly on days 150..600: the true median is 300 log(0.6 / 0.1) = 537.5 days, beyond
    most follow-up, so it is often not reached. The intervals, [L, R] or [L, inf), must
    cover it in about 95% of cohorts; scoring only the reached ones (the old harness)
    would not be the same thing."""
    rng = np.random.default_rng(20261202)
    truth = 300 * np.log(0.6 / 0.1)  # U(t) = 0.4 + 0.6 exp(-t/300) = 1/2
    covered, not_reached, n_rep = 0, 0, 600
    for _ in range(n_rep):
        n = 150
        t = np.where(rng.random(n) < 0.4, np.inf, np.ceil(rng.exponential(300, n)))
        cens = np.ceil(rng.uniform(150, 600, n))
        duration = np.minimum(t, cens)
        event = (t <= cens).astype(int)
        est = median().compute(cohort_table(duration, event), 2015)
        not_reached += bool(est.extra["not_reached"])
        covered += est.lower <= truth <= est.upper
    assert not_reached >= 0.3 * n_rep
    cover = covered / n_rep
    mcse = np.sqrt(0.95 * 0.05 / n_rep)  # 0.0089
    assert abs(cover - 0.95) <= 3 * mcse, (cover, not_reached)


def test_a_case_closed_first_is_never_identified_so_the_median_is_not_reached() -> None:
    # identified on days 1, 2, 3 and 9; closed without identification on days 4..8;
    # censored on day 10. Closure competing: U = 1 - 4/10 = 0.6 forever, not reached;
    # closure as censoring (the old treatment): S(9) = 0.7 * (1 - 1/2) = 0.35, reached
    duration = np.arange(1, 11)
    event = np.r_[1, 1, 1, 0, 0, 0, 0, 0, 1, 0]
    table = cohort_table(duration, event)
    closed = (duration >= 4) & (duration <= 8)
    ends = table["first_seen"] + pd.to_timedelta(duration, unit="D")
    table["closed_on"] = ends.where(closed)
    est = median().compute(table, 2015)
    assert est.extra["not_reached"] and np.isnan(est.estimate) and est.upper == np.inf
    # by hand (no censoring before day 10): U(9) = 0.6, se = sqrt(.6 * .4 / 10) = 0.155,
    # U - 1.96 se = 0.296 <= 1/2; U(3) = 0.7: 0.416 <= 1/2; U(2) = 0.8: 0.552 > 1/2
    assert est.lower == 3.0
    old = MedianTimeToIdentification(
        delay_adjust=False, variance="independent", strata="none", closures="censoring"
    ).compute(table, 2015)
    assert old.estimate == 9.0 and old.extra["not_reached"] is False


# ------------------------------------------------- what users see: series, CLI (issue #12)


@pytest.fixture(scope="module")
def slow_world():
    """40% never identified, the others Exp(mean 700 days): the cohorts up to 2020 reach
    their median within follow-up, 2021 onwards do not (extract 2024-06-30)."""
    from _indicator_world import Process, make_world

    return make_world(6000, seed=3, process=Process(cure=0.4, shape=1.0, scale=700.0))


def test_series_keeps_a_year_not_reached_as_a_lower_bound_without_index(slow_world) -> None:
    from idjourney.indicator import indicator_series

    for coverage in ("naive", "chain-linked"):
        out = indicator_series(
            slow_world.table, MedianTimeToIdentification(), range(2019, 2024), 2015,
            coverage=coverage,
        ).set_index("year")  # fmt: skip
        assert out["not_reached"].tolist() == [False, False, True, True, True]
        gone = out.loc[out["not_reached"]]
        assert gone["estimate"].isna().all() and gone["se"].isna().all()
        assert (gone["lower"] > 0).all() and np.isinf(gone["upper"]).all()
        assert gone["index"].isna().all()  # no ratio to the baseline
        kept = out.loc[~out["not_reached"]]
        assert np.isfinite(kept["estimate"]).all() and np.isfinite(kept["index"]).all()
        unlinked = out.attrs["unlinked_years"]
        assert set(unlinked) == {2021, 2022, 2023}
        assert all("not reached" in why for why in unlinked.values())
        assert set(out.attrs["not_reached"]) == {2021, 2022, 2023}
        assert out.attrs["not_reached"][2022].startswith("not reached: the median exceeds")


def test_a_baseline_not_reached_and_a_ratio_of_one_are_clear_errors(slow_world) -> None:
    from idjourney.indicator import IndicatorError, indicator_series
    from idjourney.indicator.series import log_ratio, log_se

    with pytest.raises(IndicatorError, match="baseline year 2022: not reached"):
        indicator_series(slow_world.table, MedianTimeToIdentification(), [2019, 2022], 2022)
    # the error names the years a baseline could be (reached up to 2020, see slow_world)
    with pytest.raises(IndicatorError, match=r"\(reached in 2017-2020\)"):
        indicator_series(slow_world.table, MedianTimeToIdentification(), range(2017, 2024), 2022)
    with pytest.raises(IndicatorError, match="reached in none of the years asked for"):
        indicator_series(slow_world.table, MedianTimeToIdentification(), [2021, 2022], 2022)
    with pytest.raises(IndicatorError, match="2022 is not reached"):
        log_ratio(slow_world.table, MedianTimeToIdentification(), 2022, 2019)
    est = MedianTimeToIdentification().compute(slow_world.table, 2022)
    with pytest.raises(IndicatorError, match="no value to take a ratio of"):
        log_se(est)


def test_cli_shows_exceeds_l_days_not_a_dash(slow_world, tmp_path) -> None:
    from click.testing import CliRunner

    from idjourney.cli.indicator import indicator

    path = tmp_path / "analysis.csv"
    slow_world.table.to_csv(path, index=False)
    est = MedianTimeToIdentification().compute(slow_world.table, 2022)
    args = ["--data", str(path), "--definition", "median-time-to-identification"]
    text = CliRunner().invoke(indicator, [*args, "--years", "2019-2022"])
    assert text.exit_code == 0, text.output
    assert f"> {est.lower:,.0f} days (not reached)" in text.stdout
    assert "undefined (not reached)" in text.stdout
    assert "not reached" in text.stderr  # the note saying why there is no index
    # the default years now include the years not reached (they used to be dropped)
    result = CliRunner().invoke(indicator, [*args, "--json"])
    assert result.exit_code == 0, result.output
    import json

    records = {r["year"]: r for r in json.loads(result.stdout)}
    assert 2022 in records and records[2022]["not_reached"] is True
    assert records[2022]["estimate"] is None and records[2022]["lower"] > 0
    assert records[2019]["not_reached"] is False
