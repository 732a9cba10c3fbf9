"""``reports_count`` held as signed integers is checked as integers
(``schema._parse_counts``), with the answers of the float64 rule it replaced: a count
beyond ``MAX_COUNT`` either way is reported as too large and left missing, every other
value kept as it is, a missing one stays missing."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.schema import MAX_COUNT, _parse_counts, _Problems

edges = [0, 1, -1, MAX_COUNT, MAX_COUNT + 1, -MAX_COUNT, -MAX_COUNT - 1, 2**63 - 1, -(2**63)]
counts = st.one_of(st.sampled_from(edges), st.integers(-(2**63), 2**63 - 1), st.integers(0, 20))


def _float_rule(values: pd.Series) -> tuple[pd.Series, list[int]]:
    """The rule as it was: through float64 (exact for every count within MAX_COUNT)."""
    numbers = values.astype("float64")
    big = (numbers.abs() > MAX_COUNT).to_numpy(dtype=bool, na_value=False)
    return numbers.where(~big).round().astype("Int64"), (np.flatnonzero(big) + 1).tolist()


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(counts, st.none()), max_size=30), nullable=st.booleans())
def test_integer_counts_get_the_float_rule_answers(
    values: list[int | None], nullable: bool
) -> None:
    if nullable:
        column = pd.Series(values, dtype="Int64")
    else:
        column = pd.Series([0 if v is None else v for v in values], dtype="int64")
    df = pd.DataFrame({"reports_count": column})
    problems = _Problems("<test>")
    _parse_counts(df, problems)
    expected, rows = _float_rule(column)
    pd.testing.assert_series_equal(df["reports_count"], expected, check_names=False)
    assert [r["row"] for r in problems.rows] == rows
    assert all(r["problem"] == "count too large" for r in problems.rows)


def test_known_counts() -> None:
    df = pd.DataFrame(
        {"reports_count": np.array([3, MAX_COUNT + 1, -5, 2**63 - 1], dtype=np.int64)}
    )
    problems = _Problems("<test>")
    _parse_counts(df, problems)
    assert df["reports_count"].tolist()[0] == 3 and df["reports_count"].tolist()[2] == -5
    assert df["reports_count"].isna().tolist() == [False, True, False, True]
    assert [r["row"] for r in problems.rows] == [2, 4]
