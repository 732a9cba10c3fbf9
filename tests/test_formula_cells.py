"""The compiled formula/NUL cell check (:func:`idjourney._text.formula_and_nul_cells`)
against the regular expressions it replaces (pyarrow's RE2 through pandas' ``str``
methods), on Arrow-backed text of every layout: missing cells, several chunks, sliced
chunks, ``string`` and ``large_string`` offsets, multi-byte characters."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney import _text
from idjourney._text import formula_and_nul_cells, kernels
from idjourney.schema import _FORMULA_PATTERN

pytestmark = pytest.mark.skipif(kernels() is None, reason="numba is not usable here")


@pytest.fixture(autouse=True)
def _every_column_compiled(monkeypatch) -> None:
    """The compiled check for columns of any length (it leaves short ones to the regular
    expressions in use)."""
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 0)


#: the characters that decide the answer, and some that must not (multi-byte ones too)
_ALPHABET = [" ", "=", "+", "-", "@", "\t", "\r", "\n", "\x00", "a", "1", "é", "€", "😀"]

cells = st.lists(
    st.one_of(st.none(), st.text(alphabet=_ALPHABET, max_size=6)), min_size=0, max_size=40
)


def _regex_answers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    formula = series.str.contains(_FORMULA_PATTERN, regex=True)
    nul = series.str.contains("\x00", regex=False)
    return (
        formula.to_numpy(dtype=bool, na_value=False),
        nul.to_numpy(dtype=bool, na_value=False),
    )


def _series(chunks: list[pa.Array]) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=chunks[0].type)))


@settings(max_examples=200, deadline=None)
@given(
    values=cells,
    split=st.integers(0, 40),
    trim=st.integers(0, 3),
    large=st.booleans(),
)
def test_compiled_check_is_the_regular_expressions(
    values: list[str | None], split: int, trim: int, large: bool
) -> None:
    kind = pa.large_string() if large else pa.string()
    whole = pa.array(values, type=kind)
    split = min(split, len(values))
    # two chunks, the second a slice of a longer array (its offsets start inside the buffer)
    head = whole.slice(0, split)
    tail = pa.array(["=pad"] * trim + values[split:] + ["@pad"] * trim, type=kind)
    tail = tail.slice(trim, len(values) - split)
    series = _series([head, tail])
    got = formula_and_nul_cells(series)
    assert got is not None
    expected = _regex_answers(series)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_known_cells() -> None:
    """Hand-made cases, the answers worked out by hand from ``_FORMULA_PATTERN``."""
    values = ["=SUM(A1)", "  +1", "-", "@x", "\tx", "\rx", " \tx", "a=b", "", None, "é=", "x\x00"]
    formula = [True, True, True, True, True, True, False, False, False, False, False, False]
    nul = [False] * 11 + [True]
    series = pd.Series(values, dtype=pd.StringDtype("pyarrow"))
    got = formula_and_nul_cells(series)
    assert got is not None
    assert got[0].tolist() == formula
    assert got[1].tolist() == nul


def test_other_dtypes_are_left_to_the_regular_expressions() -> None:
    assert formula_and_nul_cells(pd.Series(["=a"], dtype="string")) is None
    assert formula_and_nul_cells(pd.Series(["=a"], dtype=object)) is None


def test_short_columns_are_left_to_the_regular_expressions(monkeypatch) -> None:
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 3)
    assert formula_and_nul_cells(pd.Series(["=a", "b"], dtype=pd.StringDtype("pyarrow"))) is None
    assert formula_and_nul_cells(pd.Series(["=a"] * 3, dtype=pd.StringDtype("pyarrow"))) is not None


def test_validation_finds_the_same_cells_either_way(tmp_path, monkeypatch) -> None:
    """A Parquet records file with formula and NUL cells: the compiled check and the
    regular expressions report the same problems (rows, columns, values) and parse the
    same table."""
    from idjourney.schema import validate

    good = pd.read_csv(Path(__file__).parent / "data" / "good" / "records_small.csv", dtype=str)
    good = pd.concat([good] * 4, ignore_index=True)
    good["victim_key"] = [f"V{i}" for i in range(len(good))]
    good.loc[1, "victim_key"] = "=V1"
    good.loc[2, "series_key"] = "  @S"
    good.loc[3, "link_key"] = "x\x00y"
    good.loc[4, "region"] = "\tEurope"
    path = tmp_path / "records.parquet"
    good.to_parquet(path)
    import idjourney.schema

    answered = []

    def spy(values: pd.Series):
        result = formula_and_nul_cells(values)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(idjourney.schema, "formula_and_nul_cells", spy)
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 0)
    compiled = validate(path)
    assert answered and all(answered)  # every text column by the compiled check
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 10**12)
    regex = validate(path)
    found = compiled.problems[compiled.problems["problem"].str.contains("formula|NUL")]
    assert set(zip(found["row"], found["column"], strict=True)) == {
        (2, "victim_key"),
        (3, "series_key"),
        (4, "link_key"),
        (5, "region"),
    }
    pd.testing.assert_frame_equal(compiled.problems, regex.problems)
    pd.testing.assert_frame_equal(compiled.data, regex.data)
