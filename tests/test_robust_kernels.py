"""The compiled (numba) kernels of the robust variance against the numpy implementation.

:mod:`idjourney.survival._robust_kernels` computes the whole-curve cross-products
:math:`\\sum_c A_c(t) A_c(t)^\\top` by one counting sort by time and a sweep, and the
first-appearance renumbering of cluster codes in one pass; :mod:`idjourney.survival._robust`
keeps the numpy implementation of both (two counting sorts by (cluster, time) in scipy's C
sparse conversions; ``minimum.at``).  Each is checked against the other and against the
direct clusters x times sum on small data, with ties, left truncation (late starts),
weights, clusters without rows, a single cluster and 1, 2, 3 coefficient columns
(rounding only: 1e-12 of the largest entry), and the estimators' whole-curve SEs
(Kaplan-Meier, Aalen-Johansen) are compared end to end at 1e-12 relative.
"""

from __future__ import annotations

import importlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from idjourney.survival import AalenJohansen, KaplanMeier, _robust
from idjourney.survival._robust import (
    first_appearance,
    first_appearance_numpy,
    grouped_quadratic_form,
    grouped_quadratic_form_of_changes,
)
from idjourney.survival._robust_kernels import kernels

pytestmark = pytest.mark.skipif(kernels() is None, reason="numba not available")


def direct_sum(codes, start, start_coef, stop, stop_coef, n_times, n_clusters=None):
    """The definition: at each time, every row's coefficients summed by cluster."""
    p = start_coef.shape[1]
    n_clusters = int(codes.max()) + 1 if n_clusters is None else n_clusters
    out = np.zeros((n_times, p, p))
    for k in range(n_times):
        totals = np.zeros((n_clusters, p))
        for i in range(codes.size):
            if k >= stop[i]:
                totals[codes[i]] += stop_coef[i]
            elif k >= start[i]:
                totals[codes[i]] += start_coef[i]
        out[k] = totals.T @ totals
    return out


def case(seed: int, p: int, *, n_max: int = 60, one_cluster: bool = False, gaps: bool = False):
    """Random rows: ties (few integer times), about half entering late, weights in the
    coefficients, some starts and stops at or after the last time."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, n_max))
    n_times = int(rng.integers(1, 12))
    if one_cluster:
        codes = np.zeros(n, dtype=np.int64)
    else:
        codes = rng.integers(0, max(1, n // 3), n)
        if gaps:  # codes with no rows (clusters that are empty)
            codes = codes * 3 + 1
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times + 2, n))
    stop = start + rng.integers(0, n_times + 2, n)
    weight = rng.uniform(0.2, 3.0, n)[:, None]
    start_coef = rng.normal(size=(n, p)) * weight
    stop_coef = rng.normal(size=(n, p)) * weight
    return codes, start, start_coef, stop, stop_coef, n_times


def assert_close(got, expected):
    scale = max(1.0, float(np.abs(expected).max()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * scale)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("kind", ["plain", "one cluster", "empty clusters"])
def test_compiled_equals_numpy_and_the_direct_sum(seed: int, p: int, kind: str) -> None:
    codes, start, start_coef, stop, stop_coef, n_times = case(
        seed, p, one_cluster=kind == "one cluster", gaps=kind == "empty clusters"
    )
    args = (codes, start, start_coef, stop, stop_coef, n_times)
    compiled = grouped_quadratic_form(*args, engine="compiled")
    numpy_path = grouped_quadratic_form(*args, engine="numpy")
    assert compiled.shape == (n_times, p, p)
    assert_close(compiled, numpy_path)
    assert_close(compiled, direct_sum(*args))
    np.testing.assert_array_equal(compiled, np.swapaxes(compiled, 1, 2))  # symmetric


@pytest.mark.parametrize("index_type", [np.int32, np.int64])
def test_numbers_and_columns_and_index_types(index_type) -> None:
    """Coefficients given as numbers (the same for every row), as separate columns, and
    int32 or int64 time indices give the numpy path's values."""
    rng = np.random.default_rng(3)
    n, n_times = 4_000, 60
    codes = rng.integers(0, 500, n)
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times, n)).astype(index_type)
    stop = (start + rng.integers(0, n_times, n)).astype(index_type)
    b_entry = rng.normal(size=n)
    change = rng.normal(size=n)
    start_coef = [-1.0, b_entry]
    stop_change = [1.0, change]
    args = (codes, start, start_coef, stop, stop_change, n_times)
    compiled = grouped_quadratic_form_of_changes(*args, engine="compiled")
    numpy_path = grouped_quadratic_form_of_changes(*args, engine="numpy")
    assert_close(compiled, numpy_path)
    as_matrix = grouped_quadratic_form(
        codes,
        start,
        np.column_stack([-np.ones(n), b_entry]),
        stop,
        np.column_stack([np.zeros(n), b_entry + change]),
        n_times,
        engine="compiled",
    )
    assert_close(as_matrix, compiled)


