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
