"""Indicator defaults of issues #11/#12: closures competing, delay adjustment, cluster variance.

Worlds come from the package's generator (idjourney.synthetic) at 20,000 victims, with
closures and a long reporting delay so that both corrections matter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney.indicator import (
    CohortUnidentifiedAt,
    IndicatorError,
    MedianTimeToIdentification,
    PeriodIdentificationRate,
    RMSTUnidentified,
    StockIndex,
    indicator_series,
    make_definition,
)
from idjourney.indicator.series import log_ratio
from idjourney.linkage import analysis_table
from idjourney.simstudy.estimands import true_value
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def world():
    scenario = load_scenario("baseline").replace(
        reporting_delay_mean_days=365, closure_per_year=0.15
    )
    return generate(scenario, 5, 20_000)


@pytest.fixture(scope="module")
def table(world) -> pd.DataFrame:
    return analysis_table(world.records, check=False)


ALL = [
    StockIndex(),
    CohortUnidentifiedAt(365),
    MedianTimeToIdentification(),
    RMSTUnidentified(365),
    PeriodIdentificationRate(),
]


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.name)
def test_influence_values_reproduce_the_standard_error(table, definition) -> None:
    """se**2 == sum_c U_c**2 exactly (the contract the index covariance relies on)."""
    est, infl = definition.compute_with_influence(table, 2016)
    assert np.sum(infl.to_numpy() ** 2) == pytest.approx(est.se**2, rel=1e-10)
    assert "cluster-robust" in est.extra["variance"] or definition.name == "stock-index"
    assert est.extra["delay"].startswith("adjusted")


def test_closures_compete_rather_than_censor(table) -> None:
    """Aalen–Johansen F1 <= 1 - KM with closures censored, so the share unidentified is
    higher; the period rate's person-time stops at closure, so the rate is higher."""
    for definition in (CohortUnidentifiedAt, RMSTUnidentified):
        competing = definition(365, delay_adjust=False).compute(table, 2016).estimate
        censoring = definition(365, delay_adjust=False, closures="censoring").compute(table, 2016)
        assert competing > censoring.estimate
    competing = PeriodIdentificationRate(delay_adjust=False).compute(table, 2018).estimate
    censoring = PeriodIdentificationRate(delay_adjust=False, closures="censoring")
    assert competing > censoring.compute(table, 2018).estimate


def test_delay_adjustment_moves_towards_truth(table, world) -> None:
    """In a world with a 365-day mean recording delay, the recent cohort's unadjusted share
    unidentified is too high (unrecorded identifications) and the adjusted one lands within
    its interval of the realised truth."""
    truth = true_value("cohort-unidentified-at", world.truth, 2022, horizon=365)
    adjusted = CohortUnidentifiedAt(365).compute(table, 2022)
    raw = CohortUnidentifiedAt(365, delay_adjust=False).compute(table, 2022)
    assert raw.estimate > adjusted.estimate
    assert abs(adjusted.estimate - truth) < abs(raw.estimate - truth)
    assert adjusted.covers(truth)
    stock_truth = true_value("stock-index", world.truth, 2022)
    stock = StockIndex().compute(table, 2022)
    census = StockIndex(delay_adjust=False).compute(table, 2022)
    assert census.estimate > stock_truth  # counts unrecorded identifications as unidentified
    assert stock.covers(stock_truth)
    assert census.lower == census.upper == census.estimate


def test_joint_covariance_of_overlapping_years(table) -> None:
    """Period rates of 2019 and 2022 share series: their estimates are positively correlated
    through the series frailty, so the joint-covariance SE of the change is below the
    independence one, and close to the series-bootstrap SE."""
    rate = PeriodIdentificationRate()
    est, se = log_ratio(table, rate, 2022, 2019)
    a, b = rate.compute(table, 2022), rate.compute(table, 2019)
    independent = float(np.hypot(a.se / a.estimate, b.se / b.estimate))
    assert est == pytest.approx(np.log(a.estimate / b.estimate), rel=1e-12)
    assert se < independent
    boot = indicator_series(table, rate, [2019, 2022], baseline=2019, method="bootstrap",
                            n_boot=200, seed=1)  # fmt: skip
    delta = indicator_series(table, rate, [2019, 2022], baseline=2019)
    row_b, row_d = boot.iloc[1], delta.iloc[1]
    width_b = np.log(row_b["index_upper"] / row_b["index_lower"])
    width_d = np.log(row_d["index_upper"] / row_d["index_lower"])
    assert width_d == pytest.approx(2 * 1.959964 * se, rel=1e-6)
    # 200 bootstrap replicates: the percentile width has ~10% Monte Carlo error
    assert width_d == pytest.approx(width_b, rel=0.3)


def test_cohort_changes_have_no_covariance(table) -> None:
    """Entry cohorts hold disjoint series (a series is first seen on one day), so the joint
    SE equals the independence SE."""
    d = CohortUnidentifiedAt(365)
    _, se = log_ratio(table, d, 2020, 2016)
    a, b = d.compute(table, 2020), d.compute(table, 2016)
    assert se == pytest.approx(float(np.hypot(a.se / a.estimate, b.se / b.estimate)), rel=1e-10)


def test_cluster_of_singletons_equals_independent(table) -> None:
    single = table.assign(series_id=table["victim_id"])
    a = CohortUnidentifiedAt(365).compute(single, 2016)
    b = CohortUnidentifiedAt(365, variance="independent").compute(table, 2016)
    assert a.se == pytest.approx(b.se, rel=1e-12)
    clustered = CohortUnidentifiedAt(365).compute(table, 2016)
    assert clustered.se > b.se  # series share a frailty: positive intra-cluster correlation


def test_bad_cluster_column_is_named(table) -> None:
    bad = table.copy()
    bad.loc[bad.index[4], "series_id"] = None
    with pytest.raises(IndicatorError, match=r"'series_id'.*row 5"):
        CohortUnidentifiedAt(365, delay_adjust=False).compute(bad, 2016)
    with pytest.raises(IndicatorError, match="series_id"):
        CohortUnidentifiedAt(365).compute(table.drop(columns="series_id"), 2016)
    with pytest.raises(IndicatorError, match="variance must be"):
        make_definition("stock-index", variance="sandwich")


def test_cards_state_estimand_and_variance() -> None:
    for definition in ALL:
        card = definition.card()
        assert "2.d Estimand" in card
        assert definition.metadata.estimand in card
        assert "4.c Variance (this series)" in card
        assert "Reporting delay (this series)" in card
    assert "NOT RECOMMENDED" in StockIndex().card()
    assert "(realised)" in StockIndex().card()
    assert "(process)" in CohortUnidentifiedAt().card()