def test_large_compiled_equals_numpy() -> None:
    """1e5 rows in 1e4 clusters, 3 columns: the two implementations to rounding."""
    rng = np.random.default_rng(5)
    n, n_times = 100_000, 700
    codes = rng.integers(0, 10_000, n)
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times, n))
    stop = np.minimum(start + rng.geometric(0.01, n), n_times + 3)
    start_coef = rng.normal(size=(n, 3))
    stop_coef = rng.normal(size=(n, 3))
    args = (codes, start, start_coef, stop, stop_coef, n_times)
    assert_close(grouped_quadratic_form(*args, engine="compiled"), grouped_quadratic_form(*args))
    assert_close(
        grouped_quadratic_form(*args, engine="compiled"),
        grouped_quadratic_form(*args, engine="numpy"),
    )


def test_zero_columns_stay_exactly_zero_and_empty_input() -> None:
    rng = np.random.default_rng(7)
    n, n_times = 3000, 200
    codes = rng.integers(0, 300, n)
    start = np.where(rng.random(n) < 0.5, 0, rng.integers(0, n_times, n))
    stop = start + rng.integers(0, n_times, n)
    coef = np.column_stack([rng.normal(size=n) * 1e3, np.zeros(n)])
    m = grouped_quadratic_form(codes, start, coef, stop, coef * 2, n_times, engine="compiled")
    assert np.all(m[:, 1, 1] == 0.0) and np.all(m[:, 0, 1] == 0.0)
    empty = np.zeros(0, dtype=np.int64)
    out = grouped_quadratic_form(
        empty, empty, np.zeros((0, 2)), empty, np.zeros((0, 2)), 3, engine="compiled"
    )
    assert out.shape == (3, 2, 2) and not out.any()


