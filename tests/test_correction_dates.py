"""The delay correction's rewritten columns in one compiled pass
(:func:`idjourney.survival._days_kernel.correction_columns`) against the NumPy expressions
they replace (``delay._numpy_correction_columns``), value for value, and the corrected
table the same either way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import idjourney.survival.delay as delay_module
from idjourney.survival._days_kernel import (
    CORRECTION_COLUMNS,
    _columns_kernel,
    correction_columns,
)
from idjourney.survival.delay import _numpy_correction_columns, delay_adjusted

pytestmark = pytest.mark.skipif(_columns_kernel() is None, reason="numba is not usable here")

NAT = np.datetime64("NaT", "ns")
DAY_NS = 86_400 * 10**9

#: days around a cutoff (NaT among them; few, so that dates often tie with the cutoff)
days = st.one_of(st.none(), st.integers(-6, 6))


def _dates(values: list[int | None]) -> np.ndarray:
    base = np.datetime64("2020-01-01", "ns")
    return np.array(
        [NAT if v is None else base + np.timedelta64(v * DAY_NS, "ns") for v in values],
        dtype="datetime64[ns]",
    )


@settings(max_examples=300, deadline=None)
@given(
    table=st.lists(st.tuples(days, days, days, days, days, days), min_size=1, max_size=30),
    picks=st.lists(st.integers(0, 10**6), max_size=40),
    n_real=st.integers(0, 40),
    lag=st.integers(0, 4),
    with_closed=st.booleans(),
    events=st.lists(st.booleans(), min_size=40, max_size=40),
    wanted=st.sets(st.sampled_from(CORRECTION_COLUMNS)),
)
def test_the_compiled_columns_are_numpys(
    table, picks, n_real, lag, with_closed, events, wanted
) -> None:
    columns = [_dates(list(c)) for c in zip(*table, strict=True)]
    names = ("identified_on", "identification_recorded_on", "extract_date", "closed_on")
    dates = dict(zip((*names, "first_seen", "at_risk_from"), columns, strict=True))
    if not with_closed:
        dates["closed_on"] = None
    rows = np.array([p % len(table) for p in picks], dtype=np.int64)
    n_real = min(n_real, rows.size)
    ghost = np.arange(rows.size) >= n_real
    event = np.array(events[: rows.size], dtype=bool) & ~ghost
    step = np.timedelta64(lag * DAY_NS, "ns")
    got = correction_columns(dates, rows, n_real, step, event, wanted)
    assert got is not None
    expected = _numpy_correction_columns(dates, rows, ghost, step, event, wanted)
    assert list(got) == [name for name in CORRECTION_COLUMNS if name in wanted]
    assert set(expected) == set(got)
    for name, values in got.items():
        assert values.dtype == expected[name].dtype, name
        if values.dtype.kind == "f":  # NaN where NaN, the same bits elsewhere
            np.testing.assert_array_equal(values.view(np.int64), expected[name].view(np.int64))
        else:
            np.testing.assert_array_equal(values, expected[name])


def test_other_dtypes_are_left_to_numpy() -> None:
    dates = _dates([1, 2])
    given = {
        "identified_on": dates.astype("datetime64[s]"),
        "identification_recorded_on": dates,
        "extract_date": dates,
        "closed_on": None,
        "first_seen": dates,
        "at_risk_from": dates,
    }
    step = np.timedelta64(0, "ns")
    event = np.zeros(2, dtype=bool)
    assert correction_columns(given, np.arange(2), 2, step, event, {"duration"}) is None


@pytest.mark.parametrize("columns", [None, ("entry", "duration", "event", "outcome", "weight")])
def test_the_corrected_table_is_the_same_either_way(monkeypatch, columns) -> None:
    """A synthetic analysis table through ``delay_adjusted`` with the compiled columns and
    with NumPy's: the same frame, column for column (all columns, and the journey's)."""
    from idjourney.linkage import analysis_table
    from idjourney.synthetic import generate, load_scenario

    table = analysis_table(generate(load_scenario("baseline"), 7, 4_000).records, check=False)
    compiled = delay_adjusted(table, columns=columns)
    monkeypatch.setattr(delay_module, "correction_columns", lambda *args: None)
    numpy = delay_adjusted(table, columns=columns)
    pd.testing.assert_frame_equal(compiled, numpy)
    assert compiled.attrs == numpy.attrs
    assert (compiled["weight"] < 0).any()  # correction rows were made


def test_hand_worked_rows() -> None:
    """One victim (identified on day 2, recorded on day 3, closed on day 1, extract day 5,
    lag 1: cutoff day 4) and a second never identified but closed on day 1; the first is
    copied as a correction row. Worked by hand from the rules in ``correction_columns``."""
    dates = {
        "identified_on": _dates([2, None]),
        "identification_recorded_on": _dates([3, None]),
        "extract_date": _dates([5, 5]),
        "closed_on": _dates([1, 1]),
        "first_seen": _dates([0, 0]),
        "at_risk_from": _dates([0, 1]),
    }
    rows = np.array([0, 1, 0])  # the last: victim 0's correction row
    event = np.array([True, False, False])
    got = correction_columns(
        dates, rows, 2, np.timedelta64(DAY_NS, "ns"), event, CORRECTION_COLUMNS
    )
    assert got["identified_on"].tolist() == _dates([2, None, None]).tolist()
    assert got["identification_recorded_on"].tolist() == _dates([3, None, None]).tolist()
    # a kept identification rules the closure out; the never-identified victim's stays, and
    # the correction row's too (its victim's identification was kept), but not its outcome
    assert got["closed_on"].tolist() == _dates([None, 1, None]).tolist()
    assert got["outcome"].tolist() == [1, 2, 0]
    assert got["duration"].tolist() == [2.0, 1.0, 4.0]
    assert got["entry"].tolist() == [0.0, 1.0, 0.0]
    assert got["extract_date"].tolist() == _dates([4, 4, 4]).tolist()
    np.testing.assert_array_equal(got["delay_days"], [1.0, np.nan, np.nan])
    np.testing.assert_array_equal(got["delay_bound_days"], [3.0, np.nan, np.nan])


def test_a_correction_row_never_has_a_closure_outcome() -> None:
    """A correction row (from ``n_real`` on) whose closure is kept still has outcome 0, as
    NumPy's ``select`` gives it (never so in a real table, where a correction row copies an
    identified victim; the kernel follows the expressions on any input)."""
    dates = {
        "identified_on": _dates([None]),
        "identification_recorded_on": _dates([None]),
        "extract_date": _dates([5]),
        "closed_on": _dates([1]),
        "first_seen": _dates([0]),
        "at_risk_from": _dates([0]),
    }
    rows, event, step = np.array([0, 0]), np.zeros(2, dtype=bool), np.timedelta64(0, "ns")
    got = correction_columns(dates, rows, 1, step, event, {"outcome"})
    ghost = np.array([False, True])
    expected = _numpy_correction_columns(dates, rows, ghost, step, event, {"outcome"})
    assert got["outcome"].tolist() == expected["outcome"].tolist() == [2, 0]
