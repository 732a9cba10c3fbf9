"""The compiled day differences (:func:`idjourney.survival._days_kernel.day_differences`)
are NumPy's ``(later - earlier) / np.timedelta64(1, "D")`` to the bit, NaT included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.survival import delay
from idjourney.survival._days_kernel import _kernel, day_differences

pytestmark = pytest.mark.skipif(_kernel() is None, reason="numba is not usable here")

NAT = np.iinfo(np.int64).min
# nanosecond counts: NaT, whole days, any instant, and the ends of the int64 range (whose
# differences overflow, as NumPy's subtraction does)
instants = st.one_of(
    st.just(NAT),
    st.integers(-(10**5), 10**5).map(lambda d: d * 86_400 * 10**9),
    st.integers(-(2**62), 2**62),
    st.sampled_from([NAT + 1, 2**63 - 1, 0, 1, -1]),
)


def _numpy(later: np.ndarray, earlier: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return (later - earlier) / np.timedelta64(1, "D")


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(instants, instants), max_size=50))
def test_compiled_days_are_numpys_bits(pairs: list[tuple[int, int]]) -> None:
    later = np.array([a for a, _ in pairs], dtype=np.int64).view("M8[ns]")
    earlier = np.array([b for _, b in pairs], dtype=np.int64).view("M8[ns]")
    got = day_differences(later, earlier)
    assert got is not None
    expected = _numpy(later, earlier)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert got[~np.isnan(got)].tobytes() == expected[~np.isnan(expected)].tobytes()


def test_known_differences_and_other_input() -> None:
    """Hand-worked values; other units, shapes and sliced (strided) dates."""
    later = np.array(["2020-01-02", "2020-01-01T12", "NaT", "2019-12-31"], dtype="M8[ns]")
    earlier = np.array(["2020-01-01", "2020-01-01", "2020-01-01", "2020-01-01"], dtype="M8[ns]")
    got = day_differences(later, earlier)
    np.testing.assert_array_equal(got, [1.0, 0.5, np.nan, -1.0])
    assert day_differences(later.astype("M8[s]"), earlier.astype("M8[s]")) is None
    assert day_differences(later[:2], earlier) is None
    strided = day_differences(later[::2], earlier[::2])
    np.testing.assert_array_equal(strided, [1.0, np.nan])


def test_delay_days_take_the_compiled_path() -> None:
    """``delay._days`` (the delay correction's durations) gives the compiled answer."""
    later = np.array(["2021-03-04", "NaT"], dtype="M8[ns]")
    earlier = np.array(["2021-03-01", "2021-03-01"], dtype="M8[ns]")
    np.testing.assert_array_equal(delay._days(later, earlier), [3.0, np.nan])