def test_bad_codes_raise_instead_of_writing_out_of_bounds() -> None:
    one = np.zeros(2, dtype=np.int64)
    with pytest.raises(IndexError):
        grouped_quadratic_form(
            np.array([0, -1]), one, np.ones((2, 1)), one + 1, np.ones((2, 1)), 3, engine="compiled"
        )
    with pytest.raises(IndexError):
        first_appearance(np.array([0, 5]), 3)
    with pytest.raises(ValueError, match="engine"):
        grouped_quadratic_form(one, one, np.ones((2, 1)), one, np.ones((2, 1)), 3, engine="fast")


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64])
@pytest.mark.parametrize("seed", range(4))
def test_first_appearance_compiled_equals_numpy(dtype, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_categories = 100
    raw = rng.integers(-1, n_categories, 5_000).astype(dtype)  # -1: missing
    codes, kept = first_appearance(raw, n_categories)
    codes_np, kept_np = first_appearance_numpy(raw, n_categories)
    np.testing.assert_array_equal(codes, codes_np)
    np.testing.assert_array_equal(kept, kept_np)
    assert codes.dtype == np.int64 and kept.dtype == np.int64
    labels = np.array([f"S{c}" for c in range(n_categories)], dtype=object)
    valid = raw >= 0
    expected = pd.factorize(labels[raw[valid]])[0]
    np.testing.assert_array_equal(codes[valid], expected)
    for raw in (np.zeros(0, dtype=dtype), np.full(5, -1, dtype=dtype)):
        codes, kept = first_appearance(raw, n_categories)
        codes_np, kept_np = first_appearance_numpy(raw, n_categories)
        np.testing.assert_array_equal(codes, codes_np)
        np.testing.assert_array_equal(kept, kept_np)


def _clustered(seed: int, n: int = 30_000, n_clusters: int = 3_000, weights: bool = False):
    rng = np.random.default_rng(seed)
    cluster = rng.integers(0, n_clusters, n)
    frailty = rng.gamma(2.0, 0.5, n_clusters)[cluster]
    duration = np.minimum(1000.0, np.floor(rng.exponential(300.0 / frailty)) + 1.0)
    event = (rng.random(n) < 0.8).astype(int)
    entry = np.where(rng.random(n) < 0.5, np.floor(rng.random(n) * duration), 0.0)
    weight = rng.uniform(0.5, 2.0, n) if weights else None
    return duration, event, entry, weight, cluster


def _without_kernels(monkeypatch) -> None:
    """Every caller of the kernels back on its numpy path."""
    for name in (
        "idjourney.survival._robust",
        "idjourney.survival.km",
        "idjourney.survival.rmst",
        "idjourney.indicator.curve",
    ):
        module = importlib.import_module(name)
        assert callable(module.kernels)
        monkeypatch.setattr(module, "kernels", lambda: None)


@pytest.mark.parametrize("weights", [False, True])
def test_km_whole_curve_compiled_equals_numpy(weights: bool, monkeypatch) -> None:
    duration, event, entry, weight, cluster = _clustered(1, weights=weights)
    fit = dict(entry=entry, weights=weight, cluster=cluster)
    compiled = KaplanMeier().fit(duration, event, **fit).survival_
    _without_kernels(monkeypatch)
    numpy_path = KaplanMeier().fit(duration, event, **fit).survival_
    for column in ("std_err", "lower", "upper"):
        np.testing.assert_allclose(compiled[column], numpy_path[column], rtol=1e-12, atol=1e-15)
    pd.testing.assert_frame_equal(
        compiled.drop(columns=["std_err", "lower", "upper"]),
        numpy_path.drop(columns=["std_err", "lower", "upper"]),
        check_exact=True,
    )


def test_aj_whole_curve_compiled_equals_numpy(monkeypatch) -> None:
    duration, event, entry, weight, cluster = _clustered(2, weights=True)
    rng = np.random.default_rng(3)
    outcome = np.where(event == 1, rng.choice([1, 2], event.size, p=[0.8, 0.2]), 0)
    fit = dict(entry=entry, weights=weight, cluster=cluster)
    compiled = AalenJohansen().fit(duration, outcome, **fit).standard_errors_
    _without_kernels(monkeypatch)
    numpy_path = AalenJohansen().fit(duration, outcome, **fit).standard_errors_
    np.testing.assert_allclose(compiled, numpy_path, rtol=1e-12, atol=1e-15)


def test_categorical_clusters_compiled_equal_numpy(monkeypatch) -> None:
    from idjourney.survival import check_cluster

    labels = pd.Categorical(np.random.default_rng(4).choice(list("qwertyuiop"), 2_000))
    compiled = check_cluster(labels, 2_000, "series_id")
    _without_kernels(monkeypatch)
    numpy_path = check_cluster(labels, 2_000, "series_id")
    np.testing.assert_array_equal(compiled.codes, numpy_path.codes)
    pd.testing.assert_index_equal(compiled.labels, numpy_path.labels)
    rows = np.arange(0, 2_000, 3)
    pd.testing.assert_index_equal(compiled.take(rows).labels, numpy_path.take(rows).labels)


@pytest.mark.slow
def test_no_writable_cache_directory(tmp_path: Path) -> None:
    """A copy of the package where numba can write no cache: not beside the source (a
    read-only tree; here ``__pycache__`` is a file, which stops root too), not in
    NUMBA_CACHE_DIR nor the user's cache directory.  The kernels are then compiled in
    memory (``cached`` is False), nothing is written, and the SEs are the numpy path's."""
    source = Path(_robust.__file__).resolve().parents[2]  # .../src
    copy = tmp_path / "src"
    shutil.copytree(
        source / "idjourney", copy / "idjourney", ignore=shutil.ignore_patterns("__pycache__")
    )
    (copy / "idjourney" / "survival" / "__pycache__").write_text("not a directory\n")
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    nowhere = "/dev/null/numba-cache"  # no directory can be made there
    script = textwrap.dedent(
        """
        import numpy as np, warnings
        warnings.simplefilter("error")
        from idjourney.survival import KaplanMeier, _robust
        from idjourney.survival._robust_kernels import kernels
        assert kernels() is not None and not kernels().cached
        rng = np.random.default_rng(0)
        d = np.floor(rng.exponential(50, 3000)) + 1
        e = rng.integers(0, 2, 3000)
        c = rng.integers(0, 300, 3000)
        se = KaplanMeier().fit(d, e, cluster=c).survival_["std_err"].to_numpy()
        _robust.kernels = lambda: None
        ref = KaplanMeier().fit(d, e, cluster=c).survival_["std_err"].to_numpy()
        np.testing.assert_allclose(se, ref, rtol=1e-12, atol=1e-15)
        print("ok", _robust.__file__)
        """
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(copy),
        "PYTHONDONTWRITEBYTECODE": "1",
        "NUMBA_CACHE_DIR": nowhere,
        "HOME": nowhere,
        "XDG_CACHE_HOME": nowhere,
    }
    env.pop("IDJOURNEY_NUMBA", None)
    try:
        result = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok") and str(copy) in result.stdout
    assert not list(copy.rglob("*.nbi")) and not list(copy.rglob("*.nbc"))


def test_cache_is_used_where_writable() -> None:
    assert kernels().cached  # the test tree's __pycache__ (or NUMBA_CACHE_DIR) is writable


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("clustered", [False, True])
def test_indicator_curve_influence_and_median_se_are_the_numpy_bits(
    weighted: bool, clustered: bool, monkeypatch
) -> None:
    """The indicator curve's per-cluster influence (S(h), RMST) and the median interval's
    SEs: the compiled one-pass sums give the numpy form's bits (same additions, same
    order), with ties, left truncation, closures, weights (some negative, as the delay
    correction's rows) and clusters."""
    from idjourney.indicator import curve as curve_module

    rng = np.random.default_rng(8)
    n = 20_000
    entry = np.where(rng.random(n) < 0.3, rng.integers(0, 200, n), 0).astype(float)
    exit_ = entry + np.ceil(rng.exponential(300, n))
    status = rng.choice([0, 1, 2], n, p=[0.5, 0.42, 0.08])
    weight = np.where(rng.random(n) < 0.05, -0.3, rng.uniform(0.5, 2.0, n)) if weighted else None
    cluster = pd.Categorical(rng.integers(0, 2_000, n)) if clustered else None

    def values():
        curve = curve_module.fit_curve(entry, exit_, status, weight, cluster)
        se = [curve.se_unidentified_at(t) for t in (30.0, 365.0, 1000.0)]
        fast = curve_module._MedianSE(curve)
        return (
            curve.influence_unidentified_at(365.0),
            curve.influence_rmst(730.0),
            np.array(se + [fast.se(k) for k in range(0, curve.times.size, 97)]),
            curve.median_interval(0.95),
        )

    compiled = values()
    _without_kernels(monkeypatch)
    numpy_path = values()
    for got, expected in zip(compiled, numpy_path, strict=True):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("weights", [False, True])
def test_km_one_horizon_is_the_numpy_bits(weights: bool, monkeypatch) -> None:
    """S(t) and its robust SE at one time (no whole curve): the compiled pass gives the
    bits of ``influence_at`` + ``ClusterCodes.variance``, at every time and before the
    first."""
    duration, event, entry, weight, cluster = _clustered(6, weights=weights)
    times = [0.5, 1.0, 2.0, 30.0, 200.0, 999.0, 1000.0, 5000.0]

    def values():
        km = KaplanMeier().fit(duration, event, entry=entry, weights=weight, cluster=cluster)
        return [km.survival_estimate(t) for t in times]

    compiled = values()
    _without_kernels(monkeypatch)
    for got, expected in zip(compiled, values(), strict=True):
        assert (got.estimate, got.se, got.lower, got.upper) == (
            expected.estimate,
            expected.se,
            expected.lower,
            expected.upper,
        )


def test_km_kernel_is_the_general_kernel_bit_for_bit() -> None:
    """The unit-weight Kaplan-Meier kernel (coefficients looked up from small tables) adds
    what the general kernel adds, in its order: the same bits; and the numpy path's values
    to rounding."""
    from idjourney.survival._robust import km_grouped_quadratic_form

    duration, event, entry, _, cluster = _clustered(9)
    km = KaplanMeier().fit(duration, event, entry=entry, cluster=cluster)
    basis = km._build_basis()
    assert basis.unit_weights
    at_stop = np.concatenate((-basis.b_cum, basis.a - basis.b_cum))
    change = at_stop[basis.event * basis.b_cum.size + basis.stop]
    codes = km.cluster_.codes
    args = (codes, basis.start, [-1.0, basis.b_entry], basis.stop, [1.0, change], basis.b_cum.size)
    special = km_grouped_quadratic_form(
        codes, basis.start, basis.stop, basis.event, basis.b_cum, at_stop
    )
    np.testing.assert_array_equal(special, grouped_quadratic_form_of_changes(*args))
    assert_close(special, grouped_quadratic_form_of_changes(*args, engine="numpy"))


@pytest.mark.parametrize("weights", [False, True])
def test_rmst_robust_is_the_numpy_bits(weights: bool, monkeypatch) -> None:
    from idjourney.survival import rmst

    duration, event, entry, weight, cluster = _clustered(10, weights=weights)
    taus = [1.0, 100.0, 365.0, 999.0]

    def values():
        km = KaplanMeier().fit(duration, event, entry=entry, weights=weight, cluster=cluster)
        return [rmst(km, tau).se for tau in taus]

    compiled = values()
    _without_kernels(monkeypatch)
    assert compiled == values()


@pytest.mark.parametrize(
    "values",
    [
        np.array([0.0, 1.0, 5.0, 5.0, 3.0, 12.0]),  # whole days
        np.array([0.0, 1.5, 5.0]),  # not whole: binary search
        np.array([-1.0, 2.0, 3.0]),  # negative: binary search
        np.array([1e9, 2.0, 3.0]),  # beyond the lookup limit
        np.array([np.nan, 2.0]),
        np.array([400.0, 2.0]),  # max >= 4 n: binary search
        np.zeros(0),
    ],
)
@pytest.mark.parametrize("side", ["left", "right"])
def test_time_index_compiled_equals_searchsorted(values, side, monkeypatch) -> None:
    from idjourney.survival import km as km_module

    times = np.array([1.0, 2.0, 3.0, 7.0, 12.0])
    compiled = km_module.time_index(times, values, side)
    _without_kernels(monkeypatch)
    np.testing.assert_array_equal(compiled, km_module.time_index(times, values, side))
    if values.size and not np.isnan(values).any():
        np.testing.assert_array_equal(compiled, np.searchsorted(times, values, side=side))


def _counted_bucket_sizes(basis, n_times: int) -> np.ndarray:
    """The KM kernel's bucket sizes counted from the rows (its own pass, in numpy)."""
    start = np.where(basis.start <= 0, 0, np.where(basis.start < n_times, basis.start + 1, -1))
    start[start < 0] = n_times + 1
    stop = np.maximum(basis.stop, 0)
    stop = np.where(stop < n_times, stop + 1, n_times + 1)
    return np.bincount(np.concatenate((start, stop)), minlength=n_times + 2)


@pytest.mark.filterwarnings("ignore:no events in the data")
@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 300),
    n_clusters=st.integers(1, 40),
    horizon=st.integers(1, 30),
    truncated=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_km_bucket_sizes_are_the_counted_ones(
    n: int, n_clusters: int, horizon: int, truncated: float, seed: int
) -> None:
    """The counting sort's bucket sizes read off the Kaplan-Meier table (no pass over the
    rows) are the sizes counted from the rows' start and stop indices, with and without
    entries, on tied whole days and on fractional times; and the robust curve built with
    them is the one built by counting, to the bit."""
    from idjourney.survival._robust import km_grouped_quadratic_form

    rng = np.random.default_rng(seed)
    whole = rng.random() < 0.7
    duration = rng.integers(1, horizon + 1, n).astype(float)
    if not whole:
        duration = duration - rng.random(n) * 0.9
    entry = np.where(rng.random(n) < truncated, np.floor(rng.random(n) * duration), 0.0)
    event = rng.random(n) < 0.7
    cluster = rng.integers(0, n_clusters, n)
    for with_entry in (True, False):
        km = KaplanMeier().fit(
            duration, event, entry=entry if with_entry else None, cluster=cluster
        )
        basis = km._build_basis()
        n_times = basis.b_cum.size
        np.testing.assert_array_equal(basis.bucket_sizes, _counted_bucket_sizes(basis, n_times))
        at_stop = np.concatenate((-basis.b_cum, basis.a - basis.b_cum))
        codes = km.cluster_.any_codes()[0]
        args = (codes, basis.start, basis.stop, basis.event, basis.b_cum, at_stop)
        given_sizes = km_grouped_quadratic_form(*args, basis.bucket_sizes)
        np.testing.assert_array_equal(given_sizes, km_grouped_quadratic_form(*args))


