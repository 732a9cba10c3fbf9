"""idjourney.mse: input checking, error messages, invariants and share_identified."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from idjourney import mse
from idjourney.estimate import Estimate


def _patterns(counts: list[int]) -> pd.DataFrame:
    """Three lists A, B, C; counts for patterns 100, 010, 001, 110, 101, 011, 111."""
    rows = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (1, 0, 1), (0, 1, 1), (1, 1, 1)]
    frame = pd.DataFrame(rows, columns=["A", "B", "C"])
    frame["n"] = counts
    return frame


GOOD = _patterns([120, 90, 60, 30, 20, 15, 6])


# --- bad input: each error names what is wrong and where -------------------------------


def test_list_with_no_cases_is_named() -> None:
    data = GOOD.assign(CAID=0)
    with pytest.raises(mse.MSEDataError, match="list 'CAID' has no cases"):
        mse.estimate(data, counts="n")


def test_non_zero_one_value_names_column_and_row() -> None:
    data = GOOD.copy()
    data.loc[4, "B"] = 2
    with pytest.raises(mse.MSEDataError, match=r"list column 'B', row index 4: 2 is not 0 or 1"):
        mse.estimate(data, counts="n")


def test_text_and_missing_values_are_rejected() -> None:
    data = GOOD.astype({"C": object})
    data.loc[2, "C"] = "yes"
    with pytest.raises(mse.MSEDataError, match=r"list column 'C', row index 2: 'yes'"):
        mse.estimate(data, counts="n")
    data = GOOD.astype({"A": float})
    data.loc[5, "A"] = np.nan
    with pytest.raises(mse.MSEDataError, match=r"row index 5: a missing value is not 0 or 1"):
        mse.estimate(data, counts="n")


def test_negative_count_names_row() -> None:
    data = GOOD.copy()
    data.loc[3, "n"] = -4
    with pytest.raises(mse.MSEDataError, match=r"count column 'n', row index 3: count -4 is neg"):
        mse.estimate(data, counts="n")


def test_fractional_or_missing_count_names_row() -> None:
    data = GOOD.astype({"n": float})
    data.loc[1, "n"] = 2.5
    with pytest.raises(mse.MSEDataError, match=r"row index 1: count 2.5 is not a whole number"):
        mse.estimate(data, counts="n")
    data.loc[1, "n"] = np.nan
    with pytest.raises(mse.MSEDataError, match=r"row index 1: a missing value is not a number"):
        mse.estimate(data, counts="n")


def test_missing_count_column_and_too_few_lists() -> None:
    with pytest.raises(mse.MSEDataError, match="count column 'count' is not in"):
        mse.estimate(GOOD, counts="count")
    with pytest.raises(mse.MSEDataError, match="at least two lists"):
        mse.estimate(GOOD[["A", "n"]], counts="n")
    with pytest.raises(mse.MSEDataError, match="list column 'Z' is not in"):
        mse.estimate(GOOD, counts="n", lists=["A", "Z"])


def test_victim_on_no_list_is_rejected() -> None:
    data = pd.DataFrame({"A": [1, 0, 1, 0], "B": [0, 1, 1, 0]})
    with pytest.raises(mse.MSEDataError, match="row index 3 is on no list"):
        mse.estimate(data)
    # ... but an all-zero pattern with count 0 is harmless
    counted = data.assign(n=[10, 8, 4, 0])
    assert mse.estimate(counted, counts="n", selection="main").observed == 22


def test_non_existent_estimate_names_the_patterns() -> None:
    # Two lists with no victim in common: Lincoln–Petersen divides by zero, and the
    # Fienberg–Rinaldo check fails because pattern ICSE+NCMEC would need a zero fit.
    data = pd.DataFrame({"ICSE": [1, 0], "NCMEC": [0, 1], "n": [10, 5]})
    with pytest.raises(mse.MSENotEstimableError, match="does not exist") as info:
        mse.estimate(data, counts="n")
    message = str(info.value)
    assert "ICSE+NCMEC" in message
    assert "no victim in common: ICSE:NCMEC" in message


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="selection='lasso'"):
        mse.estimate(GOOD, counts="n", selection="lasso")
    with pytest.raises(ValueError, match="interval='wald'"):
        mse.estimate(GOOD, counts="n", interval="wald")
    with pytest.raises(ValueError, match=r"level=1\.5"):
        mse.estimate(GOOD, counts="n", level=1.5)
    with pytest.raises(mse.MSEDataError, match="DataFrame"):
        mse.estimate(GOOD.to_numpy(), counts="n")  # type: ignore[arg-type]


# --- the result ----------------------------------------------------------------------


def test_result_fields_summary_and_dict() -> None:
    result = mse.estimate(GOOD, counts="n")
    assert result.observed == int(GOOD["n"].sum())
    assert result.total == pytest.approx(result.observed + result.unobserved)
    assert result.lists == ("A", "B", "C")
    assert result.terms[:3] == ("A", "B", "C")
    assert result.lower <= result.total <= result.upper
    assert len(result.cells) == 7
    assert result.cells["fitted"].sum() == pytest.approx(result.observed, rel=1e-8)
    text = str(result)
    assert "total:" in text and "95% CI" in text and "stepwise" in text
    table = result.summary()
    assert table.index.tolist() == ["loglinear"]
    assert table.loc["loglinear", "total"] == result.total
    assert table.loc["loglinear", "observed"] == result.observed
    assert table.loc["loglinear", "interactions"] == ", ".join(result.interactions)
    as_dict = result.to_dict()
    assert as_dict["total"] == result.total and as_dict["lists"] == ["A", "B", "C"]
    with pytest.raises(AttributeError):
        result.total = 0  # type: ignore[misc]  # frozen


def test_level_widens_interval() -> None:
    narrow = mse.estimate(GOOD, counts="n", level=0.8, selection="main")
    wide = mse.estimate(GOOD, counts="n", level=0.99, selection="main")
    assert wide.lower < narrow.lower < narrow.total < narrow.upper < wide.upper


# --- invariants (hypothesis) ---------------------------------------------------------

cell_counts = st.lists(st.integers(min_value=1, max_value=400), min_size=7, max_size=7)


@settings(max_examples=25, deadline=None)
@given(counts=cell_counts)
def test_per_victim_rows_equal_pattern_counts(counts: list[int]) -> None:
    patterns = _patterns(counts)
    victims = patterns.loc[patterns.index.repeat(patterns["n"]), ["A", "B", "C"]]
    by_pattern = mse.estimate(patterns, counts="n", selection="main")
    by_victim = mse.estimate(victims.reset_index(drop=True), selection="main")
    assert by_victim.total == pytest.approx(by_pattern.total, rel=1e-9)
    assert by_victim.upper == pytest.approx(by_pattern.upper, rel=1e-7)


@settings(max_examples=25, deadline=None)
@given(counts=cell_counts, order=st.permutations(["A", "B", "C"]))
def test_list_order_does_not_matter(counts: list[int], order: list[str]) -> None:
    patterns = _patterns(counts)
    base = mse.estimate(patterns, counts="n", selection="main")
    shuffled = mse.estimate(patterns[[*order, "n"]], counts="n", selection="main")
    assert shuffled.total == pytest.approx(base.total, rel=1e-8)
    assert shuffled.lower == pytest.approx(base.lower, rel=1e-6)


@settings(max_examples=25, deadline=None)
@given(counts=cell_counts, factor=st.integers(min_value=2, max_value=5))
def test_scaling_counts_scales_the_dark_figure(counts: list[int], factor: int) -> None:
    # Log-linear MLEs are homogeneous: k times every count gives k times every fit.
    patterns = _patterns(counts)
    base = mse.estimate(patterns, counts="n", selection="main")
    scaled = mse.estimate(patterns.assign(n=patterns["n"] * factor), counts="n", selection="main")
    assert scaled.unobserved == pytest.approx(factor * base.unobserved, rel=1e-7)
    # more data, relatively narrower interval
    assert (scaled.upper - scaled.lower) / scaled.total < (base.upper - base.lower) / base.total


@settings(max_examples=15, deadline=None)
@given(counts=cell_counts, selection=st.sampled_from(["stepwise", "aic", "bic", "main"]))
@example(counts=[1, 1, 1, 1, 115, 148, 236], selection="stepwise")  # dark figure ~0.006
def test_estimate_is_ordered(counts: list[int], selection: str) -> None:
    result = mse.estimate(_patterns(counts), counts="n", selection=selection)
    assert result.observed <= result.lower <= result.total <= result.upper
    assert set(result.interactions) <= {"A:B", "A:C", "B:C"}


# --- share_identified ----------------------------------------------------------------


def test_share_identified_carries_the_mse_interval() -> None:
    result = mse.estimate(GOOD, counts="n", selection="main")
    share = mse.share_identified(150, result)
    assert isinstance(share, Estimate)
    assert share.estimate == pytest.approx(150 / result.total)
    assert share.lower == pytest.approx(150 / result.upper)
    assert share.upper == pytest.approx(150 / result.lower)
    assert share.lower < share.estimate < share.upper
    assert share.level == result.level
    assert share.events == 150 and share.n == result.observed
    assert share.se == pytest.approx(150 * result.se / result.total**2)


def test_share_identified_with_unbounded_total_and_bad_counts() -> None:
    result = mse.estimate(GOOD, counts="n", selection="main")
    unbounded = mse.MSEResult(
        total=result.total,
        unobserved=result.unobserved,
        lower=result.lower,
        upper=math.inf,
        terms=result.terms,
        observed=result.observed,
    )
    assert mse.share_identified(10, unbounded).lower == 0.0
    with pytest.raises(ValueError, match="more than the 341 victims observed"):
        mse.share_identified(400, result)
    with pytest.raises(ValueError, match="whole number >= 0"):
        mse.share_identified(-1, result)
    with pytest.raises(TypeError):
        mse.share_identified("12", result)  # type: ignore[arg-type]
