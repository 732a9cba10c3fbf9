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
