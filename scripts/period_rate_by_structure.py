"""Check the period rate's change interval within and across database structures (#11/#12).

The delay/closures study (``synthetic/simstudy-delay-closures.toml``) found the period rate's
2022-vs-2019 change covering 0.924 ± 0.012 under the longer reporting delay. This script asks
whether the shortfall comes from the database's structure (the jurisdictions, their regions
and connection dates), which a within-database standard error cannot see: it generates
``n_structures`` structures (``structure_seed``) and ``n_worlds`` worlds of victims on each,
and prints the within-structure SD of the estimated change against the mean model SE, the
between-structure SD of the mean estimate against what sampling alone gives, and the coverage
of the pooled mean truth with its Monte Carlo SE.

Usage::

    python scripts/period_rate_by_structure.py SCENARIO N_STRUCTURES N_WORLDS [--out CSV]

``SCENARIO`` is a scenario name of the delay/closures design (``longer-delay``, ``closures``).
Synthetic data only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from idjourney.indicator import make_definition
from idjourney.linkage import analysis_table
from idjourney.simstudy.design import load_design
from idjourney.simstudy.estimands import true_value
from idjourney.simstudy.runner import _log_ratio_se
from idjourney.synthetic import generate

DESIGN = "synthetic/simstudy-delay-closures.toml"
DEFINITION = "period-identification-rate"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario")
    parser.add_argument("n_structures", type=int)
    parser.add_argument("n_worlds", type=int)
    parser.add_argument("--n-victims", type=int, default=20000)
    parser.add_argument("--out", help="write one row per world to this CSV")
    args = parser.parse_args()
    scenario = load_design(DESIGN).scenario(args.scenario).scenario
    definition = make_definition(DEFINITION)
    rows, t0 = [], time.monotonic()
    for s in range(args.n_structures):
        for v in range(args.n_worlds):
            world = generate(scenario, 1000 * (s + 1) + v, args.n_victims, structure_seed=s + 1)
            prepared = definition.prepare(analysis_table(world.records, check=False))
            e22, u22 = definition.compute_with_influence(prepared, 2022)
            e19, u19 = definition.compute_with_influence(prepared, 2019)
            truth = [true_value(DEFINITION, world.truth, year) for year in (2022, 2019)]
            true = np.log(truth[0] / truth[1])
            est = np.log(e22.estimate / e19.estimate)
            rows.append((s, v, est, _log_ratio_se(e22, e19, u22, u19), true))
        print(f"structure {s + 1}/{args.n_structures} ({time.monotonic() - t0:.0f} s)", flush=True)
    df = pd.DataFrame(rows, columns=["structure", "world", "est", "se", "true"])
    if args.out:
        df.to_csv(args.out, index=False)
    g = df.groupby("structure")
    within = float(np.sqrt(g["est"].var().mean()))
    print(f"within-structure SD of the change {within:.4f}; mean model SE {df['se'].mean():.4f}")
    print(
        f"between-structure SD of the mean change {g['est'].mean().std():.4f}; "
        f"from sampling alone {within / np.sqrt(args.n_worlds):.4f}"
    )
    target = df["true"].mean()
    covered = (np.abs(df["est"] - target) <= 1.959964 * df["se"]).mean()
    mcse = np.sqrt(covered * (1 - covered) / len(df))
    print(f"coverage of the pooled mean truth {covered:.3f} ± {mcse:.3f} (n = {len(df)})")


if __name__ == "__main__":
    main()
