"""Linkage's key factorization (issue #19) against pandas' own sorted factorize.

``factorize_keys`` sorts the distinct keys with pyarrow instead of Python; the known answer
is ``pd.factorize(keys, sort=True)`` (Python's string order), exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from idjourney.linkage import factorize_keys


@given(st.lists(st.text(max_size=6), min_size=0, max_size=60))
def test_factorize_keys_equals_pandas_sorted_factorize(keys):
    values = np.array(keys, dtype=object)
    codes, uniques = factorize_keys(pd.Series(values, dtype=object))
    expected_codes, expected_uniques = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)
    assert codes.dtype == np.intp


def test_keys_that_are_not_text_fall_back_to_pandas():
    for values in ([3, 1, 3, 2], ["b\ud800", "a", "b\ud800"]):
        codes, uniques = factorize_keys(pd.Series(values, dtype=object))
        expected_codes, expected_uniques = pd.factorize(np.array(values, dtype=object), sort=True)
        np.testing.assert_array_equal(codes, expected_codes)
        assert list(uniques) == list(expected_uniques)


def test_analysis_table_sorts_victims_as_python_does():
    """At 1e7 victims the last key (SYN-V10000000) sorts before SYN-V1000001: the table is
    not in record order and is sorted (by pyarrow); the order must be Python's."""
    from idjourney.linkage import analysis_table
    from idjourney.synthetic import generate, load_scenario

    records = generate(load_scenario("baseline"), seed=6, n_victims=800).records
    records["victim_key"] = records["victim_key"].str.replace("SYN-V0000", "SYN-V", regex=False)
    records.loc[3, "victim_key"] = "SYN-V9"  # sorts after SYN-V800...
    records.loc[5, "victim_key"] = "SYN-Vé"
    table = analysis_table(records, check=False)
    assert table["victim_id"].tolist() == sorted(records["victim_key"])
    assert table.index.equals(pd.RangeIndex(len(records)))
    by_key = records.set_index("victim_key")
    np.testing.assert_array_equal(
        table["reports_count"].to_numpy(), by_key.loc[table["victim_id"], "reports_count"]
    )


@given(
    st.lists(st.text(max_size=4), min_size=0, max_size=40),
    st.lists(st.integers(0, 39), max_size=3),
)
def test_text_argsort_of_a_few_runs_equals_the_stable_sort(keys, cuts):
    """Text in a few sorted runs takes timsort, other text pyarrow: either way the order is
    the stable sort in Python's order."""
    from idjourney._text import text_argsort

    values = np.array(sorted(keys), dtype=object)
    for cut in cuts:  # move a tail to the front: a few runs
        cut = min(cut, len(values))
        values = np.concatenate([values[cut:], values[:cut]])
    expected = sorted(range(len(values)), key=lambda i: values[i])
    np.testing.assert_array_equal(text_argsort(values), np.asarray(expected, dtype=np.intp))
    shuffled = values[np.random.default_rng(len(values)).permutation(len(values))]
    expected = sorted(range(len(shuffled)), key=lambda i: shuffled[i])
    np.testing.assert_array_equal(text_argsort(shuffled), np.asarray(expected, dtype=np.intp))


def test_text_argsort_of_many_rows_in_runs_and_shuffled():
    """Past the sample of adjacent pairs: sorted but for one key (as victim ids at 1e7), and
    shuffled."""
    from idjourney._text import _few_runs, text_argsort

    # the one descent is the last pair, which the sample of pairs holds
    values = np.array([f"V{i:05d}" for i in range(1, 5001)] + ["V00000x"], dtype=object)
    assert _few_runs(values)
    np.testing.assert_array_equal(text_argsort(values), np.argsort(values.astype(str)))
    shuffled = values[np.random.default_rng(0).permutation(len(values))]
    assert not _few_runs(shuffled)
    np.testing.assert_array_equal(text_argsort(shuffled), np.argsort(shuffled.astype(str)))


@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.one_of(st.none(), st.integers(0, 1000))),
        min_size=1,
        max_size=40,
    )
)
def test_group_reduce_equals_groupby_min_and_max_skipping_missing(rows):
    from idjourney.linkage import _group_reduce

    groups = np.array([g for g, _ in rows], dtype=np.int64)
    dates = pd.Series(
        [
            pd.NaT if d is None else pd.Timestamp("2000-01-01") + pd.Timedelta(days=d)
            for _, d in rows
        ],
        dtype="M8[ns]",
    )
    codes, _ = pd.factorize(groups, sort=True)
    order = np.argsort(codes, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(codes[order]) != 0])
    for how in ("min", "max"):
        grouped = dates.groupby(codes, sort=True)
        expected = (grouped.min() if how == "min" else grouped.max()).to_numpy()
        got = _group_reduce(dates, codes, order, starts, how)
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype


@given(st.lists(st.text(max_size=3), max_size=40), st.integers(0, 40))
def test_factorize_of_text_in_a_few_runs_equals_pandas(keys, cut):
    """Sorted text (or two sorted runs) is factorized by comparing neighbours: the known
    answer is still ``pd.factorize(sort=True)``."""
    from idjourney._text import sorted_text_factorize

    values = np.array(sorted(keys), dtype=object)
    values = np.concatenate([values[cut:], values[:cut]])
    codes, uniques = sorted_text_factorize(values)
    expected_codes, expected_uniques = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)


def test_factorize_of_sorted_text_with_a_nul_agrees_with_pandas():
    """pandas compares text up to a NUL ("" and "\\x00" are one value to it); sorted text
    holding one takes pandas' answer, as shuffled text does."""
    from idjourney._text import sorted_text_factorize

    values = np.array(["", "\x00", "a"], dtype=object)
    codes, uniques = sorted_text_factorize(values)
    expected_codes, expected_uniques = pd.factorize(values, sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)
