"""grouped_quadratic_form (the whole-curve robust variance's engine) against brute force.

The reference is the definition itself: at each time index k, every row's coefficient
vector is 0 before ``start``, ``start_coef`` from ``start`` to ``stop - 1`` and
``stop_coef`` from ``stop`` on; sum them within clusters and take
``sum_c A_c A_c^T`` (a loop over times and rows, only for small data).
Tolerance 1e-12 relative to the largest entry (rounding only).
"""

from __future__ import annotations

import numpy as np
import pytest

from idjourney.survival import AalenJohansen, KaplanMeier
from idjourney.survival._robust import grouped_quadratic_form


def brute_force(codes, start, start_coef, stop, stop_coef, n_times):
    p = start_coef.shape[1]
    out = np.zeros((n_times, p, p))
    for k in range(n_times):
        totals = np.zeros((codes.max() + 1, p))
        for i in range(codes.size):
            if k >= stop[i]:
                totals[codes[i]] += stop_coef[i]
            elif k >= start[i]:
                totals[codes[i]] += start_coef[i]
        out[k] = totals.T @ totals
    return out


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    n_times = int(rng.integers(1, 15))
    p = int(rng.integers(1, 4))
    codes = np.unique(rng.integers(0, max(1, n // 3), n), return_inverse=True)[1]
    # about half the rows at risk from the first time; some start or stop after the last time
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times + 2, n))
    stop = start + rng.integers(0, n_times + 2, n)
    start_coef = rng.normal(size=(n, p))
    stop_coef = rng.normal(size=(n, p))
    return codes, start, start_coef, stop, stop_coef, n_times


@pytest.mark.parametrize("seed", range(60))
def test_equals_brute_force(seed: int) -> None:
    codes, start, start_coef, stop, stop_coef, n_times = random_case(seed)
    expected = brute_force(codes, start, start_coef, stop, stop_coef, n_times)
    got = grouped_quadratic_form(codes, start, start_coef, stop, stop_coef, n_times)
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("seed", range(5))
def test_columns_as_separate_arrays_give_the_same(seed: int) -> None:
    codes, start, start_coef, stop, stop_coef, n_times = random_case(seed)
    as_matrix = grouped_quadratic_form(codes, start, start_coef, stop, stop_coef, n_times)
    as_columns = grouped_quadratic_form(
        codes, start, list(start_coef.T), stop, list(stop_coef.T), n_times
    )
    np.testing.assert_array_equal(as_columns, as_matrix)


def test_cluster_with_only_zero_changes_is_exactly_zero() -> None:
    """A column that is 0 in every row gives exactly 0 (a robust SE of exactly 0 where the
    estimate cannot vary, e.g. a cumulative incidence before its first event), even next
    to large values in other clusters and columns."""
    rng = np.random.default_rng(7)
    n, n_times = 5000, 300
    codes = rng.integers(0, 500, n)
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times, n))
    stop = start + rng.integers(0, n_times, n)
    start_coef = np.column_stack([rng.normal(size=n) * 1e3, np.zeros(n)])
    stop_coef = np.column_stack([rng.normal(size=n) * 1e3, np.zeros(n)])
    m = grouped_quadratic_form(codes, start, start_coef, stop, stop_coef, n_times)
    assert np.all(m[:, 1, 1] == 0.0)
    assert np.all(m[:, 0, 1] == 0.0)
    assert np.all(m[:, 0, 0] > 0.0)


def test_no_rows_and_no_times() -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert grouped_quadratic_form(
        empty, empty, np.zeros((0, 2)), empty, np.zeros((0, 2)), 3
    ).shape == (3, 2, 2)
    one = np.zeros(1, dtype=np.int64)
    assert grouped_quadratic_form(one, one, np.ones((1, 2)), one, np.ones((1, 2)), 0).shape == (
        0,
        2,
        2,
    )


def _large_clustered(seed: int, n: int = 200_000, n_clusters: int = 20_000):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    frailty = rng.gamma(2.0, 0.5, n_clusters)[cluster]
    duration = np.minimum(3650.0, np.floor(rng.exponential(900.0 / frailty)) + 1.0)
    event = (rng.random(n) < 0.8).astype(int)
    entry = np.where(rng.random(n) < 0.5, np.floor(rng.random(n) * duration), 0.0)
    return duration, event, entry, cluster


def test_km_whole_curve_equals_direct_influence_sums_to_1e12() -> None:
    """On 2e5 rows in 2e4 clusters (ties, truncation) the whole-curve robust SE equals
    sqrt(sum_c (sum_{i in c} D_i(t))^2) from the per-row influence at 1e-12 relative: the
    running sums less each cluster's start lose no precision that matters (absolute
    1e-15 only for an SE of 0: these are SEs of probabilities)."""
    duration, event, entry, cluster = _large_clustered(11)
    km = KaplanMeier().fit(duration, event, entry=entry, cluster=cluster)
    curve = km.survival_
    times = km.table_.time
    for t in times[np.linspace(0, times.size - 1, 15).astype(int)]:
        direct = float(np.sqrt(km.cluster_.variance(km.influence_at(t))))
        assert curve.loc[t, "std_err"] == pytest.approx(direct, rel=1e-12, abs=1e-15)


def test_aj_whole_curve_equals_direct_influence_sums_to_1e12() -> None:
    duration, event, entry, cluster = _large_clustered(12)
    rng = np.random.default_rng(13)
    outcome = np.where(event == 1, rng.choice([1, 2], event.size, p=[0.8, 0.2]), 0)
    aj = AalenJohansen().fit(duration, outcome, entry=entry, cluster=cluster)
    times = aj.standard_errors_.index.to_numpy()
    for code in (1, 2):
        for t in times[np.linspace(0, times.size - 1, 10).astype(int)]:
            direct = float(np.sqrt(aj.cluster_.variance(aj.influence_at(t, code))))
            assert aj.standard_errors_.loc[t, code] == pytest.approx(direct, rel=1e-12, abs=1e-15)
