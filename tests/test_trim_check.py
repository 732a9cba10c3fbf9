"""The compiled "could stripping change anything?" check
(:func:`idjourney._text.may_trim_or_blank`) that lets validation skip stripping and
blanking clean text columns, against what ``.str.strip()`` and the mask of empty cells
actually do, on Arrow-backed text of every layout (missing cells, several chunks, sliced
chunks, ``string`` and ``large_string`` offsets, multi-byte white space)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney import _text
from idjourney._text import kernels, may_trim_or_blank

pytestmark = pytest.mark.skipif(kernels() is None, reason="numba is not usable here")


@pytest.fixture(autouse=True)
def _every_column_compiled(monkeypatch) -> None:
    """The compiled check for columns of any length (it leaves short ones alone)."""
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 0)


#: white space of one and several bytes (U+0085, U+00A0, U+2003, U+3000, the ASCII
#: separators 0x1c-0x1f that Python's strip removes), characters that are not, and
#: multi-byte ones that are not white space
_ALPHABET = [" ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2003", "\u3000", "a", "Z"]
_ALPHABET += ["1", "-", "é", "€", "😀", "\x7f"]

cells = st.lists(
    st.one_of(st.none(), st.text(alphabet=_ALPHABET, max_size=5)), min_size=0, max_size=40
)


def _series(chunks: list[pa.Array]) -> pd.Series:
    return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks, type=chunks[0].type)))


def _stripped_and_blanked(series: pd.Series) -> pd.Series:
    """What validation does to a text column that the check does not clear."""
    text = series.str.strip()
    return text.mask(text == "")


@settings(max_examples=300, deadline=None)
@given(values=cells, split=st.integers(0, 40), pad=st.integers(0, 3), large=st.booleans())
def test_a_cleared_column_is_unchanged_by_strip_and_mask(
    values: list[str | None], split: int, pad: int, large: bool
) -> None:
    kind = pa.large_string() if large else pa.string()
    split = min(split, len(values))
    head = pa.array(values[:split], type=kind)
    # the second chunk a slice of a longer array whose padding would fail the check
    tail = pa.array([" pad"] * pad + values[split:] + [""] * pad, type=kind)
    tail = tail.slice(pad, len(values) - split)
    series = _series([head, tail])
    answer = may_trim_or_blank(series)
    assert answer is not None
    changed = not _stripped_and_blanked(series).equals(series)
    if changed:  # never cleared when the strip or the mask would change a cell
        assert answer is True
    present = [v for v in values if v is not None]
    # and cleared exactly when every present cell is non-empty and starts and ends with
    # an ASCII character above the space (the check's conservative rule)
    clean = all(v and " " < v[0] < "\x80" and " " < v[-1] < "\x80" for v in present)
    assert answer is (not clean)


def test_known_columns() -> None:
    arrow = pd.StringDtype("pyarrow")
    assert may_trim_or_blank(pd.Series(["A1", "b", None, "x y"], dtype=arrow)) is False
    assert may_trim_or_blank(pd.Series(["A1", " b"], dtype=arrow)) is True
    assert may_trim_or_blank(pd.Series(["A1", "b\n"], dtype=arrow)) is True
    assert may_trim_or_blank(pd.Series(["A1", ""], dtype=arrow)) is True
    assert may_trim_or_blank(pd.Series(["A1", "b\u3000"], dtype=arrow)) is True
    assert may_trim_or_blank(pd.Series(["é"], dtype=arrow)) is True  # conservative
    assert may_trim_or_blank(pd.Series([None, None], dtype=arrow)) is False


def test_other_dtypes_and_short_columns_are_left_alone(monkeypatch) -> None:
    assert may_trim_or_blank(pd.Series(["a"], dtype="string")) is None
    assert may_trim_or_blank(pd.Series(["a"], dtype=object)) is None
    monkeypatch.setattr(_text, "_COMPILED_CHECK_MIN_CELLS", 3)
    assert may_trim_or_blank(pd.Series(["a", "b"], dtype=pd.StringDtype("pyarrow"))) is None
    assert may_trim_or_blank(pd.Series(["a"] * 3, dtype=pd.StringDtype("pyarrow"))) is False


def test_validation_gives_the_same_table_either_way(tmp_path, monkeypatch) -> None:
    """A Parquet records file with padded, blank and clean text columns: validation with
    the check (clean columns not stripped) and without it reports the same problems and
    parses the same table, and the check cleared the clean columns."""
    import idjourney.schema
    from idjourney.schema import validate

    good = pd.read_csv(Path(__file__).parent / "data" / "good" / "records_small.csv", dtype=str)
    good = pd.concat([good] * 4, ignore_index=True)
    good["victim_key"] = [f"V{i}" for i in range(len(good))]
    good.loc[1, "series_key"] = "  S-padded "
    good.loc[2, "link_key"] = "   "  # blank: becomes missing
    good.loc[3, "jurisdiction"] = good.loc[3, "jurisdiction"] + "\u00a0"
    path = tmp_path / "records.parquet"
    good.to_parquet(path)

    answers: dict[str, bool | None] = {}

    def spy(values: pd.Series):
        answers[str(values.name)] = result = may_trim_or_blank(values)
        return result

    monkeypatch.setattr(idjourney.schema, "may_trim_or_blank", spy)
    checked = validate(path)
    assert answers["victim_key"] is False and answers["source_db"] is False
    assert answers["series_key"] is True and answers["link_key"] is True
    assert answers["jurisdiction"] is True
    monkeypatch.setattr(idjourney.schema, "may_trim_or_blank", lambda values: None)
    stripped = validate(path)
    pd.testing.assert_frame_equal(checked.problems, stripped.problems)
    pd.testing.assert_frame_equal(checked.data, stripped.data)
    assert checked.data.loc[1, "series_key"] == "S-padded"
    assert pd.isna(checked.data.loc[2, "link_key"])
