"""Validation's duplicate-key check by a radix sort
(:func:`idjourney._text.duplicated_text_pairs`) against what it replaces: pandas'
``DataFrame.duplicated(keep=False)``, which pandera's ``unique=`` check runs, and the
problems pandera's check reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney import _text
from idjourney._text import duplicated_text_pairs, kernels

pytestmark = pytest.mark.skipif(kernels() is None, reason="numba is not usable here")


@pytest.fixture(autouse=True)
def _every_column_compiled(monkeypatch) -> None:
    """The radix sort for columns of any length (it leaves short ones to pandas)."""
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 0)


#: short keys over a few characters (many repeats), prefixes of one another, multi-byte
keys = st.text(alphabet=["a", "b", "é", "😀", "-", "0"], max_size=4)


def _arrow_series(values: list[str], split: int) -> pd.Series:
    split = min(split, len(values))
    chunks = [pa.array(values[:split], pa.string()), pa.array(values[split:], pa.string())]
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.tuples(keys, st.sampled_from(["icse", "caid", "ncmec"])), max_size=60),
    split=st.integers(0, 60),
)
def test_the_radix_sort_finds_what_pandas_finds(rows: list[tuple[str, str]], split: int) -> None:
    key = _arrow_series([k for k, _ in rows], split)
    db = _arrow_series([d for _, d in rows], split // 2)
    got = duplicated_text_pairs(key, db)
    assert got is not None
    expected = pd.DataFrame({"db": db, "key": key}).duplicated(keep=False).to_numpy()
    np.testing.assert_array_equal(got, expected)


def test_known_pairs() -> None:
    arrow = pd.StringDtype("pyarrow")
    key = pd.Series(["V1", "V2", "V1", "V1", "V10", "V"], dtype=arrow)
    db = pd.Series(["icse", "icse", "caid", "icse", "icse", "icse"], dtype=arrow)
    assert duplicated_text_pairs(key, db).tolist() == [True, False, False, True, False, False]
    distinct = pd.Series(["a", "b", "c"], dtype=arrow)
    assert duplicated_text_pairs(distinct, distinct).tolist() == [False, False, False]


def test_missing_values_nul_short_columns_and_other_dtypes_go_to_pandas(monkeypatch) -> None:
    arrow = pd.StringDtype("pyarrow")
    db = pd.Series(["icse"] * 3, dtype=arrow)
    assert duplicated_text_pairs(pd.Series(["a", None, "a"], dtype=arrow), db) is None
    assert (
        duplicated_text_pairs(pd.Series(["a", "b", "c"], dtype=arrow), db.where(db != ""))
        is not None
    )
    assert duplicated_text_pairs(pd.Series(["a", "a\x00", "a"], dtype=arrow), db) is None
    assert duplicated_text_pairs(pd.Series(["a", "b", "a"], dtype=object), db) is None
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 4)
    assert duplicated_text_pairs(pd.Series(["a", "b", "a"], dtype=arrow), db) is None


def test_validation_reports_the_same_duplicates_either_way(tmp_path, monkeypatch) -> None:
    """A Parquet records file with duplicated keys (one also a formula cell, one repeated
    in another database, which is allowed): the radix check and pandera's report the same
    problems, rows and values, and give the same parsed table."""
    import idjourney.schema
    from idjourney.schema import validate

    good = pd.read_csv(Path(__file__).parent / "data" / "good" / "records_small.csv", dtype=str)
    good = pd.concat([good] * 4, ignore_index=True)
    good["victim_key"] = [f"V{i}" for i in range(len(good))]
    good.loc[5, ["source_db", "victim_key"]] = good.loc[2, ["source_db", "victim_key"]].values
    good.loc[[7, 9], "victim_key"] = "=V7"  # a formula, twice
    good.loc[9, "source_db"] = good.loc[7, "source_db"]
    other = "icse" if good.loc[11, "source_db"] != "icse" else "caid"
    good.loc[12, ["source_db", "victim_key"]] = [other, good.loc[11, "victim_key"]]
    path = tmp_path / "records.parquet"
    good.to_parquet(path)

    answered = []

    def spy(values: pd.Series, by: pd.Series):
        result = duplicated_text_pairs(values, by)
        answered.append(result is not None)
        return result

    monkeypatch.setattr(idjourney.schema, "duplicated_text_pairs", spy)
    radix = validate(path)
    assert answered == [True]
    monkeypatch.setattr(idjourney.schema, "duplicated_text_pairs", lambda values, by: None)
    pandera = validate(path)
    pd.testing.assert_frame_equal(radix.problems, pandera.problems)
    pd.testing.assert_frame_equal(radix.data, pandera.data)
    found = radix.problems[radix.problems["problem"].str.startswith("duplicate")]
    assert found["row"].tolist() == [3, 6, 8, 10]
    assert found["value"].tolist() == [good.loc[2, "victim_key"]] * 2 + ["=V7"] * 2
