"""The typical journey (idjourney.summary, report.journey_by_group): delay-adjusted,
closures competing, cluster-robust — against the generator's truth."""

from __future__ import annotations

import numpy as np
import pytest

from idjourney.linkage import analysis_table
from idjourney.report import journey_by_group, km_figure
from idjourney.simstudy.headline import true_journey_median
from idjourney.summary import journey_summary, never_identified_text
from idjourney.synthetic import generate, load_scenario


@pytest.fixture(scope="module")
def world():
    scenario = load_scenario("baseline").replace(reporting_delay_mean_days=365)
    return generate(scenario, 8, 30_000)


@pytest.fixture(scope="module")
def table(world):
    return analysis_table(world.records, check=False)


def test_adjusted_median_covers_truth_and_unadjusted_is_late(world, table) -> None:
    truth = true_journey_median(world.truth)
    adjusted = journey_summary(table, never_identified=False)
    raw = journey_summary(table, delay_adjust=False, variance="independent",
                          never_identified=False)  # fmt: skip
    lo, hi = adjusted["median_days_to_identification_ci"]
    assert lo <= truth <= hi
    # with a year's mean recording delay the unadjusted median is far too late
    assert raw["median_days_to_identification"] > hi
    assert adjusted["method"]["delay_lag_days"] > 0
    # cluster-robust interval is wider than the per-victim one of the same curve
    ind = journey_summary(table, variance="independent", never_identified=False)
    w_cluster = hi - lo
    w_ind = np.subtract(*ind["median_days_to_identification_ci"][::-1])
    assert w_cluster > w_ind


def test_never_identified_share_is_reported_when_asked(table) -> None:
    assert "never_identified" not in journey_summary(table)  # not by default (model-based)
    s = journey_summary(table, never_identified=True)
    cure = s["never_identified"]
    assert 0 < cure["ci"][0] < cure["share"] < cure["ci"][1] < 1
    assert s["median_days_among_identified"] < s["median_days_to_identification"]
    assert "Never identified" in never_identified_text(s)


def test_group_table_and_figure_use_the_adjusted_curve(table) -> None:
    groups = journey_by_group(table, ["region"])
    assert {"median_days", "median_lower", "median_upper"} <= set(groups.columns)
    assert groups.attrs["method"]["variance"].startswith("cluster-robust")
    assert groups.attrs["method"]["strata"].startswith("standardised over the regions")
    shown = groups.loc[~groups["suppressed"]]
    assert (shown["median_lower"] <= shown["median_days"]).all()
    assert groups["victims"].sum() == len(table)  # correction rows are not victims
    fig = km_figure(table, "actively_traded")
    assert len(fig.axes[0].lines) == 2
