"""Coverage of the held share's interval (target a, issue #14) on the MSE design's worlds.

Recomputes, for replicates 0..N-1 of one cell of ``synthetic/simstudy-mse.toml``, the world,
its exact linkage and the simulated clerical review exactly as ``idjourney.mse.simulation``
does, then ``share_identified_held(..., review_records=..., seed=rep)``; prints the bias, the
empirical SE against the mean bootstrap SE, and the coverage with its Monte Carlo SE. The
LCMCR estimators are not run (they do not affect target a), so a cell takes seconds per
replicate instead of minutes. Synthetic data only.

Usage::

    python scripts/held_share_coverage.py "dep=none|key=0.02|lists=global" 100 out/held.csv
"""

from __future__ import annotations

import argparse
import time
import tomllib

import numpy as np
import pandas as pd

from idjourney.mse.simulation import cells, replicate_world, review_rates
from idjourney.mse.targets import share_identified_held

DESIGN = "synthetic/simstudy-mse.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cell", help='a cell name, e.g. "dep=none|key=0.02|lists=global"')
    parser.add_argument("n_rep", type=int)
    parser.add_argument("out", help="CSV with one row per replicate")
    args = parser.parse_args()
    with open(DESIGN, "rb") as handle:
        design = tomllib.load(handle)
    cell = next(c for c in cells(design) if c.name == args.cell)
    records = int(design["clerical_review"]["records_per_list"])
    rows, start = [], time.monotonic()
    for rep in range(args.n_rep):
        seed, scenario, world, linked = replicate_world(cell, rep, design)
        truth = world.truth
        extract = pd.Timestamp(scenario.extract_date)
        identified = (truth["identification_recorded_on"] <= extract).to_numpy()
        held = truth[[f"in_{name}" for name in linked.histories.columns]].any(axis=1).to_numpy()
        rates = review_rates(world, records, np.random.default_rng(seed))
        est = share_identified_held(
            linked.table, linked.histories, key_error_rates=rates, review_records=records, seed=rep
        )
        rows.append(
            {"rep": rep, "truth": float(identified[held].mean()), "est": est.estimate,
             "se": est.se, "lower": est.lower, "upper": est.upper}
        )  # fmt: skip
        if rep % 10 == 0:
            print(f"{rep}/{args.n_rep} ({time.monotonic() - start:.0f} s)", flush=True)
    frame = pd.DataFrame(rows)
    frame.to_csv(args.out, index=False)
    error = frame["est"] - frame["truth"]
    covered = ((frame["lower"] <= frame["truth"]) & (frame["truth"] <= frame["upper"])).mean()
    n = len(frame)
    print(
        f"{args.cell}: n {n}, bias {error.mean():+.2e} "
        f"(MCSE {error.std(ddof=1) / np.sqrt(n):.1e}), "
        f"empirical SE {error.std(ddof=1):.2e}, mean bootstrap SE {frame['se'].mean():.2e}, "
        f"coverage {covered:.3f} ± {np.sqrt(covered * (1 - covered) / n):.3f}"
    )


if __name__ == "__main__":
    main()
