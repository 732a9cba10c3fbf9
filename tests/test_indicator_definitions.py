"""Indicator definitions: truth recovery, shared interface, metadata cards, bad input.

Data: the numpy simulator in tests/_indicator_world.py (exact finite-population
truths from the true identification times, free of censoring, truncation and
reporting delay).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _indicator_world import FAST, make_world
from idjourney.estimate import Estimate
from idjourney.indicator import (
    DEFINITIONS,
    CohortUnidentifiedAt,
    IndicatorError,
    MedianTimeToIdentification,
    PeriodIdentificationRate,
    RMSTUnidentified,
    StockIndex,
    as_of,
    get_definition,
    make_definition,
)


@pytest.fixture(scope="module")
def world():
    return make_world(20_000, seed=11)


COHORT_YEARS = range(2009, 2021)


def _truth(world, definition, year: int) -> float:
    if isinstance(definition, CohortUnidentifiedAt):
        return world.true_unidentified_at(year, definition.horizon)
    if isinstance(definition, RMSTUnidentified):
        return world.true_rmst(year, definition.tau)
    if isinstance(definition, MedianTimeToIdentification):
        return world.true_median(year)
    if isinstance(definition, StockIndex):
        return world.true_stock(year)
    return world.true_period_rate(year)


ALL = [
    CohortUnidentifiedAt(365),
    MedianTimeToIdentification(),
    RMSTUnidentified(730),
    StockIndex(),
    PeriodIdentificationRate(),
]


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.name)
def test_lands_within_ci_of_truth(world, definition) -> None:
    """Every definition covers the generator's true value in the baseline year (2015),
    and in at least 80% of the years 2009–2020 (95% intervals: a failure rate above 20%
    over 12 years has probability < 1% if the intervals are valid; cohort years are
    independent, calendar years are not, which only makes the check looser)."""
    base = definition.compute(world.table, 2015)
    assert isinstance(base, Estimate)
    assert base.covers(_truth(world, definition, 2015)), (base, _truth(world, definition, 2015))
    covered = [
        definition.compute(world.table, y).covers(_truth(world, definition, y))
        for y in COHORT_YEARS
    ]
    assert np.mean(covered) >= 0.8, covered


def test_cohort_truth_matches_generator_formula(world) -> None:
    # Superpopulation check of the simulator itself: S(365) = cure + (1-cure) exp(-(h/scale)^k)
    # (FAST: cure 0.25, shape 0.9, scale 300 -> 0.25 + 0.75 * exp(-(365/300)^0.9) = 0.4775).
    pooled = np.mean([world.true_unidentified_at(y, 365) for y in COHORT_YEARS])
    assert pooled == pytest.approx(FAST.survival(365), abs=0.01)
    assert FAST.survival(365) == pytest.approx(0.4775, abs=5e-4)


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.name)
def test_estimate_fields_filled(world, definition) -> None:
    est = definition.compute(world.table, 2016)
    assert est.lower <= est.estimate <= est.upper
    assert est.n is not None and est.n > 0
    assert est.n_at_risk is not None and est.n_at_risk > 0
    assert est.events is not None and est.events > 0
    assert est.followup_days is not None and est.followup_days >= 0
    assert str(2016) in est.label


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.name)
def test_unit_weight_replicates_equal_estimate(world, definition) -> None:
    # The vectorised bootstrap path agrees with compute() when every weight is 1.
    prepared = definition.prepare(world.table)
    w = np.ones((len(prepared), 2))
    reps = definition.replicates(prepared, 2015, w)
    est = definition.compute(world.table, 2015).estimate
    np.testing.assert_allclose(reps, est, rtol=1e-10)


@pytest.mark.parametrize("definition", ALL, ids=lambda d: d.name)
def test_as_of_own_extract_date_is_identity(world, definition) -> None:
    # Recomputing the table at its own extract date changes nothing.
    extract = world.table["extract_date"].max()
    a = definition.compute(world.table, 2014)
    b = definition.compute(world.table, 2014, extract_date=extract)
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)


def test_as_of_respects_reporting_delay(world) -> None:
    when = pd.Timestamp("2016-12-31")
    t = world.table
    past = as_of(t, when)
    assert (past["first_seen"] <= when).all()
    assert (past.loc[past["event"] == 1, "identification_recorded_on"] <= when).all()
    # an identification made before E but recorded after E is not known at E
    late = t["identified_on"].le(when) & t["identification_recorded_on"].gt(when)
    assert late.any()
    assert (past.loc[past["victim_id"].isin(t.loc[late, "victim_id"]), "event"] == 0).all()
    assert (past["duration"] > past["entry"]).all()


def test_stock_counts_by_hand() -> None:
    day = pd.Timestamp
    table = pd.DataFrame(
        {
            "first_seen": [day("2014-03-01")] * 4,
            "at_risk_from": [
                day("2014-03-01"),
                day("2014-03-01"),
                day("2016-02-01"),
                day("2014-03-01"),
            ],
            "identified_on": [day("2015-06-01"), day("2016-06-01"), pd.NaT, pd.NaT],
            "identification_recorded_on": [day("2015-07-01"), day("2016-07-01"), pd.NaT, pd.NaT],
            "extract_date": day("2018-01-01"),
            "event": [1, 1, 0, 0],
            "entry_year": 2014,
        }
    )
    table["duration"] = (
        table["identified_on"].fillna(day("2018-01-01")) - table["first_seen"]
    ) / np.timedelta64(1, "D")
    table["entry"] = (table["at_risk_from"] - table["first_seen"]) / np.timedelta64(1, "D")
    # End of 2015: victims 2 and 4 unidentified and in the database; 3 not yet in it.
    census = {"delay_adjust": False, "variance": "independent"}
    est = StockIndex(**census).compute(table, 2015)
    assert est.estimate == 2
    # a census without the delay adjustment: no sampling interval (issue #12)
    assert (est.se, est.lower, est.upper) == (0.0, 2.0, 2.0)
    # 2016: identifications in 2016 = 1 (victim 2); victim-years: v2 152/365.25,
    # v3 (2016-02-01 to 2017-01-01) 335/365.25, v4 366/365.25
    rate = PeriodIdentificationRate(**census).compute(table, 2016)
    assert rate.events == 1
    assert rate.estimate == pytest.approx(1 / ((152 + 335 + 366) / 365.25), rel=1e-12)


# --------------------------------------------------------------------- interface and cards


def test_registry_names_and_cards() -> None:
    assert list(DEFINITIONS) == [
        "stock-index",
        "cohort-unidentified-at",
        "median-time-to-identification",
        "rmst-unidentified",
        "period-identification-rate",
        "new-victims",
    ]
    for name, cls in DEFINITIONS.items():
        card = make_definition(name).card()
        for section in (
            "# Metadata card",
            "## 0. Indicator information",
            "## 2. Definition, concepts and classifications",
            "2.b Unit of measure",
            "4.c Method of computation",
            "4.b Comment and limitations",
            "## 5. Data availability and disaggregation",
            "## 7. References and documentation",
        ):
            assert section in card, (name, section)
        assert f"`{name}`" in card
        assert cls.metadata.revision_policy in card
        assert cls.metadata.definition in card


def test_unknown_name_suggests_closest() -> None:
    with pytest.raises(IndicatorError, match="Did you mean 'cohort-unidentified-at'"):
        get_definition("cohort-unidentifed-at")
    assert get_definition("StockIndex") is StockIndex
    with pytest.raises(IndicatorError, match="does not take horizon"):
        make_definition("stock-index", horizon=365)


def test_bad_inputs(world) -> None:
    with pytest.raises(IndicatorError, match="no victims first seen in 1999"):
        CohortUnidentifiedAt(365).compute(world.table, 1999)
    with pytest.raises(IndicatorError, match="longer than the follow-up available"):
        CohortUnidentifiedAt(3000).compute(world.table, 2022)
    with pytest.raises(IndicatorError, match="tau = 5000"):
        RMSTUnidentified(5000).compute(world.table, 2020)
    with pytest.raises(IndicatorError, match="outside the data"):
        StockIndex().compute(world.table, 2024)
    with pytest.raises(IndicatorError, match="positive"):
        CohortUnidentifiedAt(-1)
    with pytest.raises(IndicatorError, match="after the table's extract date"):
        StockIndex().compute(world.table, 2015, extract_date="2030-01-01")
    with pytest.raises(IndicatorError, match="entry_year"):
        StockIndex().compute(world.table.drop(columns="entry_year"), 2015)
    no_dates = world.table.assign(at_risk_from=pd.NaT)
    with pytest.raises(IndicatorError, match="the table has no victims"):
        StockIndex().compute(no_dates, 2015)  # rows without a date are not at risk
    with pytest.raises(IndicatorError, match="column 'at_risk_from' is empty"):
        StockIndex()._check_year(no_dates, 2015)


def test_median_not_reached_is_a_lower_bound_not_an_error() -> None:
    from _indicator_world import Process

    w = make_world(3000, seed=2, process=Process(cure=0.7, shape=1.0, scale=200.0))
    est = MedianTimeToIdentification().compute(w.table, 2015)
    assert est.extra["not_reached"] is True
    assert np.isnan(est.estimate) and np.isnan(est.se)
    assert 0 < est.lower < np.inf and est.upper == np.inf
    assert est.extra["note"].startswith("not reached: the median exceeds")


def test_a_cohort_nobody_was_at_risk_in_is_undefined_not_one(world) -> None:
    # issue #17: a cohort whose victims all entered the database after day 365 (left
    # truncation) printed S(365) = 1 with interval [1, 1]; it says nothing about day 365
    table = world.table.copy()
    late = (table["entry_year"] == 2015) & (table["duration"] > 500)
    table = table.loc[(table["entry_year"] != 2015) | late].copy()
    cohort = table["entry_year"] == 2015
    table.loc[cohort, "entry"] = 400.0
    table.loc[cohort, "at_risk_from"] = table.loc[cohort, "first_seen"] + pd.Timedelta(days=400)
    with pytest.raises(
        IndicatorError, match="nobody in the 2015 cohort was at risk before day 365"
    ):
        CohortUnidentifiedAt(365).compute(table, 2015)
    with pytest.raises(IndicatorError, match="at risk before day 365"):
        RMSTUnidentified(365).compute(table, 2015)
    # past the first entry the value is estimable again (conditional on the late entries)
    assert 0 < CohortUnidentifiedAt(450).compute(table, 2015).estimate <= 1
