"""Revision triangles: values as computed at successive extract dates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from _indicator_world import make_world
from idjourney.indicator import (
    CohortUnidentifiedAt,
    IndicatorError,
    PeriodIdentificationRate,
    StockIndex,
    as_of,
    revision_triangle,
)


@pytest.fixture(scope="module")
def world():
    # mean reporting delay 120 days, so that revisions are visible
    return make_world(20_000, seed=21, delay_mean=120.0)


def test_stock_only_revised_downwards(world) -> None:
    """Later extracts know more of the identifications made before 31 Dec, so the stock
    can only fall with the lag (an exact invariant of the as-of rule for the unadjusted
    census; the delay-adjusted stock estimates the unrecorded ones and moves both ways)."""
    stock = StockIndex(delay_adjust=False)
    tri = revision_triangle(world.table, stock, range(2012, 2022), range(0, 4))
    for year, rows in tri.groupby("year"):
        est = rows.sort_values("lag")["estimate"].to_numpy()
        assert np.all(np.diff(est) <= 0), (year, est)
        assert est[0] > est[-1], year  # a 120-day delay always revises lag 0
    assert (tri["revision"] <= 0).all()


def test_period_rate_only_revised_upwards(world) -> None:
    rate = PeriodIdentificationRate(delay_adjust=False)  # the unadjusted invariant
    tri = revision_triangle(world.table, rate, range(2012, 2022), range(0, 4))
    for year, rows in tri.groupby("year"):
        est = rows.sort_values("lag")["estimate"].to_numpy()
        assert np.all(np.diff(est) >= -1e-12), (year, est)


def test_cells_match_as_of_and_omissions_listed(world) -> None:
    # the adjusted series loses lag 1: its follow-up ends the delay lag before the extract
    adjusted = revision_triangle(world.table, CohortUnidentifiedAt(365), [2018], [1, 2])
    assert set(adjusted["lag"]) == {2}
    assert "reporting-delay lag" in adjusted.attrs["omitted"][0][2]
    d = CohortUnidentifiedAt(365, delay_adjust=False)
    tri = revision_triangle(world.table, d, [2018, 2020, 2022], [0, 1, 2, 3])
    # lag 0: a cohort has no complete 365 days of follow-up at the end of its own year
    assert not (tri["lag"] == 0).any()
    assert set(tri.loc[tri["year"] == 2018, "lag"]) == {1, 2, 3}
    reasons = {(y, lag): why for y, lag, why in tri.attrs["omitted"]}
    assert "follow-up" in reasons[(2018, 0)]
    assert "after" in reasons[(2022, 2)]  # extract 2025 > table extract 2024-06-30
    cell = tri.loc[(tri["year"] == 2018) & (tri["lag"] == 2)].iloc[0]
    when = pd.Timestamp("2021-01-01")
    assert cell["extract_date"] == when
    direct = d.compute(as_of(world.table, when), 2018)
    assert cell["estimate"] == pytest.approx(direct.estimate, rel=1e-12)
    assert cell["revision"] == pytest.approx(
        100 * (cell["estimate"] / tri.loc[tri["year"] == 2018, "estimate"].iloc[0] - 1)
    )


def test_revision_bad_input(world) -> None:
    with pytest.raises(IndicatorError, match="lags must be >= 0"):
        revision_triangle(world.table, StockIndex(), [2015], [-1])
    with pytest.raises(IndicatorError, match="no cell"):
        revision_triangle(world.table, StockIndex(), [2030], [0])
    with pytest.raises(IndicatorError, match="Did you mean"):
        revision_triangle(world.table, "stok-index", [2015], [1])
