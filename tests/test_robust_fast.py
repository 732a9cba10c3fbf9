"""Issue #11 cost work: the fast whole-curve robust KM variance equals its definition.

``KaplanMeier(...).survival_["std_err"]`` with ``cluster=`` comes from
``grouped_quadratic_form_of_changes`` (events put in (cluster, time) order by two
counting sorts, cross-products added block by block).  The references here share no
code with it:

* :func:`direct_robust_se` transcribes the grouped infinitesimal jackknife of R's
  ``survfit(..., cluster=)`` (the formula in ``survival/km.py``'s docstring): per-row
  influence :math:`D_i(t) = -w_i \\hat S(t) \\sum_{t_k \\le t}
  \\{dN_i(t_k) - Y_i(t_k) d_k/n_k\\}/(n_k - d_k)`, summed within clusters, squared and
  summed, by explicit loops over times and rows.  Hypothesis draws tied, truncated,
  weighted data with clusters of every size.  Tolerance on the variance: 1e-10
  relative, plus 1e-13 of the size of the terms the basis form subtracts (see the
  test; a variance of exactly 0, e.g. one cluster, comes out as ~1e-17: an SE of
  ~1e-9, as before this change); measured relative differences elsewhere are
  below 1e-13.
* The argsort fallback of ``cluster_time_order`` (used when scipy's C routines are
  missing) gives exactly the order of ``np.lexsort``, and the whole variance to 1e-12.
* Every kind of series label (integers, object and Arrow strings, categorical, and
  ``ClusterCodes``) gives the same SEs to the last bit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from idjourney.survival import KaplanMeier, _robust, check_cluster
from idjourney.survival._robust import cluster_time_order, grouped_quadratic_form

SETTINGS = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def direct_robust_se(duration, event, entry, weight, cluster) -> tuple[np.ndarray, np.ndarray]:
    """Times and cluster-robust SE of the KM curve, straight from the definition."""
    times = np.unique(duration)
    labels, codes = np.unique(cluster, return_inverse=True)
    n_rows = duration.size
    at_risk = (entry[None, :] < times[:, None]) & (duration[None, :] >= times[:, None])
    ends_here = event[None, :].astype(bool) & (duration[None, :] == times[:, None])
    n_risk = (at_risk * weight).sum(axis=1)
    n_event = (ends_here * weight).sum(axis=1)
    everyone = (n_event > 0) & (n_event >= n_risk * (1 - 1e-12))
    survival = np.cumprod(np.where(everyone, 0.0, 1.0 - n_event / n_risk))
    se = np.zeros(times.size)
    h_sum = np.zeros(n_rows)  # sum over t_k <= t of each row's hazard term
    for k in range(times.size):
        if survival[k] == 0:
            break  # R's band is NA there; the package reports an SE of 0
        if n_event[k] > 0:
            h_sum += (ends_here[k] - at_risk[k] * n_event[k] / n_risk[k]) / (n_risk[k] - n_event[k])
        influence = -weight * survival[k] * h_sum
        totals = np.zeros(labels.size)
        for i in range(n_rows):
            totals[codes[i]] += influence[i]
        se[k] = np.sqrt(np.sum(totals**2))
    return times, se


@st.composite
def clustered_survival(draw):
    n = draw(st.integers(2, 60))
    duration = np.asarray(draw(st.lists(st.integers(1, 15), min_size=n, max_size=n)), float)
    event = np.asarray(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    assume(event.any())
    share = np.asarray(draw(st.lists(st.floats(0, 0.99), min_size=n, max_size=n)))
    truncated = np.asarray(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    entry = np.where(truncated, np.floor(duration * share), 0.0)
    weighted = draw(st.booleans())
    weight = (
        np.asarray(draw(st.lists(st.floats(0.2, 3.0), min_size=n, max_size=n)))
        if weighted
        else np.ones(n)
    )
    n_clusters = draw(st.integers(1, n))
    cluster = np.asarray(draw(st.lists(st.integers(0, n_clusters - 1), min_size=n, max_size=n)))
    return duration, event, entry, weight if weighted else None, cluster


@SETTINGS
@given(clustered_survival())
def test_whole_curve_equals_the_definition(case) -> None:
    duration, event, entry, weight, cluster = case
    km = KaplanMeier().fit(duration, event, entry=entry, weights=weight, cluster=cluster)
    w = np.ones(duration.size) if weight is None else weight
    times, expected = direct_robust_se(duration, event, entry, w, cluster)
    curve = km.survival_
    # the package's curve has a row for every distinct duration, as the reference
    np.testing.assert_array_equal(curve.index.to_numpy(), times)
    got = curve["std_err"].to_numpy() ** 2
    # phi' M phi subtracts terms of about S^2 sum_c W_c^2 (1 + B)^2 (W_c: the cluster's
    # total weight, B the Greenwood sum), so where the variance is ~0 (e.g. one
    # cluster: the influence sums to 0) it is exact only to ~1e-16 of that scale
    cluster_weight = np.bincount(np.unique(cluster, return_inverse=True)[1], weights=w)
    scale = km.table_.survival**2 * np.sum(cluster_weight**2)
    scale *= (1.0 + np.nan_to_num(km.table_.greenwood, posinf=0.0)) ** 2
    error = np.abs(got - expected**2)
    allowed = 1e-10 * expected**2 + 1e-13 * scale
    assert np.all(error <= allowed), (error.max(), allowed[np.argmax(error - allowed)])


def _large(seed: int, n: int = 40_000, n_clusters: int = 4_000):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    duration = np.minimum(2000.0, np.floor(rng.exponential(500.0, n)) + 1.0)
    event = (rng.random(n) < 0.7).astype(int)
    entry = np.where(rng.random(n) < 0.5, np.floor(rng.random(n) * duration), 0.0)
    weight = rng.uniform(0.3, 2.0, n)
    return duration, event, entry, weight, cluster


def test_weighted_truncated_whole_curve_equals_direct_influence_sums() -> None:
    """4e4 weighted, truncated rows in 4e3 clusters: every 50th time of the whole
    curve against sqrt(sum_c (sum_i D_i(t))^2) from the per-row influence, 1e-12."""
    duration, event, entry, weight, cluster = _large(5)
    km = KaplanMeier().fit(duration, event, entry=entry, weights=weight, cluster=cluster)
    curve = km.survival_
    for t in km.table_.time[::50]:
        direct = float(np.sqrt(km.cluster_.variance(km.influence_at(t))))
        assert curve.loc[t, "std_err"] == pytest.approx(direct, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", range(5))
def test_counting_sorts_give_the_lexsort_order(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n_clusters, n_times = 5_000, 300, 40
    cluster = rng.integers(0, n_clusters, m).astype(np.int32)
    position = rng.integers(0, n_times, m).astype(np.int32)
    data = rng.normal(size=m) + 1j * rng.normal(size=m)
    given = (cluster.copy(), position.copy(), data.copy())
    indptr, times, ordered = cluster_time_order(cluster, position, data, n_clusters, n_times)
    order = np.lexsort((np.arange(m), position, cluster))  # ties keep their given order
    np.testing.assert_array_equal(times, position[order])
    np.testing.assert_array_equal(ordered, data[order])
    np.testing.assert_array_equal(np.diff(indptr), np.bincount(cluster, minlength=n_clusters))
    # the inputs are left as they were (the internal variant writes over its own copies)
    for before, after in zip(given, (cluster, position, data), strict=True):
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("seed", range(5))
def test_argsort_fallback_gives_the_same(seed: int, monkeypatch) -> None:
    rng = np.random.default_rng(100 + seed)
    n, n_times, p = 3_000, 50, 3
    codes = rng.integers(0, 400, n)
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times + 2, n))
    stop = start + rng.integers(0, n_times + 2, n)
    start_coef = rng.normal(size=(n, p))
    stop_coef = rng.normal(size=(n, p))
    fast = grouped_quadratic_form(codes, start, start_coef, stop, stop_coef, n_times)
    monkeypatch.setattr(_robust, "_sparsetools", None)
    slow = grouped_quadratic_form(codes, start, start_coef, stop, stop_coef, n_times)
    np.testing.assert_allclose(slow, fast, rtol=0, atol=1e-12 * np.abs(fast).max())
    m = 2_000
    cluster = rng.integers(0, 50, m).astype(np.int32)
    position = rng.integers(0, 30, m).astype(np.int32)
    data = rng.normal(size=m)
    by_argsort = cluster_time_order(cluster, position, data, 50, 30)
    monkeypatch.undo()
    by_counting = cluster_time_order(cluster, position, data, 50, 30)
    for a, b in zip(by_argsort, by_counting, strict=True):
        np.testing.assert_array_equal(a, b)


def test_every_kind_of_series_label_gives_the_same_bits() -> None:
    duration, event, entry, _, series = _large(9, n=20_000, n_clusters=2_000)
    strings = np.char.add("SYN-S", series.astype(str)).astype(object)
    kinds = {
        "integers": series,
        "objects": strings,
        "categorical": pd.Series(pd.Categorical(strings)),
        "arrow": pd.Series(pd.array(strings, dtype="string[pyarrow]")),
        "python strings": pd.Series(pd.array(strings, dtype="string[python]")),
        "codes": check_cluster(strings, strings.size, "series_id"),
    }
    curves = {
        name: KaplanMeier().fit(duration, event, entry=entry, cluster=labels).survival_
        for name, labels in kinds.items()
    }
    reference = curves["objects"]
    for name, curve in curves.items():
        pd.testing.assert_frame_equal(curve, reference, check_exact=True, obj=name)
    # the labels themselves: first-appearance order, as pd.factorize numbers them
    expected = pd.factorize(strings)[0]
    for name in ("objects", "categorical", "arrow", "python strings"):
        codes = check_cluster(kinds[name], strings.size, name)
        np.testing.assert_array_equal(codes.codes, expected)
        assert [str(x) for x in codes.labels[:5]] == list(pd.unique(strings)[:5])


def test_curve_reaching_zero_before_later_times_gives_no_warning() -> None:
    """Found by the property test above: the curve reaches 0 at day 2 (the one row at
    risk has its event) and a row entering at day 2 is at risk at day 3.  The basis
    took ``inf - inf`` of the Greenwood sums there (a RuntimeWarning, an error under
    ``filterwarnings = error``); the SE is 0 from day 2 on, as R's NA band."""
    duration = np.array([1.0, 3.0, 2.0, 1.0])
    event = np.array([0, 0, 1, 0])
    entry = np.array([0.0, 2.0, 0.0, 0.0])
    km = KaplanMeier().fit(duration, event, entry=entry, cluster=[0, 0, 1, 1])
    curve = km.survival_
    np.testing.assert_array_equal(curve["survival"].to_numpy(), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(curve["std_err"].to_numpy(), [0.0, 0.0, 0.0])
