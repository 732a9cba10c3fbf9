"""Benchmark: 1,000 cluster-bootstrap Kaplan–Meier curves on 100,000 victims.

Target (issue 4): under 30 s on the project machine (2 cores). The vectorised
path (multinomial series counts -> case-weight matrix -> block-wise weighted KM)
is compared with the plain approach of refitting the engine's KM once per
replicate on the resampled weights.

Run:  .venv/bin/python benchmarks/bench_bootstrap.py [--n 100000] [--boot 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from idjourney.survival.bootstrap import KaplanMeierStatistic, cluster_bootstrap
from idjourney.survival.km import KaplanMeier


def make_table(n: int, n_series: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    series = rng.integers(0, n_series, n)
    frailty = np.exp(0.5 * rng.normal(size=n_series))[series]
    t = np.ceil(rng.exponential(900 / frailty))
    c = np.ceil(rng.uniform(100, 4000, n))
    entry = np.where(rng.random(n) < 0.2, np.floor(rng.uniform(0, 90, n)), 0.0)
    duration = np.maximum(np.minimum(t, c), entry + 1)
    return pd.DataFrame(
        {
            "duration": duration,
            "event": (t <= c).astype(int),
            "entry": entry,
            "series_id": series,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--series", type=int, default=12_000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--loop-sample", type=int, default=20)
    args = parser.parse_args()

    table = make_table(args.n, args.series)
    print(f"{args.n:,} victims in {table.series_id.nunique():,} series; {args.boot} replicates")

    for statistic, t in (("identified", 365.0), ("rmst", 1095.0)):
        stat = KaplanMeierStatistic(statistic, t)
        start = time.perf_counter()
        est = cluster_bootstrap(stat, table, "series_id", n_boot=args.boot, seed=1)
        elapsed = time.perf_counter() - start
        print(
            f"vectorised {stat.label:>18}: {elapsed:6.2f} s incl. BCa jackknife "
            f"({'OK' if elapsed < 30 else 'OVER'} vs 30 s target); "
            f"{est.estimate:.4g} [{est.lower:.4g}, {est.upper:.4g}]"
        )

    # baseline: one engine KM fit per replicate (weights), timed on a sample
    rng = np.random.default_rng(2)
    codes = pd.factorize(table.series_id)[0]
    k = codes.max() + 1
    start = time.perf_counter()
    for _ in range(args.loop_sample):
        counts = rng.multinomial(k, np.full(k, 1 / k))
        w = counts[codes].astype(float)
        keep = w > 0
        KaplanMeier().fit(
            table.duration[keep], table.event[keep], table.entry[keep], w[keep]
        ).survival_at(365.0)
    per_rep = (time.perf_counter() - start) / args.loop_sample
    loop_total = per_rep * args.boot
    start = time.perf_counter()
    cluster_bootstrap(
        KaplanMeierStatistic("identified", 365.0),
        table,
        "series_id",
        n_boot=args.boot,
        seed=1,
        method="percentile",
    )
    vec = time.perf_counter() - start
    print(
        f"per-replicate engine loop: {per_rep * 1000:.1f} ms/replicate -> {loop_total:.1f} s "
        f"for {args.boot}; vectorised (with jackknife) {vec:.2f} s; ratio {loop_total / vec:.1f}x"
    )


if __name__ == "__main__":
    main()
