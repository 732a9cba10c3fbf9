"""Cost of the cluster-robust (IJ) variance against Greenwood (issue #11).

Run ``.venv/bin/python benchmarks/bench_robust.py`` (1e6 victims in 1e5 series) or with
``--quick`` (10x smaller).  Target from issue #11: the default (robust) method costs at
most 2x the current Greenwood computation on 1e6 victims in 1e5 series.

Data: integer-day durations up to 10 years (ties), 80% identified, half the rows
left-truncated, the series label ``series_id`` as the analysis table has it: a categorical
whose categories are the series keys sorted (:func:`idjourney.linkage.series_categorical`).
Printed, each as the best CPU and wall time of ``--repeat`` runs (the variants called in
turn, so machine load hits them alike) and the ratio robust / Greenwood:

(a) S(t) and its SE at one horizon (what an indicator needs):
    Greenwood ``KaplanMeier().fit_table(t)`` + ``survival_estimate(h)`` against
    ``KaplanMeier().fit_table(t, cluster_col="series_id")`` + ``survival_estimate(h)``
    (the default path on the analysis table: whole robust curve), and against the lean path
    ``influence_at(h)`` + ``cluster_sums`` on a Greenwood fit, and with the series
    factorized once (``check_cluster`` -> ``ClusterCodes``, what an indicator over many
    years of one table can do) instead of hashing the string labels in every fit.
(b) the whole curve (every distinct time), reading ``survival_``, for each kind of
    series label: the analysis table's categorical ``series_id`` (its codes are read, no
    hashing), integer labels, Arrow-backed strings (``string[pyarrow]``), Python (object)
    strings (a table read from CSV, or built by hand), and
    the series factorized once (``ClusterCodes``); then the cost of turning each kind
    of label into cluster codes (``check_cluster``) beside one Greenwood fit.
(c) RMST to tau: ``rmst(km, tau)`` Greenwood vs robust.

The robust paths run compiled (numba) kernels (:mod:`idjourney.survival._robust_kernels`);
their first use in a process compiles them, or loads them from numba's cache.  That
one-off cost is timed first, on a small table, and printed separately; every timed call
after it is steady state.  ``--numpy`` times the numpy implementation instead
(``IDJOURNEY_NUMBA=0``).

The ratio depends on how fast the machine sorts: Greenwood's cost is three ``np.sort`` of
1e6 floats, the robust overhead is not a sort.  numpy dispatches its sort to AVX-512 on
AMD Zen 4, where that code is slow (memory-destination compress stores are microcoded);
``NPY_DISABLE_CPU_FEATURES="X86_V4 AVX512_ICL AVX512_SPR"`` makes it use its AVX2 sort, about
5x faster there and comparable to AVX-512 on Intel.  Run the benchmark both ways.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from idjourney.linkage import series_categorical
from idjourney.survival import KaplanMeier, check_cluster, cluster_sums, rmst


def best_times(functions: list[Callable[[], Any]], repeat: int) -> list[tuple[float, float]]:
    """Best (CPU, wall) seconds of each function, calling them in turn (fair on a busy
    machine). CPU time (``time.process_time``) is less sensitive to other jobs."""
    best = [(float("inf"), float("inf"))] * len(functions)
    for _ in range(repeat):
        for j, function in enumerate(functions):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            function()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            best[j] = (min(best[j][0], cpu), min(best[j][1], wall))
    return best


def line(
    label: str, greenwood: tuple[float, float], robust: tuple[float, float], note: str = ""
) -> None:
    print(
        f"  {label:<58} CPU Greenwood {greenwood[0]:6.3f} s robust {robust[0]:6.3f} s "
        f"ratio {robust[0] / greenwood[0]:5.2f} | wall ratio {robust[1] / greenwood[1]:5.2f} "
        f"{note}"
    )


def make_table(n: int, n_series: int, seed: int = 1) -> pd.DataFrame:
    """The benchmark table; the series label in four forms (``series_id`` as the analysis
    table has it)."""
    rng = np.random.default_rng(seed)
    series = rng.integers(0, n_series, n)
    frailty = rng.gamma(2.0, 0.5, n_series)[series]
    duration = np.minimum(3650.0, np.floor(rng.exponential(900.0 / frailty)) + 1.0)
    event = (rng.random(n) < 0.8).astype(np.int64)
    entry = np.where(rng.random(n) < 0.5, np.floor(rng.random(n) * duration), 0.0)
    labels = np.char.add("SYN-S", series.astype(str)).astype(object)
    return pd.DataFrame(
        {
            "duration": duration,
            "event": event,
            "entry": entry,
            "series_id": series_categorical(pd.Series(labels)),
            "series_text": labels,
            "series_arrow": pd.array(labels, dtype="string[pyarrow]"),
            "series_number": series,
        }
    )


def warm_up() -> str:
    """First use of the compiled kernels (compile, or load from numba's cache), timed on a
    small table so that every later call is steady state."""
    from idjourney.survival._robust_kernels import kernels

    wall0 = time.perf_counter()
    compiled = kernels()
    if compiled is None:
        return "numpy implementation (IDJOURNEY_NUMBA=0 or no numba)"
    small = make_table(2_000, 200, seed=2)
    km = KaplanMeier().fit_table(small, cluster_col="series_id")
    km.survival_estimate(365.0)
    _ = km.survival_
    rmst(km, 1825.0)
    cache = "cached on disk" if compiled.cached else "no writable cache: compiled in memory"
    return (
        f"compiled kernels: first use {time.perf_counter() - wall0:.2f} s wall (numba "
        f"compile, or load from its cache; {cache}), not in the times below"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 victims in 1e4 series")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--numpy", action="store_true", help="time the numpy implementation")
    args = parser.parse_args()
    if args.numpy:
        os.environ["IDJOURNEY_NUMBA"] = "0"
    n, n_series = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    engine = warm_up()
    table = make_table(n, n_series)
    horizon, tau = 365.0, 1825.0
    print(
        f"cluster-robust vs Greenwood: {n:,} victims in {n_series:,} series; best of "
        f"{args.repeat}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(f"  {engine}")

    def greenwood_point() -> float:
        return KaplanMeier().fit_table(table).survival_estimate(horizon).se

    def robust_point() -> float:
        return KaplanMeier().fit_table(table, cluster_col="series_id").survival_estimate(horizon).se

    codes = check_cluster(table["series_id"], len(table), "series_id")

    def prefactorized_point() -> float:
        km = KaplanMeier().fit_table(table, cluster_col=codes)
        return km.survival_estimate(horizon).se

    def lean_point() -> float:
        km = KaplanMeier().fit_table(table)
        totals = cluster_sums(km.influence_at(horizon), table["series_id"])
        return float(np.sqrt((totals**2).sum()))

    assert np.isclose(robust_point(), lean_point(), rtol=1e-8)
    assert np.isclose(robust_point(), prefactorized_point(), rtol=1e-12)
    g, r, pre, lean = best_times(
        [greenwood_point, robust_point, prefactorized_point, lean_point], args.repeat
    )
    print(f"(a) S({horizon:g}) and its SE at one horizon")
    line("fit_table(cluster_col='series_id') (the default)", g, r, "(target <= 2)")
    line("series factorized once (ClusterCodes)", g, pre)
    line("Greenwood fit + influence_at + cluster_sums", g, lean)

    kinds = {
        "series_id (the analysis table's categorical)": "series_id",
        "integer labels": "series_number",
        "Arrow strings (string[pyarrow])": "series_arrow",
        "object strings (e.g. a table read from CSV)": "series_text",
    }

    def greenwood_curve() -> pd.DataFrame:
        return KaplanMeier().fit_table(table).survival_

    def robust_curve(column: Any) -> Callable[[], pd.DataFrame]:
        return lambda: KaplanMeier().fit_table(table, cluster_col=column).survival_

    curves = [robust_curve(column) for column in kinds.values()] + [robust_curve(codes)]
    reference = curves[-1]()["std_err"].to_numpy()
    for curve in curves[:-1]:  # the same numbers whichever way the series are given
        assert np.array_equal(curve()["std_err"].to_numpy(), reference)
    g, *robust = best_times([greenwood_curve, *curves], args.repeat)
    m = KaplanMeier().fit_table(table).table_.time.size
    print(f"(b) the whole curve ({m} distinct times): SE and intervals at every time")
    names = [*kinds, "series factorized once (ClusterCodes)"]
    for label, timing in zip(names, robust, strict=True):
        line(f"cluster_col = {label}", g, timing, "(target <= 2)")
    factorize = best_times(
        [
            (lambda column=column: check_cluster(table[column], len(table), column))
            for column in kinds.values()
        ],
        args.repeat,
    )
    print("    labels -> cluster codes (check_cluster) against one Greenwood fit (fit + curve):")
    for label, timing in zip(kinds, factorize, strict=True):
        print(f"      {label:<40} {timing[0]:6.3f} s CPU = {timing[0] / g[0]:4.2f} Greenwood fits")

    g, r, rc = best_times(
        [
            lambda: rmst(KaplanMeier().fit_table(table), tau),
            lambda: rmst(KaplanMeier().fit_table(table, cluster_col="series_id"), tau),
            lambda: rmst(KaplanMeier().fit_table(table, cluster_col=codes), tau),
        ],
        args.repeat,
    )
    print(f"(c) RMST to {tau:g} days (fit + rmst)")
    line("fit_table(cluster_col='series_id') (the default)", g, r)
    line("series factorized once (ClusterCodes)", g, rc)
    km_g = KaplanMeier().fit_table(table)
    km_r = KaplanMeier().fit_table(table, cluster_col=codes)
    print(f"  load average at the end {os.getloadavg()[0]:.1f}")
    print(
        f"  S({horizon:g}) SE Greenwood {km_g.survival_estimate(horizon).se:.5f}, robust "
        f"{km_r.survival_estimate(horizon).se:.5f}; RMST SE Greenwood "
        f"{rmst(km_g, tau).se:.3f}, robust {rmst(km_r, tau).se:.3f}"
    )


if __name__ == "__main__":
    main()
