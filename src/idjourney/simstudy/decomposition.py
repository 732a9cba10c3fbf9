r"""Driver-alone study of the stock decomposition (issue #15).

In each scenario of the stationary family (``synthetic/stationary*.toml``) one driver alone
changes from 1 January 2017 (more inflow, more jurisdictions, slower identification, a
slower production mode rising); the base changes nothing. Each replicate generates a world,
decomposes the stock's change from ``year_a`` to ``year_b``
(:func:`idjourney.indicator.decompose.decompose_change`, series bootstrap) and stores every
part with its interval. The summary gives, per scenario and part,

* the share of the change attributed to the part, :math:`\overline{E_k / \Delta}` (mean of the
  per-replicate shares, with its Monte Carlo SE :math:`s/\sqrt{R}`), and the ratio of means
  :math:`\sum_r E_{kr} / \sum_r \Delta_r`;
* how often the part's interval covers zero (with MCSE :math:`\sqrt{p(1-p)/R}`).

Run: ``nice -n 10 python -m idjourney.simstudy.decomposition --out out/decomposition``
(``--help`` for the options). Writes ``replicates.csv`` and ``summary.csv`` (atomically) and
prints the summary.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from idjourney.indicator.decompose import PARTS

__all__ = ["DRIVERS", "run_replicate", "run_study", "summarize"]

#: scenario -> the part its driver should be attributed to (None: nothing changes)
DRIVERS: dict[str, str | None] = {
    "stationary": None,
    "stationary-inflow": "inflow",
    "stationary-coverage": "coverage",
    "stationary-slower": "identification",
    "stationary-mode": "identification",
}


def run_replicate(
    scenario: str, rep: int, seed: int, n_victims: int, year_a: int, year_b: int, n_boot: int
) -> dict[str, Any]:
    """One world of ``scenario`` and its decomposition, as one flat row."""
    from idjourney.indicator.decompose import decompose_change
    from idjourney.linkage import analysis_table
    from idjourney.synthetic import generate, load_scenario

    world = generate(load_scenario(scenario), seed=seed, n_victims=n_victims)
    table = analysis_table(world.records)
    d = decompose_change(table, year_a, year_b, n_boot=n_boot, seed=seed)
    row: dict[str, Any] = {
        "scenario": scenario,
        "rep": rep,
        "seed": seed,
        "value_a": d.value_a,
        "value_b": d.value_b,
        "change": d.change,
        "n_boot_failed": d.n_boot_failed,
    }
    parts = d.parts.set_index("part")
    for name in [*PARTS, "total"]:
        for col in ("estimate", "lower", "upper"):
            row[f"{name}_{col}"] = float(parts.loc[name, col])
    row["sum_error"] = float(parts.loc[list(PARTS), "estimate"].sum() - d.change)
    return row


def _task(args: tuple[Any, ...]) -> dict[str, Any]:
    return run_replicate(*args)


def run_study(
    scenarios: list[str],
    n_rep: int,
    *,
    n_victims: int = 20_000,
    year_a: int = 2016,
    year_b: int = 2024,
    n_boot: int = 100,
    workers: int = 2,
    seed: int = 20261201,
    report: Any = print,
    checkpoint: Any = None,
) -> pd.DataFrame:
    """All replicates of all scenarios (seeds from ``SeedSequence(seed).spawn``).

    Replicates run in the order replicate 1 of every scenario, replicate 2 of every
    scenario, ...; ``checkpoint(frame)`` (if given) receives the rows so far every 100.
    """
    children = np.random.SeedSequence(seed).spawn(n_rep)
    seeds = [int(c.generate_state(1)[0]) for c in children]
    # common random numbers: replicate r uses the same seed in every scenario
    tasks = [
        (name, r, seeds[r], n_victims, year_a, year_b, n_boot)
        for r in range(n_rep)
        for name in scenarios
    ]
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()
    if workers <= 1:
        results = map(_task, tasks)
        for i, row in enumerate(results, 1):
            rows.append(row)
            _progress(report, i, len(tasks), start)
    else:
        # one BLAS thread per worker: on a shared machine threaded BLAS only contends
        for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(name, "1")
        context = multiprocessing.get_context("spawn")  # children read the variables
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            for i, row in enumerate(pool.map(_task, tasks, chunksize=4), 1):
                rows.append(row)
                _progress(report, i, len(tasks), start)
                if checkpoint is not None and i % 100 == 0:
                    checkpoint(pd.DataFrame(rows))
    return pd.DataFrame(rows)


def _progress(report: Any, done: int, total: int, start: float) -> None:
    if done % 20 == 0 or done == total:
        elapsed = time.perf_counter() - start
        report(
            f"{done}/{total} replicates, {elapsed:.0f} s ({elapsed / done:.2f} s each)", flush=True
        )


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and part: share of the change (mean ± MCSE, ratio of means), how often
    its interval covers 0 (± MCSE), and whether it is the scenario's driver."""
    rows = []
    for scenario, frame in results.groupby("scenario", sort=False):
        n = len(frame)
        change = frame["change"].to_numpy(float)
        driver = DRIVERS.get(str(scenario))
        for name in [*PARTS, "total"]:
            est = frame[f"{name}_estimate"].to_numpy(float)
            share = est / change
            lo = frame[f"{name}_lower"].to_numpy(float)
            hi = frame[f"{name}_upper"].to_numpy(float)
            covers = (lo <= 0) & (hi >= 0)
            p = float(covers.mean())
            rows.append(
                {
                    "scenario": scenario,
                    "part": name,
                    "driver": name == driver,
                    "n": n,
                    "mean_part": float(est.mean()),
                    "share_mean": float(np.mean(share)),
                    "share_mcse": float(np.std(share, ddof=1) / np.sqrt(n)) if n > 1 else np.nan,
                    "share_ratio_of_means": float(est.sum() / change.sum()),
                    "interval_covers_0": p,
                    "covers_0_mcse": float(np.sqrt(p * (1 - p) / n)),
                    "max_abs_sum_error": float(np.abs(frame["sum_error"]).max()),
                }
            )
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    """Command-line entry (``python -m idjourney.simstudy.decomposition``)."""
    from idjourney.io import write_table

    parser = argparse.ArgumentParser(
        prog="python -m idjourney.simstudy.decomposition", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, required=True, help="Output folder.")
    parser.add_argument("--n-rep", type=int, default=200)
    parser.add_argument("--n-victims", type=int, default=20_000)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--year-a", type=int, default=2016)
    parser.add_argument("--year-b", type=int, default=2024)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--scenarios", nargs="+", default=list(DRIVERS), choices=list(DRIVERS))
    args = parser.parse_args(argv)
    results = run_study(
        args.scenarios,
        args.n_rep,
        n_victims=args.n_victims,
        year_a=args.year_a,
        year_b=args.year_b,
        n_boot=args.n_boot,
        workers=args.workers,
        seed=args.seed,
        checkpoint=lambda frame: write_table(frame, args.out / "replicates-partial.csv"),
    )
    args.out.mkdir(parents=True, exist_ok=True)
    write_table(results, args.out / "replicates.csv")
    summary = summarize(results)
    write_table(summary, args.out / "summary.csv")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.round(4).to_string(index=False))


if __name__ == "__main__":
    main()