def test_km_kernel_refuses_bucket_sizes_that_do_not_fit_the_rows() -> None:
    """Sizes off by one event (or not adding up to two events a row) raise before an
    event is written outside its bucket; the wrapper then counts the rows itself and gives
    the same bits."""
    from idjourney.survival._robust import km_grouped_quadratic_form

    duration, event, entry, _, cluster = _clustered(4, n=3_000, n_clusters=300)
    km = KaplanMeier().fit(duration, event, entry=entry, cluster=cluster)
    basis = km._build_basis()
    at_stop = np.concatenate((-basis.b_cum, basis.a - basis.b_cum))
    codes = np.asarray(km.cluster_.any_codes()[0], dtype=np.int64)
    sizes = basis.bucket_sizes
    shifted = sizes.copy()
    busy = int(np.flatnonzero(sizes[1:-1] > 0)[0]) + 1
    shifted[busy] -= 1
    shifted[busy + 1] += 1  # the same total, one event in the wrong bucket
    short = sizes.copy()
    short[busy] -= 1  # one event too few in all
    compiled = kernels()
    if compiled is None:
        pytest.skip("numba is not usable here")
    kernel_args = (
        codes,
        basis.start.astype(np.int64),
        basis.stop.astype(np.int64),
        np.asarray(basis.event, dtype=bool),
        np.concatenate(([0.0], basis.b_cum)),
        at_stop,
        int(codes.max()) + 1,
    )
    for wrong, message in ((shifted, "more events in a bucket"), (short, "do not add up")):
        with pytest.raises(ValueError, match=message):
            compiled.km_quadratic_form_increments(*kernel_args, wrong)
        args = (codes, basis.start, basis.stop, basis.event, basis.b_cum, at_stop)
        np.testing.assert_array_equal(
            km_grouped_quadratic_form(*args, wrong), km_grouped_quadratic_form(*args, sizes)
        )
