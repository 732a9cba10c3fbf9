"""Cost of the indicators' default variance (issue #11) against the Greenwood computation.

The indicators' curve (:mod:`idjourney.indicator.curve`: Aalen–Johansen with closures
competing, left truncation, cluster-robust SE by the grouped infinitesimal jackknife) on
1e6 victims in 1e5 series, against the Greenwood Kaplan–Meier of the same data
(``KaplanMeier().fit(...)``: the computation the indicators used before issue #11).

Run: ``.venv/bin/python benchmarks/bench_indicator_curve.py`` (``--quick``: 10x smaller;
``--repeat K``). Each variant is timed ``K`` times, the variants called in turn so machine
load hits them alike; printed: the best CPU time (``time.process_time``, less sensitive to
other jobs on a busy machine than wall time), the best wall time, and the ratio to Greenwood.

Targets (robust side / Greenwood side):

(a) ``S(365)`` and its SE: ``fit_curve`` + ``se_unidentified_at`` / KM fit +
    ``survival_estimate``;
(b) ``S(365)`` and ``RMST(730)`` with SEs: + ``influence_rmst`` / + ``rmst(km)``;
(c) the median and its interval (the median definition): ``median`` + ``median_interval``
    (a binary search, one pass over the rows per event time tested) / ``median_estimate``
    (Greenwood's interval from the whole band).

How the series arrive (robust side):

* ``prepared (categorical)``: the prepared table's ``_cluster`` column
  (``Definition.prepare`` factorizes the series labels once per table; every cell — year,
  group — of a definition then reads the codes in O(n)). This is the indicators' and the
  typical journey's path, so it is the one the 2x target is measured on. The one-off
  factorization is printed separately, and charged in full to one pass over the table's
  rows (every cohort once: the cells of a table add up to its rows) and to two passes
  (cohorts and the whole-table journey).
* ``string labels``: ``series_id`` strings hashed in this very fit (a single cell computed
  from raw string data: the worst case).
* ``integer labels``: integer series numbers (what this benchmark passed before).

The robust side runs compiled (numba) kernels (:mod:`idjourney.survival._robust_kernels`);
their first use in a process (compile, or load from numba's cache) is timed first, on a
small input, and printed separately: every timed call is steady state.  ``--numpy`` times
the numpy implementation instead (``IDJOURNEY_NUMBA=0``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from idjourney.indicator.base import _factorized_once
from idjourney.indicator.curve import fit_curve
from idjourney.survival import KaplanMeier, rmst

HORIZON, TAU = 365.0, 730.0


def best_times(functions: dict[str, Callable[[], Any]], repeat: int) -> dict[str, tuple]:
    """Best (CPU, wall) seconds of each function, calling them in turn."""
    best = {name: (np.inf, np.inf) for name in functions}
    for _ in range(repeat):
        for name, function in functions.items():
            cpu0, wall0 = time.process_time(), time.perf_counter()
            function()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
    return best


def warm_up() -> str:
    """First use of the compiled kernels (compile, or load from numba's cache), timed on a
    small input so that every later call is steady state."""
    from idjourney.survival._robust_kernels import kernels

    wall0 = time.perf_counter()
    compiled = kernels()
    if compiled is None:
        return "numpy implementation (IDJOURNEY_NUMBA=0 or no numba)"
    rng = np.random.default_rng(2)
    entry = np.zeros(2_000)
    exit_ = np.ceil(rng.exponential(700, 2_000))
    status = rng.choice([0, 1, 2], 2_000, p=[0.5, 0.45, 0.05])
    labels = pd.Series(rng.integers(0, 200, 2_000).astype(str), name="series_id")
    curve = fit_curve(entry, exit_, status, None, _factorized_once(labels))
    curve.se_unidentified_at(HORIZON)
    curve.influence_rmst(TAU)
    curve.median_interval(0.95)
    cache = "cached on disk" if compiled.cached else "no writable cache: compiled in memory"
    return (
        f"compiled kernels: first use {time.perf_counter() - wall0:.2f} s wall (numba "
        f"compile, or load from its cache; {cache}), not in the times below"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1e5 victims in 1e4 series")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--numpy", action="store_true", help="time the numpy implementation")
    args = parser.parse_args()
    if args.numpy:
        os.environ["IDJOURNEY_NUMBA"] = "0"
    n, n_series = (100_000, 10_000) if args.quick else (1_000_000, 100_000)
    engine = warm_up()
    rng = np.random.default_rng(1)
    series = rng.integers(0, n_series, n)
    entry = np.where(rng.random(n) < 0.2, rng.integers(0, 400, n), 0).astype(float)
    exit_ = entry + np.ceil(rng.exponential(700, n))
    status = rng.choice([0, 1, 2], n, p=[0.5, 0.45, 0.05])
    event = (status == 1).astype(int)
    labels = pd.Series(np.char.add("SYN-S", series.astype(str)).astype(object), name="series_id")
    prepared = _factorized_once(labels)  # what Definition.prepare stores as _cluster

    def greenwood_point() -> None:
        KaplanMeier().fit(exit_, event, entry=entry).survival_estimate(HORIZON)

    def greenwood_both() -> None:
        km = KaplanMeier().fit(exit_, event, entry=entry)
        km.survival_estimate(HORIZON)
        rmst(km, TAU)

    def greenwood_median() -> None:
        KaplanMeier().fit(exit_, event, entry=entry).median_estimate()

    def robust(cluster: Any, target: str) -> Callable[[], None]:
        def run() -> None:
            curve = fit_curve(entry, exit_, status, None, cluster)
            if target == "c":
                curve.median()
                curve.median_interval(0.95)
                return
            curve.se_unidentified_at(HORIZON)
            if target == "b":
                curve.influence_rmst(TAU)

        return run

    check = fit_curve(entry, exit_, status, None, labels)
    same = fit_curve(entry, exit_, status, None, prepared)
    assert check.se_unidentified_at(HORIZON) == same.se_unidentified_at(HORIZON)  # bit-identical

    targets = ("a", "b", "c")
    functions: dict[str, Callable[[], Any]] = {
        "greenwood (a)": greenwood_point,
        "greenwood (b)": greenwood_both,
        "greenwood (c)": greenwood_median,
    }
    for kind, cluster in (("prepared", prepared), ("string", labels), ("integer", series)):
        functions.update({f"{kind} ({t})": robust(cluster, t) for t in targets})
    functions["factorize once"] = lambda: _factorized_once(labels)
    best = best_times(functions, args.repeat)
    load = os.getloadavg()[0]
    print(
        f"indicator curve (AJ + cluster-robust SE) vs Greenwood KM: {n:,} victims in "
        f"{n_series:,} series; best of {args.repeat}; load average {load:.1f} on "
        f"{os.cpu_count()} cores"
    )
    print(f"  {engine}")
    titles = (f"S({HORIZON:g}) and SE", f"+ RMST({TAU:g}) and SE", "median and its interval")
    for target, title in zip(targets, titles, strict=True):
        g_cpu, g_wall = best[f"greenwood ({target})"]
        print(f"({target}) {title}: Greenwood CPU {g_cpu:.3f} s, wall {g_wall:.3f} s")
        for kind, note in (
            ("prepared", "(target <= 2)"),
            ("string", ""),
            ("integer", ""),
        ):
            cpu, wall = best[f"{kind} ({target})"]
            print(
                f"    {kind + ' labels' if kind != 'prepared' else 'prepared (categorical)':<24}"
                f" CPU {cpu:.3f} s  ratio {cpu / g_cpu:5.2f}   wall {wall:.3f} s  ratio "
                f"{wall / g_wall:5.2f} {note}"
            )
        f_cpu = best["factorize once"][0]
        p_cpu = best[f"prepared ({target})"][0]
        print(
            f"    + the one factorization per prepared table (CPU {f_cpu:.3f} s), charged in "
            f"full to rows fitted once: ratio {(p_cpu + f_cpu) / g_cpu:5.2f}; to rows fitted "
            f"twice (cohorts + journey): {(2 * p_cpu + f_cpu) / (2 * g_cpu):5.2f}"
        )


if __name__ == "__main__":
    main()
