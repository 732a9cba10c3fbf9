"""Typed dates' year check on the int64 view (issue #19) against the year-by-year check.

A Parquet file's ``timestamp[ns]`` columns arrive as ``datetime64[ns]`` and are checked by
comparing their int64 nanoseconds with the first instants of 1900 and 2101; any other
datetime unit still takes each date's year. The same dates in both units must give the same
problems (rows, values, messages) and the same checked column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from idjourney.schema import _parse_dates, _Problems, _years_outside

EDGES = [
    "1899-12-31T23:59:59.999999",
    "1900-01-01T00:00:00",
    "1969-12-31",
    None,
    "2100-12-31T23:59:59.999999",
    "2101-01-01T00:00:00",
    "2024-02-29",
    "1700-06-01",  # inside nanoseconds' range (from 1677), outside the standard's years
]


def _checked(dates: pd.Series) -> tuple[pd.DataFrame, pd.Series]:
    df = pd.DataFrame({"identified_on": dates})
    problems = _Problems("records.parquet")
    _parse_dates(df, problems)
    return problems.frame(), df["identified_on"]


@pytest.mark.parametrize("unit", ["us", "ms", "s"])
def test_nanosecond_dates_get_the_problems_and_column_of_any_other_unit(unit) -> None:
    other = pd.Series(pd.to_datetime(EDGES, format="ISO8601")).astype(f"datetime64[{unit}]")
    ns = other.astype("datetime64[ns]")
    got_problems, got = _checked(ns)
    want_problems, want = _checked(other)
    assert list(got_problems["row"]) == [1, 6, 8]  # 1899, 2101 and 1700
    pd.testing.assert_frame_equal(got_problems, want_problems)
    pd.testing.assert_series_equal(got, want.astype("datetime64[ns]"), check_exact=True)
    assert got.dtype == np.dtype("datetime64[ns]")


def test_years_outside_is_the_year_comparison() -> None:
    rng = np.random.default_rng(19)
    ns = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, 20_000)
    ns[::50] = np.iinfo(np.int64).min  # NaT
    dates = ns.view("datetime64[ns]")
    years = pd.Series(dates).dt.year
    expected = ((years < 1900) | (years > 2100)).to_numpy(dtype=bool, na_value=False)
    np.testing.assert_array_equal(_years_outside(dates), expected)
    assert expected.any() and not expected.all()


def test_a_clean_nanosecond_column_is_left_as_read() -> None:
    dates = pd.Series(pd.to_datetime(["2010-01-02", None, "2020-12-31"])).astype("M8[ns]")
    problems, checked = _checked(dates)
    assert problems.empty
    pd.testing.assert_series_equal(checked, dates, check_names=False)
