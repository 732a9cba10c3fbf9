"""Speed of the MSE denominator (SYNTHETIC capture histories).

1. LCMCR (latent-class Gibbs sampler): 4 lists, 40,000 victims, 10,000 iterations, one
   chain on one core (target < 10 s); and the same 10,000 iterations with 2 and 4 chains
   run side by side.
2. Stratified stepwise log-linear MSE: 4 lists × 5 regions (target < 5 s).
3. ``--convergence``: R-hat, bulk ESS and CPU time of N for the old report setting
   (2 chains × 4,000 after 1,000) and the new one (8 chains × 40,000 after 5,000, thin 10)
   on the same strongly heterogeneous 4-list table, three seeds each (about a minute of CPU).

CPU time (``time.process_time``) is reported beside wall time, because the machine may be
shared; numpy is single-threaded here (no BLAS-heavy calls). Ratios below 1 meet the target.

Usage: .venv/bin/python benchmarks/bench_mse.py [--convergence]
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from idjourney import mse
from idjourney.mse.lcmcr import LCMCRSettings
from idjourney.mse.stratified import estimate_stratified

LISTS = ["icse", "europol", "caid", "ncmec"]


def heterogeneous(rng: np.random.Generator, n: int, region: str | None = None) -> pd.DataFrame:
    logit = np.log(np.array([0.7, 0.5, 0.3, 0.4]) / np.array([0.3, 0.5, 0.7, 0.6]))
    visible = rng.normal(0.0, 1.0, n)[:, None]
    caught = rng.random((n, 4)) < 1 / (1 + np.exp(-(logit[None, :] + visible)))
    frame = pd.DataFrame(caught[caught.any(axis=1)].astype(int), columns=LISTS)
    if region is not None:
        frame["region"] = region
    return frame


def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    rng = np.random.default_rng(2016)
    frame = heterogeneous(rng, 40_000)
    print(f"LCMCR: 4 lists, 40,000 victims ({len(frame):,} observed), 10,000 iterations")
    for chains in (1, 2, 4):
        settings = LCMCRSettings(n_iter=10_000, burn_in=0, thin=1, chains=chains)
        result, wall, cpu = timed(
            lambda s=settings: mse.estimate(frame, model="lcmcr", lcmcr=s, seed=1)
        )
        print(
            f"  {chains} chain(s): wall {wall:5.2f} s, cpu {cpu:5.2f} s, target 10 s, "
            f"ratio {cpu / 10:.2f}; median {result.total:,.0f}"
        )
    regions = pd.concat(
        [heterogeneous(rng, 8_000, r) for r in ("africa", "americas", "asia", "europe", "oceania")],
        ignore_index=True,
    )
    result, wall, cpu = timed(lambda: estimate_stratified(regions, "region", selection="stepwise"))
    print(
        f"Stratified stepwise, 4 lists x 5 regions ({len(regions):,} observed): wall {wall:5.2f} s,"
        f" cpu {cpu:5.2f} s, target 5 s, ratio {cpu / 5:.2f}; total {result.total:,.0f}"
    )


def convergence() -> None:
    from idjourney.mse.lcmcr import sample

    rng = np.random.default_rng(14)
    table = mse.capture_table(heterogeneous(rng, 10_000))
    print(f"LCMCR convergence of N: 4 lists, 10,000 victims ({table.observed:,} observed)")
    for label, settings in (
        ("2 chains x 4,000 + 1,000", LCMCRSettings(n_iter=4_000, burn_in=1_000, thin=4, chains=2)),
        ("8 chains x 40,000 + 5,000", LCMCRSettings(n_iter=40_000, burn_in=5_000, chains=8)),
    ):
        for seed in range(3):
            post, _wall, cpu = timed(lambda s=settings, k=seed: sample(table, s, seed=k))
            print(
                f"  {label}, seed {seed}: R-hat {post.rhat:.3f}, bulk ESS {post.ess_bulk:6.0f}, "
                f"tail ESS {post.ess_tail:6.0f}, cpu {cpu:5.1f} s; median {post.median:,.0f}"
            )


if __name__ == "__main__":
    import sys

    convergence() if "--convergence" in sys.argv else main()
